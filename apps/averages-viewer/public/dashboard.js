// The dashboard: loads the recent averages, then follows /api/stream (server-sent events) for new
// ones, and polls /api/status for pipeline health. Everything it needs is served by the viewer itself.

const HISTORY_LIMIT = 1000;
const STATUS_EVERY_MS = 2000;
const RETRY_MS = 2000;

const chartEl = document.getElementById('chart');
const emptyEl = document.getElementById('chart-empty');
const table = document.getElementById('recent');
const banner = document.getElementById('banner');
const live = document.getElementById('live');
const health = document.getElementById('health');
const partitionsTable = document.getElementById('partitions');
const memoryTable = document.getElementById('redis-memory');
const healthNote = document.getElementById('health-note');

/** Averages by hour start (ms); an hour written again replaces its point. */
const averages = new Map();
let lastId;
let chart;
const problems = { viewer: null, redis: null };

const fahrenheit = (v) =>
  v === undefined || v === null ? '–' : `${(Math.abs(v) < 0.005 ? 0 : v).toFixed(2)}°F`;
const pad = (n) => String(n).padStart(2, '0');
const hourText = (ms) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:00`;
};
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function addAverage(average) {
  averages.set(average.hourStart, average);
  if (lastId === undefined || compareIds(average.id, lastId) > 0) lastId = average.id;
}

function compareIds(a, b) {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}

function sorted() {
  return [...averages.values()].sort((a, b) => a.hourStart - b.hourStart);
}

function chartData(rows) {
  return [
    rows.map((a) => a.hourStart / 1000),
    rows.map((a) => a.average_temp_f),
    rows.map((a) => a.min_temp_f ?? null),
    rows.map((a) => a.max_temp_f ?? null),
  ];
}

function createChart(data) {
  const options = {
    width: chartEl.clientWidth || 800,
    height: 320,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: { x: { time: true } },
    series: [
      { label: 'hour (UTC)', value: (_, ts) => (ts === null ? '–' : hourText(ts * 1000)) },
      { label: 'average', stroke: '#d9480f', width: 2, value: (_, v) => fahrenheit(v), points: { size: 5 } },
      { label: 'min', stroke: '#1c7ed6', width: 1, dash: [4, 4], value: (_, v) => fahrenheit(v) },
      { label: 'max', stroke: '#e03131', width: 1, dash: [4, 4], value: (_, v) => fahrenheit(v) },
    ],
    // The min–max band: filled between the max series (3) and the min series (2).
    bands: [{ series: [3, 2], fill: 'rgba(250, 176, 5, 0.2)' }],
    axes: [{}, { label: '°F', values: (_, ticks) => ticks.map((t) => `${t}°`) }],
  };
  return new uPlot(options, data, chartEl);
}

function renderChart() {
  const rows = sorted();
  const data = chartData(rows);
  if (!chart) chart = createChart(data);
  else chart.setData(data);
  // The averages the chart itself holds, for people and for the browser test: a stale chart shows here.
  chartEl.dataset.points = String(chart.data[1].filter((v) => v !== null && v !== undefined).length);
  chartEl.dataset.lastHour = rows.length ? String(rows[rows.length - 1].hourStart) : '';
  emptyEl.hidden = rows.length > 0;
}

function renderTable(freshId) {
  const limit = Number(table.dataset.limit);
  const body = table.tBodies[0];
  body.replaceChildren(
    ...sorted()
      .slice(-limit)
      .reverse()
      .map((a) => {
        const tr = document.createElement('tr');
        tr.dataset.id = a.id;
        tr.dataset.hourStart = String(a.hourStart);
        if (a.id === freshId) tr.className = 'fresh';
        for (const text of [
          hourText(a.hourStart),
          fahrenheit(a.average_temp_f),
          fahrenheit(a.min_temp_f),
          fahrenheit(a.max_temp_f),
          String(a.num_observations),
          a.devices === undefined ? '–' : String(a.devices),
        ]) {
          const td = document.createElement('td');
          td.textContent = text;
          tr.append(td);
        }
        return tr;
      }),
  );
}

function render(freshId) {
  renderChart();
  renderTable(freshId);
}

function showProblems() {
  const text = problems.viewer ?? problems.redis;
  banner.hidden = !text;
  banner.textContent = text ?? '';
  live.dataset.state = text ? 'down' : 'live';
  live.textContent = text ? 'reconnecting…' : 'live';
}

function setRedisHealth(redis) {
  problems.redis = redis.up
    ? null
    : `Redis unavailable (${redis.error}) since ${new Date(redis.since).toISOString().slice(11, 19)} UTC — reconnecting automatically; figures may be stale.`;
  showProblems();
}

function setViewerReachable(reachable) {
  problems.viewer = reachable ? null : 'Lost the connection to the viewer — reconnecting automatically…';
  showProblems();
}

async function loadHistory() {
  for (;;) {
    try {
      const res = await fetch(`/api/averages?limit=${HISTORY_LIMIT}`);
      const body = await res.json();
      if (!res.ok) throw new Error(body.error ?? res.statusText);
      for (const average of body.averages) addAverage(average);
      render();
      return;
    } catch (err) {
      healthNote.textContent = `Could not load the averages (${err.message}); retrying.`;
      await sleep(RETRY_MS);
    }
  }
}

function followStream() {
  // EventSource reconnects by itself and sends Last-Event-ID; `after` covers the first connection,
  // so an average written between the history load and the stream opening is not lost.
  const source = new EventSource(`/api/stream?after=${encodeURIComponent(lastId ?? '0-0')}`);
  source.addEventListener('open', () => setViewerReachable(true));
  source.addEventListener('error', () => {
    setViewerReachable(false);
    // EventSource gives up for good on an answer that is not an event stream (e.g. a proxy's 502).
    if (source.readyState === EventSource.CLOSED) setTimeout(followStream, RETRY_MS);
  });
  source.addEventListener('health', (event) => setRedisHealth(JSON.parse(event.data)));
  source.addEventListener('average', (event) => {
    const average = JSON.parse(event.data);
    addAverage(average);
    render(average.id);
  });
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

/** One row per Redis master; a row that can lose readings (evicting policy or evictions) is marked. */
function renderMemory(memory) {
  const body = memoryTable.tBodies[0];
  body.replaceChildren();
  for (const m of memory) {
    const tr = body.insertRow();
    tr.dataset.node = m.node;
    tr.dataset.used = String(m.usedBytes);
    tr.dataset.max = String(m.maxBytes);
    tr.dataset.policy = m.policy;
    tr.dataset.evicted = String(m.evictedKeys);
    tr.classList.toggle('at-risk', m.policy !== 'noeviction' || m.evictedKeys > 0);
    const share = m.maxBytes > 0 ? ` (${Math.round((100 * m.usedBytes) / m.maxBytes)}%)` : '';
    tr.append(cell(m.node), cell(mib(m.usedBytes) + share));
    tr.append(
      cell(m.maxBytes > 0 ? mib(m.maxBytes) : 'no limit'),
      cell(m.policy),
      cell(String(m.evictedKeys)),
    );
  }
}

function renderHealth(status) {
  setRedisHealth(status.redis);
  health.querySelector('[data-figure="malformedAverages"]').textContent = String(
    status.viewer.malformedAverages,
  );
  const pipeline = status.pipeline;
  if (!pipeline) {
    healthNote.textContent = 'Pipeline figures unavailable while Redis is down.';
    return;
  }
  for (const name of ['averages', 'deadLetters', 'late', 'alerts']) {
    health.querySelector(`[data-figure="${name}"]`).textContent = String(pipeline[name]);
  }
  renderMemory(pipeline.memory);
  for (const body of [...partitionsTable.tBodies]) body.remove();
  for (const partition of pipeline.partitions) {
    const body = partitionsTable.createTBody();
    body.dataset.partition = partition.key;
    body.dataset.length = String(partition.length);
    const groups = partition.groups.length ? partition.groups : [null];
    groups.forEach((group, i) => {
      const tr = body.insertRow();
      tr.append(cell(i === 0 ? partition.key : ''), cell(i === 0 ? String(partition.length) : ''));
      if (!group) {
        tr.append(cell('no groups'), cell('–'), cell('–'), cell('–'));
        return;
      }
      tr.dataset.group = group.name;
      tr.dataset.lag = group.lag === null ? 'null' : String(group.lag);
      tr.dataset.pending = String(group.pending);
      tr.dataset.consumers = String(group.consumers);
      // Redis cannot tell the lag after deletions from the stream: say so rather than guess.
      tr.append(cell(group.name), cell(group.lag === null ? 'unknown' : String(group.lag)));
      tr.append(cell(String(group.pending)), cell(String(group.consumers)));
    });
  }
  const malformed = status.viewer.recentMalformed;
  healthNote.textContent = pipeline.partitions.length
    ? ''
    : 'No live partitions: the producer has not written readings (or they expired).';
  if (malformed.length)
    healthNote.textContent += ` Last malformed average: ${malformed.at(-1).id} (${malformed.at(-1).reason}).`;
  health.dataset.updated = String(status.at);
}

async function pollStatus() {
  for (;;) {
    try {
      const res = await fetch('/api/status');
      renderHealth(await res.json());
      setViewerReachable(true);
    } catch {
      setViewerReachable(false);
    }
    await sleep(STATUS_EVERY_MS);
  }
}

window.addEventListener('resize', () => chart?.setSize({ width: chartEl.clientWidth, height: 320 }));

pollStatus();
await loadHistory();
followStream();
