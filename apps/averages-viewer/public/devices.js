// The per-device panel: a searchable picker over /api/devices (fleets have thousands: the server
// answers a page, never the fleet), the chosen device's windows at a chosen resolution with its
// min–max band beside the fleet's mean, followed live on the device's own event stream, and a table
// of recently seen devices.

const PICKER_LIMIT = 50;
const TABLE_LIMIT = 25;
const HISTORY_LIMIT = 1000;
const TABLE_EVERY_MS = 10_000;
const SEARCH_DELAY_MS = 200;

const search = document.getElementById('device-search');
const select = document.getElementById('device-select');
const resolutionSelect = document.getElementById('device-resolution');
const matchedEl = document.getElementById('device-matched');
const chartEl = document.getElementById('device-chart');
const emptyEl = document.getElementById('device-empty');
const devicesTable = document.getElementById('devices');

/** The chosen device's windows and the fleet's, by window start (ms). */
let deviceWindows = new Map();
let fleetMeans = new Map();
let chart;
let source;
/** Bumped on every choice, so an answer for an earlier choice is dropped. */
let generation = 0;

const pad = (n) => String(n).padStart(2, '0');
const timeText = (ms) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
};
const fahrenheit = (v) =>
  v === undefined || v === null ? '–' : `${(Math.abs(v) < 0.005 ? 0 : v).toFixed(2)}°F`;

async function getJson(url) {
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? res.statusText);
  return body;
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

/** Fills the picker with the devices matching the search; keeps the chosen one when it still matches. */
async function refreshPicker() {
  const q = search.value.trim();
  const query = new URLSearchParams({ limit: String(PICKER_LIMIT) });
  if (q) query.set('q', q);
  let body;
  try {
    body = await getJson(`/api/devices?${query}`);
  } catch (err) {
    matchedEl.textContent = err.message;
    return;
  }
  const chosen = select.value;
  select.replaceChildren(
    ...body.devices.map((d) => {
      const option = document.createElement('option');
      option.value = d.device;
      option.textContent = d.device;
      return option;
    }),
  );
  const shown = body.devices.length;
  matchedEl.textContent =
    body.matched > shown ? `${shown} of ${body.matched} devices` : `${shown} device${shown === 1 ? '' : 's'}`;
  if (body.devices.some((d) => d.device === chosen)) select.value = chosen;
  else if (shown > 0) choose(body.devices[0].device);
}

/** The table of the devices seen most recently, with their latest hour; a click charts one. */
async function refreshTable() {
  let body;
  try {
    body = await getJson(`/api/devices?limit=${TABLE_LIMIT}`);
  } catch {
    return;
  }
  emptyEl.hidden = body.matched > 0;
  devicesTable.tBodies[0].replaceChildren(
    ...body.devices.map((d) => {
      const tr = document.createElement('tr');
      tr.dataset.device = d.device;
      tr.dataset.lastTs = String(d.last_ts);
      if (d.device === chartEl.dataset.device) tr.className = 'chosen';
      const h = d.latest_hour;
      tr.append(cell(d.device), cell(timeText(d.last_ts)), cell(h ? timeText(h.start) : '–'));
      tr.append(
        cell(fahrenheit(h?.mean)),
        cell(fahrenheit(h?.stddev)),
        cell(fahrenheit(h?.min)),
        cell(fahrenheit(h?.max)),
      );
      tr.addEventListener('click', () => choose(d.device));
      return tr;
    }),
  );
  if (!select.value && body.devices.length > 0) await refreshPicker();
}

function chartData() {
  const starts = [...new Set([...deviceWindows.keys(), ...fleetMeans.keys()])].sort((a, b) => a - b);
  return [
    starts.map((s) => s / 1000),
    starts.map((s) => deviceWindows.get(s)?.mean ?? null),
    starts.map((s) => deviceWindows.get(s)?.min ?? null),
    starts.map((s) => deviceWindows.get(s)?.max ?? null),
    starts.map((s) => fleetMeans.get(s) ?? null),
  ];
}

function renderChart() {
  const data = chartData();
  if (!chart) {
    chart = new uPlot(
      {
        width: chartEl.clientWidth || 800,
        height: 280,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { x: { time: true } },
        series: [
          { label: 'window (UTC)', value: (_, ts) => (ts === null ? '–' : timeText(ts * 1000)) },
          {
            label: 'device mean',
            stroke: '#d9480f',
            width: 2,
            value: (_, v) => fahrenheit(v),
            points: { size: 5 },
          },
          { label: 'device min', stroke: '#1c7ed6', width: 1, dash: [4, 4], value: (_, v) => fahrenheit(v) },
          { label: 'device max', stroke: '#e03131', width: 1, dash: [4, 4], value: (_, v) => fahrenheit(v) },
          { label: 'fleet mean', stroke: '#2b8a3e', width: 2, value: (_, v) => fahrenheit(v) },
        ],
        bands: [{ series: [3, 2], fill: 'rgba(250, 176, 5, 0.2)' }],
        axes: [{}, { label: '°F', values: (_, ticks) => ticks.map((t) => `${t}°`) }],
      },
      data,
      chartEl,
    );
  } else chart.setData(data);
  chartEl.dataset.points = String(deviceWindows.size);
  chartEl.dataset.fleetPoints = String(fleetMeans.size);
  const starts = [...deviceWindows.keys()];
  chartEl.dataset.lastStart = starts.length ? String(Math.max(...starts)) : '';
}

/** Charts a device at the chosen resolution: its history, the fleet's over the same span, then live. */
async function choose(device) {
  const resolution = resolutionSelect.value;
  const mine = ++generation;
  source?.close();
  source = undefined;
  if (select.value !== device) {
    if (![...select.options].some((o) => o.value === device)) select.add(new Option(device, device));
    select.value = device;
  }
  for (const tr of devicesTable.tBodies[0].rows) tr.classList.toggle('chosen', tr.dataset.device === device);
  let answer;
  let fleet;
  try {
    answer = await getJson(
      `/api/devices/${encodeURIComponent(device)}/averages?resolution=${resolution}&limit=${HISTORY_LIMIT}`,
    );
    const from = answer.averages.length ? answer.averages[0].start : undefined;
    fleet = await getJson(
      `/api/averages?resolution=${resolution}&limit=${HISTORY_LIMIT}${from === undefined ? '' : `&from=${from}`}`,
    );
  } catch (err) {
    matchedEl.textContent = err.message;
    return;
  }
  if (mine !== generation) return;
  deviceWindows = new Map(answer.averages.map((w) => [w.start, w]));
  fleetMeans = new Map(fleet.averages.map((a) => [a.start ?? a.hourStart, a.average_temp_f]));
  chartEl.dataset.device = device;
  chartEl.dataset.resolution = resolution;
  renderChart();
  const last = answer.averages.at(-1);
  const after = last ? `${last.start}-0` : '0-0';
  source = new EventSource(
    `/api/devices/${encodeURIComponent(device)}/stream?resolution=${resolution}&after=${after}`,
  );
  source.addEventListener('device-window', (event) => {
    if (mine !== generation) return;
    const w = JSON.parse(event.data);
    deviceWindows.set(w.start, w);
    renderChart();
  });
}

let searchTimer;
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(refreshPicker, SEARCH_DELAY_MS);
});
select.addEventListener('change', () => choose(select.value));
resolutionSelect.addEventListener('change', () => {
  if (select.value) choose(select.value);
});
window.addEventListener('resize', () => chart?.setSize({ width: chartEl.clientWidth, height: 280 }));

await refreshTable();
setInterval(refreshTable, TABLE_EVERY_MS);
