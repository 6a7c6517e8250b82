import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AppName, type AppProcess, startApp } from '@pipe/fixtures';
import { freePort, RedisServer, randomPrefix, waitFor } from '@pipe/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertBlocks, exportedNames, type Selector, selectorsOf, valuesOf } from './promql-names.js';

/**
 * deploy/: the Prometheus rules, their unit tests and scrape config (checked by Debian's promtool), and
 * the Grafana dashboard, whose every queried metric must be one the five services export when run.
 */
const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const RULES = join(DEPLOY, 'prometheus/rules.yml');
const RULES_TEST = join(DEPLOY, 'prometheus/rules.test.yml');
const CONFIG = join(DEPLOY, 'prometheus/prometheus.yml');
const DASHBOARD = join(DEPLOY, 'grafana/pipe.json');

/** The scrape job of each service (prometheus.yml must name exactly these). */
const JOBS: Record<string, AppName> = {
  'pipe-producer': 'producer',
  'pipe-aggregator': 'aggregator',
  'pipe-reaper': 'reaper',
  'pipe-averages-viewer': 'averages-viewer',
  'pipe-alerter': 'alerter',
};
/** The demo's rules, as compose.yaml mounts them into the alerter's image. */
const ALERTER_RULES = fileURLToPath(new URL('../../../apps/alerter/rules.example.yaml', import.meta.url));
/** Grafana's reference to the dashboard's datasource variable (a Grafana variable, not a template string). */
const DATASOURCE = '$' + '{datasource}';
/** Series Prometheus makes itself for every target rather than scraping them. */
const SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

function promtool(...args: string[]) {
  const run = spawnSync('promtool', args, { encoding: 'utf8', timeout: 30_000 });
  if (run.error)
    throw new Error(`promtool ${args.join(' ')}: ${run.error.message} (apt-get install prometheus)`);
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
}

let rules: string;
let dashboard: Dashboard;

beforeAll(async () => {
  rules = await readFile(RULES, 'utf8');
  dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard;
});

const panelsOf = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]);
const dashboardExprs = () =>
  panelsOf(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })));
const ruleExprs = () =>
  alertBlocks(rules).map((b) => ({ where: b.name, expr: valuesOf(b.text, 'expr')[0]! }));

describe('the Prometheus files', () => {
  it('pass promtool check rules, with every alert counted', () => {
    const { code, output } = promtool('check', 'rules', RULES);
    expect(code, output).toBe(0);
    const alerts = alertBlocks(rules);
    expect(alerts.length).toBeGreaterThanOrEqual(20);
    expect(output).toContain(`SUCCESS: ${alerts.length} rules found`);
    // This test reads the file without a YAML library: it must see an expr in each rule promtool saw.
    expect(valuesOf(rules, 'expr')).toHaveLength(alerts.length);
  });

  it('pass their unit tests (promtool test rules), which test every alert firing and quiet', async () => {
    const { code, output } = promtool('test', 'rules', RULES_TEST);
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS');
    const tests = await readFile(RULES_TEST, 'utf8');
    const cases = tests.split(/^(?=\s*- eval_time:)/m).slice(1);
    for (const { name } of alertBlocks(rules)) {
      const mine = cases.filter((c) => valuesOf(c, 'alertname')[0] === name);
      expect(
        mine.some((c) => c.includes('exp_labels')),
        `${name}: no test where it fires`,
      ).toBe(true);
      expect(
        mine.some((c) => /exp_alerts: \[\]/.test(c)),
        `${name}: no test where it stays quiet`,
      ).toBe(true);
    }
  });

  it('give every alert a for:, a severity and annotations that say what to do', () => {
    for (const { name, text } of alertBlocks(rules)) {
      expect(valuesOf(text, 'for')[0], name).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], name).toContain(valuesOf(text, 'severity')[0]);
      expect(valuesOf(text, 'summary')[0], name).toBeTruthy();
      expect(valuesOf(text, 'description')[0], name).toMatch(/README\.md/);
    }
  });

  it('scrape config passes promtool check config, loads rules.yml, and names the jobs the rules select', () => {
    const { code, output } = promtool('check', 'config', CONFIG);
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS: 1 rule files found');
    return readFile(CONFIG, 'utf8').then((config) => {
      const scraped = valuesOf(config, 'job_name');
      expect(new Set(scraped)).toEqual(new Set(Object.keys(JOBS)));
      expect(scraped).toHaveLength(Object.keys(JOBS).length);
      const selected = new Set(
        [...ruleExprs(), ...dashboardExprs()].flatMap(({ expr }) =>
          selectorsOf(expr).flatMap((s) => s.jobs ?? []),
        ),
      );
      expect([...selected].sort()).toEqual(Object.keys(JOBS).sort());
      // Every job has an alert when it is down and when it has no target at all.
      const down = ruleExprs().filter(
        ({ where }) => where === 'PipeServiceDown' || where === 'PipeServiceMissing',
      );
      for (const { expr } of down) {
        const jobs = selectorsOf(expr).flatMap((s) => s.jobs ?? []);
        expect(jobs.sort()).toEqual(Object.keys(JOBS).sort());
      }
    });
  });
});

describe('the Grafana dashboard', () => {
  it('is Grafana JSON with a Prometheus datasource variable that every panel and target uses', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const panels = panelsOf(dashboard.panels);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DATASOURCE });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets!) expect(t.datasource?.uid, p.title).toBe(DATASOURCE);
    }
    // Each figure the issue asks for has a panel.
    const titles = panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const topic of [
      'written',
      'consumed',
      'lag',
      'pending',
      'late',
      'dead letters',
      'hours published',
      'memory',
      'lease',
    ])
      expect(titles, topic).toContain(topic);
  });

  it('has PromQL that Prometheus parses (promtool check rules over its expressions)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pipe-dashboard-'));
    try {
      const exprs = dashboardExprs();
      expect(exprs.length).toBeGreaterThanOrEqual(30);
      const file = join(dir, 'panels.yml');
      const records = exprs.map(
        ({ expr }, i) =>
          `      - record: pipe:panel_${i}\n        expr: ${JSON.stringify(expr.replaceAll('$__rate_interval', '1m'))}`,
      );
      await writeFile(file, `groups:\n  - name: panels\n    rules:\n${records.join('\n')}\n`);
      const { code, output } = promtool('check', 'rules', file);
      expect(code, output).toBe(0);
      expect(output).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('what the rules and the dashboard query, against the running services', () => {
  let redis: RedisServer;
  const apps: AppProcess[] = [];
  /** Metric families each service exports, by scrape job. */
  const exported: Record<string, Set<string>> = {};

  beforeAll(async () => {
    redis = await RedisServer.start();
    const flags = ['--redis-url', redis.url, '--prefix', randomPrefix('deploy')];
    const ports = await Promise.all(Object.keys(JOBS).map(() => freePort()));
    const commands: Record<AppName, string[]> = {
      producer: ['run', '--devices', '3', '--interval', '200ms'],
      aggregator: ['run', '--block-ms', '200ms'],
      reaper: ['run', '--interval', '200ms'],
      'averages-viewer': ['serve', '--port', '0'],
      alerter: ['run', '--rules', ALERTER_RULES, '--block-ms', '200ms'],
    };
    Object.entries(JOBS).forEach(([, app], i) => {
      apps.push(startApp(app, [...commands[app], ...flags, '--metrics-port', String(ports[i])]));
    });
    const scrape = (port: number) =>
      fetch(`http://127.0.0.1:${port}/metrics`).then(
        (r) => (r.ok ? r.text() : ''),
        () => '',
      );
    await Promise.all(
      Object.entries(JOBS).map(async ([job], i) => {
        // The reaper's gauges read from Redis have series once the producer's partition and the
        // aggregator's group exist; the others export their families from the start.
        const page = await waitFor(
          `${job}'s /metrics`,
          async () => {
            const text = await scrape(ports[i]!);
            const ready =
              text.includes('pipe_redis_memory_used_bytes{') &&
              (job !== 'pipe-reaper' || /^pipe_group_lag\{/m.test(text));
            return ready && text;
          },
          15_000,
          100,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${apps[i]!.output().slice(-3000)}`);
        });
        exported[job] = exportedNames(page);
      }),
    );
  }, 30_000);

  afterAll(async () => {
    for (const app of apps) app.kill('SIGTERM');
    await Promise.all(apps.map((a) => a.exited));
    await redis?.stop();
  });

  /** The selectors among `exprs` whose metric the services do not export (or not the job it names). */
  const unknown = (exprs: { where: string; expr: string }[]) =>
    exprs.flatMap(({ where, expr }) =>
      selectorsOf(expr)
        .filter((s: Selector) => !SYNTHETIC.has(s.metric))
        .filter((s) =>
          s.jobs
            ? s.jobs.some((job) => !exported[job]?.has(s.metric))
            : !Object.values(exported).some((names) => names.has(s.metric)),
        )
        .map((s) => `${where}: ${s.metric}${s.jobs ? ` (job ${s.jobs.join('|')})` : ''}`),
    );

  it('each service exports its own families and the shared ones', () => {
    expect(exported['pipe-producer']).toContain('pipe_producer_readings_written_total');
    expect(exported['pipe-aggregator']).toContain('pipe_batch_duration_seconds_bucket');
    expect(exported['pipe-reaper']).toContain('pipe_group_oldest_pending_seconds');
    for (const names of Object.values(exported)) {
      expect(names).toContain('pipe_redis_memory_used_bytes');
      expect(names).toContain('process_resident_memory_bytes');
    }
  });

  it('every metric a rule queries is exported (by the job its selector names)', () => {
    const exprs = ruleExprs();
    expect(exprs.flatMap(({ expr }) => selectorsOf(expr)).length).toBeGreaterThanOrEqual(exprs.length);
    expect(unknown(exprs)).toEqual([]);
  });

  it('every metric a dashboard panel queries is exported (by the job its selector names)', () => {
    const exprs = dashboardExprs();
    const metrics = new Set(exprs.flatMap(({ expr }) => selectorsOf(expr).map((s) => s.metric)));
    expect(metrics.size).toBeGreaterThanOrEqual(30);
    expect(unknown(exprs)).toEqual([]);
  });

  it('catches a rule or panel that queries a metric nobody exports, or one another job exports', () => {
    // The check itself, on expressions like those of the files but wrong.
    const misspelt = rules.replaceAll('pipe_group_lag', 'pipe_group_lags');
    const wrong = alertBlocks(misspelt).map((b) => ({ where: b.name, expr: valuesOf(b.text, 'expr')[0]! }));
    expect(unknown(wrong)).toContain('PipeConsumerLagGrowing: pipe_group_lags');
    expect(
      unknown([
        {
          where: 'panel',
          expr: 'histogram_quantile(0.9, sum by (le) (rate(pipe_reaper_sweep_seconds_bucket{job="pipe-reaper"}[$__rate_interval])))',
        },
        {
          where: 'panel',
          expr: 'sum(rate(pipe_readings_consumed_total{job=~"pipe-aggregator|pipe-reaper"}[5m]))',
        },
        {
          where: 'panel',
          expr: 'max by (node) (pipe_redis_memory_used_bytes) / on(node) group_left max(up)',
        },
      ]),
    ).toEqual([
      'panel: pipe_reaper_sweep_seconds_bucket (job pipe-reaper)',
      'panel: pipe_readings_consumed_total (job pipe-aggregator|pipe-reaper)',
    ]);
  });
});
