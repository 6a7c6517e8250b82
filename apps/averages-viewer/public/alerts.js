// The alerts panel: loads /api/alerts (the alerts firing now and the newest transitions), then follows
// /api/alerts/stream (server-sent events) from the newest transition it got. A `firing` transition
// adds its (rule, device) to the active list, a `resolved` one removes it; applying one twice changes
// nothing, so a transition that reaches the page by both the answer and the stream is harmless.

const RECENT_LIMIT = 20;
const RETRY_MS = 2000;

const panel = document.getElementById('alerts-panel');
const activeTable = document.getElementById('active-alerts');
const transitionsTable = document.getElementById('alert-transitions');
const emptyEl = document.getElementById('alerts-empty');
const note = document.getElementById('alerts-note');

/** Alerts firing now by `rule \0 device`. */
const active = new Map();
/** Transitions, newest first. */
let recent = [];
let lastId;

const pad = (n) => String(n).padStart(2, '0');
const timeText = (ms) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};
const valueText = (value) => (value === '' ? 'no data' : value);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const keyOf = (alert) => `${alert.rule}\u0000${alert.device}`;

function compareIds(a, b) {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}

function row(cells, data) {
  const tr = document.createElement('tr');
  Object.assign(tr.dataset, data);
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

function render() {
  const alerts = [...active.values()].sort(
    (a, b) => a.since - b.since || a.rule.localeCompare(b.rule) || a.device.localeCompare(b.device),
  );
  activeTable.tBodies[0].replaceChildren(
    ...alerts.map((a) =>
      row([a.rule, a.device, timeText(a.since), valueText(a.value)], { rule: a.rule, device: a.device }),
    ),
  );
  transitionsTable.tBodies[0].replaceChildren(
    ...recent.map((t) =>
      row([timeText(t.at), t.rule, t.device, t.state, timeText(t.since), valueText(t.value)], {
        id: t.id,
        state: t.state,
      }),
    ),
  );
  emptyEl.hidden = alerts.length > 0;
  // For people and for the browser test: what the panel holds.
  panel.dataset.active = String(alerts.length);
  panel.dataset.recent = String(recent.length);
}

function apply(transition) {
  if (transition.state === 'firing') {
    const { rule, device, since, value } = transition;
    active.set(keyOf(transition), { rule, device, since, value });
  } else {
    active.delete(keyOf(transition));
  }
  if (!recent.some((t) => t.id === transition.id)) {
    recent = [transition, ...recent].sort((a, b) => compareIds(b.id, a.id)).slice(0, RECENT_LIMIT);
  }
  if (lastId === undefined || compareIds(transition.id, lastId) > 0) lastId = transition.id;
}

async function load() {
  for (;;) {
    try {
      const res = await fetch('/api/alerts');
      const body = await res.json();
      if (!res.ok) throw new Error(body.error ?? res.statusText);
      for (const alert of body.active) active.set(keyOf(alert), alert);
      recent = body.recent;
      lastId = recent[0]?.id;
      note.textContent = '';
      render();
      return;
    } catch (err) {
      note.textContent = `Could not load the alerts (${err.message}); retrying.`;
      await sleep(RETRY_MS);
    }
  }
}

function follow() {
  // `after` covers the first connection (a transition written since the answer); EventSource sends
  // Last-Event-ID on its own reconnects.
  const source = new EventSource(`/api/alerts/stream?after=${encodeURIComponent(lastId ?? '0-0')}`);
  source.addEventListener('error', () => {
    // EventSource gives up for good on an answer that is not an event stream (e.g. a proxy's 502).
    if (source.readyState === EventSource.CLOSED) setTimeout(follow, RETRY_MS);
  });
  source.addEventListener('alert', (event) => {
    apply(JSON.parse(event.data));
    render();
  });
}

await load();
follow();
