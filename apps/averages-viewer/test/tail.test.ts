import { connect, HOUR_MS, PipelineKeys } from '@pipe/streams';
import { RedisServer, randomPrefix } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import {
  averageFor,
  averagesInRedis,
  FIRST_HOUR,
  writeAverage,
  writeHours,
  writeMalformed,
} from './averages-fixture.js';
import { sharedRedis } from './shared-redis.js';
import { ViewerProcess } from './viewer-process.js';

const { redisUrl, redis } = sharedRedis();

function tailArgs(keys: PipelineKeys, ...more: string[]): string[] {
  return ['tail', '--redis-url', redisUrl, '--prefix', keys.prefix, ...more];
}

const parseJsonLines = (lines: string[]) => lines.map((line) => JSON.parse(line));

describe('pipe-viewer tail', () => {
  it('prints with --json exactly the averages in Redis, at full precision', async () => {
    const keys = new PipelineKeys(randomPrefix('tail'));
    await writeHours(redis, keys, 30);
    const { code, stdout } = await ViewerProcess.run(tailArgs(keys, '--json', '--name', 'json'));
    expect(code).toBe(0);
    const inRedis = await averagesInRedis(redis, keys);
    expect(inRedis).toHaveLength(30);
    expect(parseJsonLines(stdout)).toEqual(inRedis);
  });

  it("prints the reference consumer's sentence with two decimals and min/max where present", async () => {
    const keys = new PipelineKeys(randomPrefix('tail'));
    await writeHours(redis, keys, 8);
    const { code, stdout } = await ViewerProcess.run(tailArgs(keys));
    expect(code).toBe(0);
    const expected = (await averagesInRedis(redis, keys)).map((a) => {
      let line = `Average temperature for ${a.date} at ${a.hour} was ${a.average_temp_f.toFixed(2)}F (${a.num_observations} observations).`;
      if (a.min_temp_f !== undefined) line += ` min ${a.min_temp_f.toFixed(2)}F`;
      if (a.max_temp_f !== undefined) line += ` max ${a.max_temp_f.toFixed(2)}F`;
      return line;
    });
    expect(expected.some((line) => !line.includes(' min '))).toBe(true);
    expect(stdout).toEqual(expected);
  });

  it('resumes after the last average a viewer of the same name showed', async () => {
    const keys = new PipelineKeys(randomPrefix('tail'));
    await writeHours(redis, keys, 5);
    const first = await ViewerProcess.run(tailArgs(keys, '--json', '--name', 'ops'));
    expect(parseJsonLines(first.stdout).map((a) => a.hourStart)).toEqual(
      (await averagesInRedis(redis, keys)).map((a) => a.hourStart),
    );

    const added = await writeHours(redis, keys, 3, FIRST_HOUR + 5 * HOUR_MS);
    const second = await ViewerProcess.run(tailArgs(keys, '--json', '--name', 'ops'));
    expect(second.code).toBe(0);
    expect(parseJsonLines(second.stdout)).toEqual(added);

    const third = await ViewerProcess.run(tailArgs(keys, '--json', '--name', 'ops'));
    expect(third.stdout).toEqual([]);
    expect(third.stderr.join('\n')).toContain(`no new averages in ${keys.averages}`);

    // Another name has its own position; --last and --from override the saved one.
    const other = await ViewerProcess.run(tailArgs(keys, '--json', '--name', 'other'));
    expect(parseJsonLines(other.stdout)).toHaveLength(8);
    const last = await ViewerProcess.run(tailArgs(keys, '--json', '--name', 'ops', '--last', '2'));
    expect(parseJsonLines(last.stdout)).toEqual(added.slice(-2));
    const fromIso = new Date(FIRST_HOUR + 6 * HOUR_MS).toISOString();
    const from = await ViewerProcess.run(tailArgs(keys, '--json', '--name', 'ops', '--from', fromIso));
    expect(parseJsonLines(from.stdout)).toEqual(added.slice(1));
  });

  it('follows: a new average is on stdout within a second of its XADD', async () => {
    const keys = new PipelineKeys(randomPrefix('tail'));
    const viewer = ViewerProcess.start(tailArgs(keys, '--follow', '--json', '--name', 'live'));
    try {
      await viewer.waitForLine('stderr', (l) => l.includes(`no averages in ${keys.averages} yet; waiting`));
      for (let i = 0; i < 3; i++) {
        const average = averageFor(FIRST_HOUR + i * HOUR_MS);
        const from = viewer.stdout.length;
        const writtenAt = Date.now();
        await writeAverage(redis, keys, average);
        const shown = await viewer.waitForLine(
          'stdout',
          (l) => JSON.parse(l).hourStart === average.hourStart,
          {
            from,
            timeoutMs: 5000,
          },
        );
        expect(JSON.parse(shown.line)).toEqual(average);
        expect(shown.at - writtenAt).toBeLessThan(1000);
      }
      expect(viewer.stdout).toHaveLength(3);
    } finally {
      expect(await viewer.stop()).toBe(0);
    }
    // The followed averages count as shown: a restart under the same name has nothing new.
    const again = await ViewerProcess.run(tailArgs(keys, '--json', '--name', 'live'));
    expect(again.stdout).toEqual([]);
  });

  it('skips malformed entries, naming and counting them on stderr', async () => {
    const keys = new PipelineKeys(randomPrefix('tail'));
    await writeHours(redis, keys, 2);
    const badIds = [
      await writeMalformed(redis, keys, FIRST_HOUR + 2 * HOUR_MS),
      await writeMalformed(redis, keys, FIRST_HOUR + 3 * HOUR_MS),
    ];
    await writeHours(redis, keys, 2, FIRST_HOUR + 4 * HOUR_MS);
    const { code, stdout, stderr } = await ViewerProcess.run(tailArgs(keys, '--json'));
    expect(code).toBe(0);
    const valid = await averagesInRedis(redis, keys);
    expect(valid).toHaveLength(4);
    expect(parseJsonLines(stdout)).toEqual(valid);
    for (const id of badIds)
      expect(stderr.some((l) => l.startsWith(`skipped malformed average ${id}:`))).toBe(true);
    expect(stderr).toContain(`skipped ${badIds.length} malformed average entries`);
  });

  it('says so when there are no averages yet, and exits 0', async () => {
    const keys = new PipelineKeys(randomPrefix('tail'));
    const { code, stdout, stderr } = await ViewerProcess.run(tailArgs(keys));
    expect(code).toBe(0);
    expect(stdout).toEqual([]);
    expect(stderr).toEqual([`no averages in ${keys.averages} yet`]);
  });

  it('refuses --last with --from, listing every problem before connecting', async () => {
    const { code, stderr } = await ViewerProcess.run([
      'tail',
      '--redis-url',
      'http://nowhere',
      '--last',
      '2',
      '--from',
      '2027-01-01',
      '--name',
      'has space',
    ]);
    expect(code).toBe(1);
    const text = stderr.join('\n');
    expect(text).toContain('redisUrl');
    expect(text).toContain('name');
  });

  it('follows through a Redis restart: says it is down, reconnects, and shows what comes next', async () => {
    const server = await RedisServer.start();
    const own = connect({ url: server.url });
    own.on('error', () => {});
    const keys = new PipelineKeys(randomPrefix('tail'));
    const viewer = ViewerProcess.start([
      'tail',
      '--redis-url',
      server.url,
      '--prefix',
      keys.prefix,
      '--follow',
      '--json',
    ]);
    try {
      await writeAverage(own, keys, averageFor(FIRST_HOUR));
      await viewer.waitForLine('stdout', (l) => JSON.parse(l).hourStart === FIRST_HOUR);
      const before = viewer.stderr.length;
      await server.kill();
      await viewer.waitForLine('stderr', (l) => l.startsWith('redis unavailable'), { from: before });
      await server.restart();
      await viewer.waitForLine('stderr', (l) => l === 'redis reachable again', { from: before });
      const next = averageFor(FIRST_HOUR + HOUR_MS);
      await writeAverage(own, keys, next);
      const shown = await viewer.waitForLine('stdout', (l) => JSON.parse(l).hourStart === next.hourStart);
      expect(JSON.parse(shown.line)).toEqual(next);
    } finally {
      await viewer.stop();
      own.disconnect();
      await server.stop();
    }
  });
});
