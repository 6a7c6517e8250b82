import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runApp, sharedRedis, startApp, writeReadings } from '@pipe/fixtures';
import { waitFor } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { transitions } from './in-process.js';

const { redis, fresh } = sharedRedis('alerter-process');

function rulesFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'alerter-rules-')), 'rules.yaml');
  writeFileSync(file, text);
  return file;
}

describe('pipe-alerter as a process', () => {
  it('refuses a rules file with problems before connecting, listing every one, exit 1', async () => {
    const file = rulesFile('rules:\n  - {name: a, above: 1, below: 2}\n  - {name: a, no_data_for: never}\n');
    const run = await runApp('alerter', ['run', '--rules', file, '--redis-url', 'redis://127.0.0.1:1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/rules\.0: give exactly one of above, below, no_data_for/);
    expect(run.stderr).toMatch(/rules\.1\.no_data_for: not a duration/);
    expect(run.stderr).toMatch(/rules\.1\.name: duplicate a/);
  });

  it('reloads its rules on SIGHUP, refuses an invalid new file keeping the old rules, stops on SIGTERM', async () => {
    const { keys, flags } = fresh();
    const file = rulesFile('rules:\n  - {name: hot, above: 90}\n');
    const alerter = startApp('alerter', ['run', '--rules', file, '--block-ms', '100ms', ...flags], {
      env: { LOG_LEVEL: 'info' },
    });
    await waitFor('the lease', async () => (await redis.get(keys.alerterLease)) !== null, 15_000);
    writeFileSync(file, 'rules:\n  - {name: hot, above: "ninety"}\n');
    alerter.child.kill('SIGHUP');
    await waitFor('the refusal', () =>
      alerter.events().some((e) => e.msg === 'rules file refused; keeping the rules in force'),
    );
    await writeReadings(redis, keys, [{ device: 'd1', ts: Date.now(), temp_f: 95 }]);
    await waitFor(
      'the firing under the old rules',
      async () => (await transitions(redis, keys)).length === 1,
    );
    writeFileSync(file, 'rules:\n  - {name: hot, above: 90, clear: 50}\n');
    alerter.child.kill('SIGHUP');
    await waitFor('the reload', () => alerter.events().some((e) => e.msg === 'rules reloaded'));
    // 60 would resolve under the first rules (clear 90); under the new ones it stays firing.
    const ts = Date.now() + 1;
    await writeReadings(redis, keys, [{ device: 'd1', ts, temp_f: 60 }]);
    const partition = keys.partitionKeyFor(ts);
    const lastId = (await redis.xrevrange(partition, '+', '-', 'COUNT', 1))[0]?.[0];
    await waitFor(
      'the reading applied',
      async () => (await redis.hget(keys.alertPositions, partition)) === lastId,
    );
    expect((await transitions(redis, keys)).map((t) => t.state)).toEqual(['firing']);

    const status = await runApp('alerter', ['status', '--json', ...flags]);
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.active).toEqual([expect.objectContaining({ rule: 'hot', device: 'd1', value: '95' })]);
    expect(report.partitions).toHaveLength(1);
    expect(report.partitions[0]).toMatchObject({ pending: 0, lag: 0 });
    expect(report.lease.holder).toMatch(/-\d+-/);
    const text = await runApp('alerter', ['status', ...flags]);
    expect(text.stdout).toMatch(/active alerts: 1\n {2}hot {2}d1 {2}since /);

    alerter.child.kill('SIGTERM');
    expect((await alerter.exited).code).toBe(0);
    expect(await redis.get(keys.alerterLease)).toBeNull();
  });
});
