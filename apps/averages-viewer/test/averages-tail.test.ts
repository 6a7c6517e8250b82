import { sharedRedis } from '@pipe/fixtures';
import { HOUR_MS, PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import {
  averageFor,
  averagesInRedis,
  FIRST_HOUR,
  writeAverage,
  writeHours,
  writeMalformed,
} from './averages-fixture.js';
import { RunningTail } from './running-tail.js';
import { ownRedis } from './own-redis.js';

// AveragesTail (what `pipe-viewer tail` runs) built in this process against the run's redis-server;
// the command's process contract (exit codes, signals, flags) is in pipe-viewer-cli.test.ts.

const { redis } = sharedRedis('viewer');
const parseJsonLines = (lines: string[]) => lines.map((line) => JSON.parse(line));
const newKeys = () => new PipelineKeys(randomPrefix('tail'));

describe('AveragesTail: the history', () => {
  it('prints with json exactly the averages in Redis, at full precision', async () => {
    const keys = newKeys();
    await writeHours(redis, keys, 30);
    const { stdout } = await RunningTail.run(redis, keys, { json: true, name: 'json' });
    const inRedis = await averagesInRedis(redis, keys);
    expect(inRedis).toHaveLength(30);
    expect(parseJsonLines(stdout)).toEqual(inRedis);
  });

  it("prints the reference consumer's sentence with two decimals and min/max where present", async () => {
    const keys = newKeys();
    await writeHours(redis, keys, 8);
    const { stdout } = await RunningTail.run(redis, keys);
    const expected = (await averagesInRedis(redis, keys)).map((a) => {
      let line = `Average temperature for ${a.date} at ${a.hour} was ${a.average_temp_f.toFixed(2)}F (${a.num_observations} observations).`;
      if (a.min_temp_f !== undefined) line += ` min ${a.min_temp_f.toFixed(2)}F`;
      if (a.max_temp_f !== undefined) line += ` max ${a.max_temp_f.toFixed(2)}F`;
      return line;
    });
    expect(expected.some((line) => !line.includes(' min '))).toBe(true);
    expect(stdout).toEqual(expected);
  });

  it('resumes after the last average a viewer of the same name showed; last and from override it', async () => {
    const keys = newKeys();
    await writeHours(redis, keys, 5);
    const ops = { json: true, name: 'ops' };
    const first = await RunningTail.run(redis, keys, ops);
    expect(parseJsonLines(first.stdout).map((a) => a.hourStart)).toEqual(
      (await averagesInRedis(redis, keys)).map((a) => a.hourStart),
    );
    const added = await writeHours(redis, keys, 3, FIRST_HOUR + 5 * HOUR_MS);
    const second = await RunningTail.run(redis, keys, ops);
    expect(parseJsonLines(second.stdout)).toEqual(added);
    const third = await RunningTail.run(redis, keys, ops);
    expect(third.stdout).toEqual([]);
    expect(third.stderr.join('\n')).toContain(`no new averages in ${keys.averages}`);
    // Another name has its own position; last and from override the saved one.
    const other = await RunningTail.run(redis, keys, { json: true, name: 'other' });
    expect(parseJsonLines(other.stdout)).toHaveLength(8);
    const last = await RunningTail.run(redis, keys, { ...ops, last: 2 });
    expect(parseJsonLines(last.stdout)).toEqual(added.slice(-2));
    const from = await RunningTail.run(redis, keys, { ...ops, fromMs: FIRST_HOUR + 6 * HOUR_MS });
    expect(parseJsonLines(from.stdout)).toEqual(added.slice(1));
    // More than there are, or from the epoch: everything.
    expect(await RunningTail.run(redis, keys, { ...ops, last: 100 })).toMatchObject({
      stdout: { length: 8 },
    });
    expect(await RunningTail.run(redis, keys, { ...ops, fromMs: 0 })).toMatchObject({
      stdout: { length: 8 },
    });
  });

  it('prints a history longer than one page of reads (500) whole and in order', async () => {
    const keys = newKeys();
    const written = await writeHours(redis, keys, 1234);
    const { stdout } = await RunningTail.run(redis, keys, { json: true });
    expect(parseJsonLines(stdout)).toEqual(written);
  });

  it('keeps the position for 30 days and says so when a saved position is unreadable, starting over', async () => {
    const keys = newKeys();
    const written = await writeHours(redis, keys, 2);
    await RunningTail.run(redis, keys, { name: 'kept' });
    const ttl = await redis.ttl(keys.viewerPosition('kept'));
    expect(ttl).toBeGreaterThan(30 * 24 * 3600 - 60);
    expect(ttl).toBeLessThanOrEqual(30 * 24 * 3600);

    await redis.set(keys.viewerPosition('garbled'), 'not-an-id');
    const { stdout, stderr } = await RunningTail.run(redis, keys, { name: 'garbled', json: true });
    expect(stderr).toEqual(['ignoring the unreadable position "not-an-id" of garbled']);
    expect(parseJsonLines(stdout)).toEqual(written);
    expect(await redis.get(keys.viewerPosition('garbled'))).toBe(`${written[1]!.hourStart}-0`);
  });

  it('skips malformed entries, naming and counting them', async () => {
    const keys = newKeys();
    await writeHours(redis, keys, 2);
    const badIds = [
      await writeMalformed(redis, keys, FIRST_HOUR + 2 * HOUR_MS),
      await writeMalformed(redis, keys, FIRST_HOUR + 3 * HOUR_MS),
    ];
    await writeHours(redis, keys, 2, FIRST_HOUR + 4 * HOUR_MS);
    const { stdout, stderr } = await RunningTail.run(redis, keys, { json: true });
    const valid = await averagesInRedis(redis, keys);
    expect(valid).toHaveLength(4);
    expect(parseJsonLines(stdout)).toEqual(valid);
    for (const id of badIds)
      expect(stderr.some((l) => l.startsWith(`skipped malformed average ${id}:`))).toBe(true);
    expect(stderr).toContain(`skipped ${badIds.length} malformed average entries`);
  });

  it('says so when there are no averages yet, and ends without an error', async () => {
    const keys = newKeys();
    const { stdout, stderr } = await RunningTail.run(redis, keys);
    expect(stdout).toEqual([]);
    expect(stderr).toEqual([`no averages in ${keys.averages} yet`]);
  });

  it('fails a one-shot tail on a Redis error reply instead of retrying', async () => {
    const keys = newKeys();
    await redis.set(keys.averages, 'not a stream');
    try {
      const tail = RunningTail.start(redis, keys);
      await expect(tail.done).rejects.toThrow(/WRONGTYPE/);
    } finally {
      await redis.del(keys.averages);
    }
  });

  it('refuses to run twice', async () => {
    const tail = RunningTail.start(redis, newKeys());
    expect(() => tail.tail.run()).toThrow(/already running/);
    await tail.done;
  });
});

describe('AveragesTail: following', () => {
  it('prints a new average within a second of its XADD, and counts what it followed as shown', async () => {
    const keys = newKeys();
    const viewer = RunningTail.start(redis, keys, { follow: true, json: true, name: 'live' });
    try {
      await viewer.waitForLine('stderr', (l) => l.includes(`no averages in ${keys.averages} yet; waiting`));
      expect(viewer.tail.isRunning).toBe(true);
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
      await viewer.stop();
    }
    expect(viewer.tail.isRunning).toBe(false);
    // The followed averages count as shown: a restart under the same name has nothing new.
    const again = await RunningTail.run(redis, keys, { json: true, name: 'live' });
    expect(again.stdout).toEqual([]);
  });

  it('follows through a Redis restart: says it is down, reconnects, and shows what comes next', async () => {
    const { server, client: own, stop: stopOwnRedis } = await ownRedis();
    const keys = newKeys();
    const viewer = RunningTail.start(own, keys, { follow: true, json: true });
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
      await stopOwnRedis();
    }
  });

  it('waits out a Redis that is down when it starts, then shows the history and follows', async () => {
    const { server, client: own, stop: stopOwnRedis } = await ownRedis();
    const keys = newKeys();
    await writeAverage(own, keys, averageFor(FIRST_HOUR));
    await server.kill();
    const viewer = RunningTail.start(own, keys, { follow: true, json: true });
    try {
      await viewer.waitForLine('stderr', (l) => l.startsWith('redis unavailable'));
      // Restarted without persistence: the history is empty, and what comes next is followed.
      await server.restart();
      await viewer.waitForLine(
        'stderr',
        (l) => l === `no averages in ${keys.averages} yet; waiting for new ones`,
      );
      const next = averageFor(FIRST_HOUR + HOUR_MS);
      await writeAverage(own, keys, next);
      const shown = await viewer.waitForLine('stdout', (l) => JSON.parse(l).hourStart === next.hourStart);
      expect(JSON.parse(shown.line)).toEqual(next);
      expect(viewer.lines('stdout')).toHaveLength(1);
    } finally {
      await viewer.stop();
      await stopOwnRedis();
    }
  });

  it('stops at once while its history read waits on a Redis that is down', async () => {
    const { server, client: own, stop: stopOwnRedis } = await ownRedis();
    await server.kill();
    const viewer = RunningTail.start(own, newKeys(), { follow: true });
    try {
      await viewer.waitForLine('stderr', (l) => l.startsWith('redis unavailable'));
      const stopAt = Date.now();
      await viewer.stop();
      expect(Date.now() - stopAt).toBeLessThan(500);
    } finally {
      await stopOwnRedis();
    }
  });
});
