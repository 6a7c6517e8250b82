import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prng, startApp, writeReadings } from '@pipe/fixtures';
import { connect, type PipelineKeys, type Reading, type RedisClient } from '@pipe/streams';
import { expect, it } from 'vitest';
import { serverPerTest } from '../src/own-server.js';
import { targetOn } from '../src/target.js';

const startServer = serverPerTest();

const MIN = 60_000;
const DEVICES = 60;
/** Two hours either side of a UTC midnight: two partitions, devices crossing from one to the other. */
const FROM = Date.UTC(2026, 2, 9, 22, 0);
const TO = Date.UTC(2026, 2, 10, 2, 0);
const KILLS = 20;

const RULES = `
rules:
  - name: warm
    devices: "dev-*"
    above: 80
    for: 10m
    clear: 75
  - name: cold
    devices: "dev-1?"
    below: 40
    clear: 45
  - name: silent
    no_data_for: 20m
`;

type Transition = Record<'rule' | 'device' | 'state' | 'since' | 'at' | 'value', string>;

/**
 * The transitions the rules above must give, computed here from the readings in the order the alerter
 * must apply them (partition by partition, oldest first; written order inside each), with a model of the
 * state machines of its own rather than the alerter's code.
 */
function expectedTransitions(readings: Reading[], keys: PipelineKeys): Transition[] {
  const out: Transition[] = [];
  const emit = (rule: string, device: string, state: string, since: number, at: number, value: string) =>
    out.push({ rule, device, state, since: String(since), at: String(at), value });
  const ordered = [...readings.entries()]
    .sort(([i, a], [j, b]) => keys.partitionKeyFor(a.ts).localeCompare(keys.partitionKeyFor(b.ts)) || i - j)
    .map(([, r]) => r);
  const warm = new Map<string, { firing: boolean; since: number }>();
  const cold = new Map<string, number>();
  const seen = new Map<string, number>();
  const silentSince = new Map<string, number>();
  for (const r of ordered) {
    const v = String(r.temp_f);
    const w = warm.get(r.device);
    if (w?.firing) {
      if (r.temp_f <= 75) {
        emit('warm', r.device, 'resolved', w.since, r.ts, v);
        warm.delete(r.device);
      }
    } else if (w) {
      if (r.temp_f <= 80) warm.delete(r.device);
      else if (r.ts - w.since >= 10 * MIN) {
        emit('warm', r.device, 'firing', w.since, r.ts, v);
        w.firing = true;
      }
    } else if (r.temp_f > 80) warm.set(r.device, { firing: false, since: r.ts });
    if (/^dev-1.$/.test(r.device)) {
      const since = cold.get(r.device);
      if (since !== undefined && r.temp_f >= 45) {
        emit('cold', r.device, 'resolved', since, r.ts, v);
        cold.delete(r.device);
      } else if (since === undefined && r.temp_f < 40) {
        emit('cold', r.device, 'firing', r.ts, r.ts, v);
        cold.set(r.device, r.ts);
      }
    }
    const last = seen.get(r.device);
    const silent = silentSince.get(r.device);
    if (silent !== undefined) {
      emit('silent', r.device, 'resolved', silent, r.ts, v);
      silentSince.delete(r.device);
    } else if (last !== undefined && r.ts - last >= 20 * MIN) {
      emit('silent', r.device, 'firing', last, last + 20 * MIN, '');
      emit('silent', r.device, 'resolved', last, r.ts, v);
    }
    if (last === undefined || r.ts > last) seen.set(r.device, r.ts);
  }
  const end = Math.max(...seen.values());
  for (const device of [...seen.keys()].sort()) {
    const last = seen.get(device)!;
    if (end - last >= 20 * MIN) emit('silent', device, 'firing', last, last + 20 * MIN, '');
  }
  return out;
}

/** A reading a minute per device, a random walk through the thresholds, with silences and an early stop. */
function readingsOfTest(): Reading[] {
  const random = prng(2026);
  const temps = Array.from({ length: DEVICES }, () => 60);
  const readings: Reading[] = [];
  for (let ts = FROM; ts < TO; ts += MIN) {
    for (let d = 0; d < DEVICES; d++) {
      temps[d] = Math.min(110, Math.max(10, temps[d]! + Math.round((random() - 0.5) * 12)));
      // Device 3 is silent for 25 minutes around midnight; device 5 stops an hour before the end.
      if (d === 3 && ts >= Date.UTC(2026, 2, 9, 23, 50) && ts < Date.UTC(2026, 2, 10, 0, 15)) continue;
      if (d === 5 && ts >= TO - 60 * MIN) continue;
      readings.push({ device: `dev-${d}`, ts, temp_f: temps[d]! });
    }
  }
  return readings;
}

async function transitionsOf(redis: RedisClient, keys: PipelineKeys): Promise<Transition[]> {
  return (await redis.xrange(keys.alerts, '-', '+')).map(([, fields]) => {
    const t: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) t[fields[i]!] = fields[i + 1]!;
    return t as Transition;
  });
}

it('kill -9 of the alerter at random moments (20 times) writes exactly the transitions of a clean run', async () => {
  const server = await startServer();
  const redis = connect({ url: server.url });
  const dir = mkdtempSync(join(tmpdir(), 'alerter-kills-'));
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(rulesFile, RULES);
  const readings = readingsOfTest();
  const drain = (flags: string[]) =>
    startApp('alerter', [
      'run',
      '--drain',
      '--rules',
      rulesFile,
      '--count',
      '20',
      '--lease-ttl',
      '300ms',
      ...flags,
    ]);
  try {
    const clean = targetOn(server.url, 'alerts-clean');
    const killed = targetOn(server.url, 'alerts-killed');
    await writeReadings(redis, clean.keys, readings);
    await writeReadings(redis, killed.keys, readings);
    const expected = expectedTransitions(readings, clean.keys);
    // The data must exercise every rule, or the comparison proves little.
    for (const rule of ['warm', 'cold', 'silent'])
      expect(expected.filter((t) => t.rule === rule).length, rule).toBeGreaterThanOrEqual(2);

    const cleanRun = await drain(clean.flags).exited;
    expect(cleanRun.code, cleanRun.stderr).toBe(0);
    expect(await transitionsOf(redis, clean.keys)).toEqual(expected);

    const random = prng(17);
    /** Kills that hit a drain that had applied batches and was not done: the ones that prove something. */
    let midDrain = 0;
    const positions = () => redis.hgetall(killed.keys.alertPositions).then((p) => JSON.stringify(p));
    for (let kill = 0; kill < KILLS; kill++) {
      const before = await positions();
      const run = drain(killed.flags);
      // Once it has applied a batch, at a random moment of the next ones.
      while (run.child.exitCode === null && (await positions()) === before)
        await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, random() * 60));
      const running = run.child.exitCode === null;
      run.child.kill('SIGKILL');
      await run.exited;
      if (running && (await positions()) !== before) midDrain++;
    }
    const last = await drain(killed.flags).exited;
    expect(last.code, last.stderr).toBe(0);
    const got = await transitionsOf(redis, killed.keys);
    console.log(
      `alerter kills: ${readings.length} readings, ${KILLS} kill -9 (${midDrain} in the middle of the drain), ` +
        `${got.length} transitions (expected ${expected.length})`,
    );
    expect(got).toEqual(expected);
    expect(midDrain).toBeGreaterThanOrEqual(15);
  } finally {
    redis.disconnect();
  }
}, 240_000);
