import { sharedRedis } from '@pipe/fixtures';
import { HOUR_MS, PipelineKeys, type StreamEntry } from '@pipe/streams';
import { randomPrefix, waitFor } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { AveragesFeed, type AveragesFeedOptions, NEWEST } from '../src/averages-feed.js';
import type { RedisHealth } from '../src/connection-health.js';
import { averageFor, FIRST_HOUR, writeAverage, writeHours } from './averages-fixture.js';
import { recordingLogger } from './recording-logger.js';
import { ownRedis } from './own-redis.js';

// The follow loop under `tail --follow` and the dashboard's event stream, built against real servers.

const { redis } = sharedRedis('viewer');

/** A running feed that keeps the IDs it delivered, the health changes it reported and its log. */
function startFeed(options: Partial<AveragesFeedOptions> & Pick<AveragesFeedOptions, 'redis' | 'key'>) {
  const delivered: string[] = [];
  const health: RedisHealth[] = [];
  const logger = recordingLogger();
  const feed = new AveragesFeed({
    after: NEWEST,
    onEntries: (entries: StreamEntry[]) => {
      delivered.push(...entries.map((e) => e.id));
    },
    onHealth: (h) => health.push(h),
    logger,
    ...options,
  });
  const running = feed.run();
  return { feed, running, delivered, health, logs: logger.lines };
}

describe('AveragesFeed', () => {
  it('from NEWEST delivers only averages written after its first read, and moves its position', async () => {
    const keys = new PipelineKeys(randomPrefix('feed'));
    await writeHours(redis, keys, 3);
    const { feed, running, delivered } = startFeed({ redis, key: keys.averages, blockMs: 100 });
    try {
      await waitFor('the first read', () => feed.position !== NEWEST);
      expect(feed.position).toBe(`${FIRST_HOUR + 2 * HOUR_MS}-0`);
      expect(feed.isRunning).toBe(true);
      expect(feed.connection.up).toBe(true);
      const next = averageFor(FIRST_HOUR + 3 * HOUR_MS);
      await writeAverage(redis, keys, next);
      await waitFor('the new average', () => delivered.length === 1);
      expect(delivered).toEqual([`${next.hourStart}-0`]);
      expect(feed.position).toBe(`${next.hourStart}-0`);
      expect(() => feed.run()).toThrow(/already running/);
    } finally {
      await feed.stop();
      await running;
    }
    expect(feed.isRunning).toBe(false);
  });

  it('logs a handler that fails and goes on with the next averages', async () => {
    const keys = new PipelineKeys(randomPrefix('feed'));
    const handled: string[] = [];
    const { feed, running, logs } = startFeed({
      redis,
      key: keys.averages,
      after: '0-0',
      blockMs: 100,
      onEntries: (entries) => {
        handled.push(...entries.map((e) => e.id));
        if (handled.length === 1) throw new Error('the screen is gone');
      },
    });
    try {
      await writeHours(redis, keys, 1);
      await waitFor('the failing first call', () => handled.length === 1);
      await writeHours(redis, keys, 1, FIRST_HOUR + HOUR_MS);
      await waitFor('the second average', () => handled.length === 2);
      expect(logs.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['averages handler failed']);
    } finally {
      await feed.stop();
      await running;
    }
  });

  it('replaces a connection whose blocking read never settles, and reports the outage once each way', async () => {
    const { server, client: own, stop: stopOwnRedis } = await ownRedis();
    const keys = new PipelineKeys(randomPrefix('feed'));
    const { feed, running, delivered, health, logs } = startFeed({
      redis: own,
      key: keys.averages,
      after: '0-0',
      blockMs: 200,
      watchdogMs: 300,
    });
    try {
      await waitFor('a first read', () => feed.connection.up && logs.length === 0 && feed.isRunning);
      // A frozen server keeps its sockets open and answers nothing: the read in flight hangs.
      process.kill(server.pid!, 'SIGSTOP');
      try {
        await waitFor(
          'the watchdog',
          () => logs.some((l) => l.msg === 'blocking read hung; replacing its connection'),
          5000,
        );
        expect(feed.connection.up).toBe(false);
      } finally {
        process.kill(server.pid!, 'SIGCONT');
      }
      const next = averageFor(FIRST_HOUR);
      await writeAverage(own, keys, next);
      await waitFor(
        'the average written after the thaw',
        () => delivered.includes(`${next.hourStart}-0`),
        10_000,
      );
      await waitFor('the feed reporting Redis back', () => health.length === 2);
      expect(health.map((h) => h.up)).toEqual([false, true]);
    } finally {
      await feed.stop();
      await running;
      await stopOwnRedis();
    }
  });

  it('stops at once during a retry pause while Redis is down', async () => {
    const { server, client: own, stop: stopOwnRedis } = await ownRedis();
    const keys = new PipelineKeys(randomPrefix('feed'));
    const { feed, running, health } = startFeed({ redis: own, key: keys.averages, blockMs: 100 });
    try {
      await waitFor('a first read', () => feed.position !== NEWEST);
      await server.kill();
      await waitFor('the outage', () => health.some((h) => !h.up));
      const stopAt = Date.now();
      await feed.stop();
      await running;
      expect(Date.now() - stopAt).toBeLessThan(500);
    } finally {
      await feed.stop();
      await stopOwnRedis();
    }
  });
});
