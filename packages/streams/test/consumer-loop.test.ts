import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RedisServer, sleep, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsumerGroup } from '../src/consumer-group.js';
import { type ConsumerBatch, ConsumerLoop, type ConsumerLoopOptions } from '../src/consumer-loop.js';
import type { Logger } from '../src/logger.js';
import { Stream } from '../src/stream.js';
import { HungProxy } from './hung-proxy.js';
import { sharedServer } from './helpers.js';

const { redis, key, url } = sharedServer('loop');

/** Log lines as { level, msg }, to check what the loop said about a failure it recovered from. */
function recordingLogger(): Logger & { lines: { level: string; msg?: string }[] } {
  const lines: { level: string; msg?: string }[] = [];
  const at = (level: string) => (_: object, msg?: string) => {
    lines.push({ level, msg });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Runs a loop whose handler records every batch and acknowledges it (through `ackWith`), unless
 * `keepPending` says to leave an entry pending.
 */
function startLoop(
  options: Partial<ConsumerLoopOptions> & {
    stream: string;
    ackWith?: Redis;
    keepPending?: (id: string) => boolean;
  },
) {
  const batches: ConsumerBatch[] = [];
  const logger = recordingLogger();
  const acker = options.ackWith ?? redis;
  const loop = new ConsumerLoop({
    redis,
    group: 'g',
    consumer: 'worker-1',
    streams: () => [options.stream],
    blockMs: 200,
    logger,
    handle: async (read) => {
      batches.push(...read);
      for (const { stream, entries } of read) {
        const done = entries.map((e) => e.id).filter((id) => !options.keepPending?.(id));
        if (done.length > 0) await acker.xack(stream, options.group ?? 'g', ...done);
      }
    },
    ...options,
  });
  const running = loop.run();
  cleanups.push(() => loop.stop());
  const handled = () => batches.flatMap((b) => b.entries.map((e) => e.id));
  return { loop, running, batches, handled, logger };
}

async function addEntries(client: Redis, stream: string, n: number, tag = 'e'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++)
    ids.push((await client.xadd(stream, '*', 'temp_f', String(i), 'tag', tag)) as string);
  return ids;
}

describe('ConsumerLoop', () => {
  it('refuses to run twice', async () => {
    const { loop } = startLoop({ stream: key('twice') });
    expect(() => loop.run()).toThrow(/already running/);
  });

  it('creates its group from the start of the stream and hands entries over in batches of at most count', async () => {
    const stream = key('batches');
    const ids = await addEntries(redis, stream, 7);
    const { handled, batches } = startLoop({ stream, count: 3 });
    await waitFor('7 entries', () => handled().length === 7);
    expect(handled()).toEqual(ids);
    expect(batches.every((b) => b.stream === stream && b.entries.length <= 3)).toBe(true);
    const more = await addEntries(redis, stream, 2);
    await waitFor('2 more', () => handled().length === 9);
    expect(handled().slice(7)).toEqual(more);
    expect((await new ConsumerGroup(redis, 'g', [stream]).pendingSummary(stream)).count).toBe(0);
  });

  it('re-reads its own pending entries first after its process was killed with kill -9 mid-batch', async () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    expect(existsSync(dist), 'the crashing consumer imports dist: build @pipe/streams first').toBe(true);
    const stream = key('crash');
    const before = await addEntries(redis, stream, 10);
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('./fixtures/crashing-consumer.mjs', import.meta.url)),
        url,
        stream,
        'g',
        'worker-1',
        '4',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_, signal) => resolve(signal)),
    );
    cleanups.push(() => child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    await waitFor(`the child's first batch (stderr: ${stderr})`, () => stdout.includes('\n'));
    const inHand = JSON.parse(stdout.split('\n')[0]!) as string[];
    expect(inHand).toEqual(before.slice(0, 4));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const group = new ConsumerGroup(redis, 'g', [stream]);
    expect((await group.pending(stream)).map((p) => [p.id, p.consumer])).toEqual(
      inHand.map((id) => [id, 'worker-1']),
    );
    const after = await addEntries(redis, stream, 3);

    const { handled, batches } = startLoop({ stream, count: 100 });
    await waitFor('all 13 entries', () => handled().length === 13);
    expect(batches[0]?.entries.map((e) => e.id)).toEqual(inHand);
    expect(handled()).toEqual([...before, ...after]);
    expect(await group.pending(stream)).toEqual([]);
  });

  it('pages through its own pending entries, so one it leaves pending does not shut out new ones', async () => {
    const stream = key('poison');
    const group = new ConsumerGroup(redis, 'g', [stream], 'worker-1');
    await group.create();
    const old = await addEntries(redis, stream, 5);
    await group.read({ count: 5 });
    const fresh = await addEntries(redis, stream, 3);
    const poison = old[0]!;
    const { handled, batches } = startLoop({
      stream,
      count: 2,
      pendingCheckMs: 60_000,
      keepPending: (id) => id === poison,
    });
    await waitFor('old and new entries', () => handled().length === 8);
    expect(batches.map((b) => b.entries.length)).toEqual([2, 2, 1, 2, 1]);
    expect(handled()).toEqual([...old, ...fresh]);
    const [left] = await group.pending(stream);
    expect(left?.id).toBe(poison);
    expect(left?.deliveries).toBe(2);
  });

  it('picks up entries claimed to it by another consumer on its periodic own-pending read (reclaim protocol)', async () => {
    const stream = key('reclaim');
    const group = new ConsumerGroup(redis, 'g', [stream]);
    await group.create();
    // A consumer that died holding an entry...
    const [orphan] = await addEntries(redis, stream, 1, 'orphan');
    await group.consumer('worker-dead').read({ count: 1 });
    expect((await group.pending(stream)).map((p) => p.consumer)).toEqual(['worker-dead']);
    const { handled } = startLoop({ stream, pendingCheckMs: 300 });
    await waitFor('the loop to be reading', async () =>
      (await group.consumers(stream)).some((c) => c.name === 'worker-1'),
    );
    await sleep(100);
    // ...and the reaper's XAUTOCLAIM hands it to the live worker, which never reads it with '>'.
    const claimed = await group.consumer('worker-1').autoclaim(stream, { minIdle: 0 });
    expect(claimed.entries.map((e) => e.id)).toEqual([orphan]);
    await waitFor('the claimed entry', () => handled().includes(orphan!), 5000);
    await waitFor('its acknowledgement', async () => (await group.pending(stream)).length === 0);
  });

  it('retries a batch that failed for Redis without counting a delivery, so a failover cannot make it poison', async () => {
    // The cluster failover of #19: a batch whose script kept failing while a master was replaced was
    // re-read with XREADGROUP 0 at each retry, one delivery each; four retries took healthy entries to
    // 5 deliveries (the default --max-deliveries) and the reaper dead-lettered them as poison.
    const stream = key('retry-quietly');
    const group = new ConsumerGroup(redis, 'g', [stream], 'worker-1');
    await group.create();
    const ids = await addEntries(redis, stream, 3);
    let attempts = 0;
    const deliveries: number[][] = [];
    const handledIds: string[] = [];
    const { logger } = startLoop({
      stream,
      pendingCheckMs: 50,
      handle: async (read) => {
        deliveries.push((await group.pending(stream)).map((p) => p.deliveries));
        if (++attempts <= 4) throw new Error("READONLY You can't write against a read only replica.");
        for (const { entries } of read) await redis.xack(stream, 'g', ...entries.map((e) => e.id));
        handledIds.push(...read.flatMap((b) => b.entries.map((e) => e.id)));
      },
    });
    await waitFor('the batch handled after 4 failures', () => handledIds.length === 3, 10_000);
    expect(handledIds).toEqual(ids);
    expect(attempts).toBe(5);
    // Each attempt saw the entries delivered once: the first read, and no more.
    expect(deliveries).toEqual(Array.from({ length: 5 }, () => [1, 1, 1]));
    expect(await group.pending(stream)).toEqual([]);
    expect(logger.lines.filter((l) => l.msg === 'consumer loop iteration failed; retrying')).toHaveLength(4);
  });

  it('still counts a delivery when it re-reads its own pending entries after a restart or on its periodic check', async () => {
    // What the reaper's poison detection needs: an entry that kills the process counts at each restart.
    const stream = key('restart-counts');
    const group = new ConsumerGroup(redis, 'g', [stream], 'worker-1');
    await group.create();
    const [id] = await addEntries(redis, stream, 1);
    await group.read({ count: 1 });
    const { handled } = startLoop({ stream, pendingCheckMs: 100, keepPending: () => true });
    await waitFor('two re-reads of the pending entry', () => handled().length >= 2);
    const [left] = await group.pending(stream);
    expect(left?.id).toBe(id);
    expect(left?.deliveries).toBeGreaterThanOrEqual(3);
  });

  it('acknowledges its pending entries that were deleted from the stream instead of handing them over', async () => {
    const stream = key('deleted');
    const group = new ConsumerGroup(redis, 'g', [stream], 'worker-1');
    await group.create();
    const [gone, kept] = await addEntries(redis, stream, 2);
    await group.read();
    await new Stream(redis, stream).delete(gone!);
    const { handled, logger } = startLoop({ stream });
    await waitFor('the kept entry', () => handled().includes(kept!));
    expect(handled()).toEqual([kept]);
    expect(await group.pending(stream)).toEqual([]);
    expect(logger.lines).toContainEqual({
      level: 'warn',
      msg: 'acknowledged pending entries deleted from the stream',
    });
  });

  it('stop ends a blocking read promptly', async () => {
    const stream = key('stop-read');
    await addEntries(redis, stream, 1);
    const { loop, handled, running } = startLoop({ stream, blockMs: 30_000 });
    await waitFor('the first entry', () => handled().length === 1);
    await sleep(100);
    const started = Date.now();
    await loop.stop();
    await running;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(loop.isRunning).toBe(false);
  });

  // 0.5 s into the outage the loop waits in a blocking read; 4 s in, a read has hung past its watchdog
  // (block + 3 s) and the loop re-reads its own pending entries (a quick read, up to its own 3 s watchdog)
  // on the reconnecting connection.
  it.each([
    { outageMs: 500, what: 'a blocking read' },
    { outageMs: 4000, what: 'a read of its own pending entries' },
  ])(
    'stop ends at once while its server is down ($what waiting for a reconnect does not hold it)',
    async ({ outageMs }) => {
      const server = await RedisServer.start();
      cleanups.push(() => server.stop());
      const client = new Redis(server.url);
      client.on('error', () => {});
      cleanups.push(() => client.disconnect());
      const stream = key(`stop-outage-${outageMs}`);
      await addEntries(client, stream, 1);
      // Before the fix, stop() waited for the read's watchdog (block + watchdog).
      const { loop, handled, running } = startLoop({
        stream,
        redis: client,
        ackWith: client,
        blockMs: 200,
        watchdogMs: 1500,
      });
      await waitFor('the first entry', () => handled().length === 1);
      await server.kill();
      await sleep(outageMs);
      const started = Date.now();
      await loop.stop();
      await running;
      expect(Date.now() - started).toBeLessThan(600);
    },
  );

  it('stop lets the batch in hand finish, then reads nothing more', async () => {
    const stream = key('stop-batch');
    await addEntries(redis, stream, 2);
    await new ConsumerGroup(redis, 'g', [stream]).create();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finished = 0;
    const loop = new ConsumerLoop({
      redis,
      group: 'g',
      consumer: 'worker-1',
      streams: () => [stream],
      count: 1,
      blockMs: 200,
      handle: async ([batch]) => {
        await gate;
        await redis.xack(stream, 'g', ...batch!.entries.map((e) => e.id));
        finished++;
      },
    });
    const running = loop.run();
    await waitFor('the handler to hold a batch', async () => (await redis.xpending(stream, 'g'))[0] === 1);
    let stopped = false;
    const stopping = loop.stop().then(() => {
      stopped = true;
    });
    await sleep(300);
    expect(stopped).toBe(false);
    release();
    await stopping;
    await running;
    expect(finished).toBe(1);
    const [pending] = (await redis.xpending(stream, 'g')) as [number];
    expect(pending).toBe(0);
    // The second entry was never read: the loop stopped after the batch in hand.
    expect((await new ConsumerGroup(redis, 'g', [stream]).info(stream))?.lag).toBe(1);
  });

  // 45 entries end on a short batch, read with nothing ahead (its writes settle, then the empty read's
  // settle has nothing left); 40 on a read ahead that comes back empty.
  it.each([
    [45, ['handle 5 beside one in flight', 'settle', 'settle', 'idle']],
    [40, ['settle', 'idle']],
  ])(
    'lets a handler leave its writes in flight while the next batch is read ahead, and settles them before it idles (%i entries)',
    async (total, ending) => {
      const stream = key(`in-flight-${total}`);
      await addEntries(redis, stream, total);
      const events: string[] = [];
      const handled: string[] = [];
      let inFlight: Promise<unknown> | undefined;
      const loop = new ConsumerLoop({
        redis,
        group: 'g',
        consumer: 'worker-1',
        streams: () => [stream],
        count: 10,
        blockMs: 100,
        pendingCheckMs: 60_000,
        prefetch: true,
        handle: async (read) => {
          const ids = read.flatMap((b) => b.entries.map((e) => e.id));
          events.push(`handle ${ids.length}${inFlight ? ' beside one in flight' : ''}`);
          handled.push(...ids);
          const previous = inFlight;
          // Acknowledged a moment later, as a script whose answer the next call takes.
          inFlight = sleep(20).then(() => redis.xack(stream, 'g', ...ids));
          await previous;
        },
        settle: async () => {
          const flight = inFlight;
          inFlight = undefined;
          await flight;
          events.push('settle');
        },
        onIdle: async () => {
          events.push('idle');
        },
      });
      const running = loop.run();
      cleanups.push(() => loop.stop());
      await waitFor('the loop to idle', async () => events.includes('idle'));
      // While a backlog is read ahead each batch is handled beside the previous one's writes; once nothing
      // is read ahead, they settle before the loop idles.
      expect(events.slice(0, events.indexOf('idle') + 1)).toEqual([
        'handle 10',
        'handle 10 beside one in flight',
        'handle 10 beside one in flight',
        'handle 10 beside one in flight',
        ...ending,
      ]);
      expect(new Set(handled).size).toBe(total);
      expect(((await redis.xpending(stream, 'g')) as [number])[0]).toBe(0);
      await loop.stop();
      await running;
    },
  );

  it('keeps its group and position across a restart of an AOF server', async () => {
    const server = await RedisServer.start({ aof: 'always' });
    cleanups.push(() => server.stop());
    const client = new Redis(server.url);
    cleanups.push(() => client.disconnect());
    const stream = key('restart-aof');
    const first = await addEntries(client, stream, 3);
    const { handled, logger } = startLoop({ stream, redis: client, ackWith: client });
    await waitFor('entries before the restart', () => handled().length === 3);

    await server.restart();
    const second = await addEntries(client, stream, 2, 'after');
    await waitFor('entries after the restart', () => handled().length === 5);
    expect(handled()).toEqual([...first, ...second]);
    const info = await new ConsumerGroup(client, 'g', [stream]).info(stream);
    expect(info).toMatchObject({ lastDeliveredId: second[1], pending: 0, lag: 0 });
    expect(logger.lines.map((l) => l.msg)).not.toContain('consumer group missing; recreating');
  });

  it('keeps working after its server restarts without persistence, recreating the lost group', async () => {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const client = new Redis(server.url);
    cleanups.push(() => client.disconnect());
    const stream = key('restart');
    const first = await addEntries(client, stream, 3);
    const { handled, logger } = startLoop({ stream, redis: client, ackWith: client });
    await waitFor('entries before the restart', () => handled().length === 3);

    await server.restart();
    expect(await client.exists(stream)).toBe(0);
    const second = await addEntries(client, stream, 2, 'after');
    await waitFor('entries after the restart', () => handled().length === 5);
    expect(handled()).toEqual([...first, ...second]);
    expect(logger.lines).toContainEqual({ level: 'warn', msg: 'consumer group missing; recreating' });
  });

  it('keeps working after its connections are killed (CLIENT KILL)', async () => {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const client = new Redis(server.url);
    cleanups.push(() => client.disconnect());
    const admin = new Redis(server.url);
    cleanups.push(() => admin.disconnect());
    const stream = key('dropped');
    const first = await addEntries(client, stream, 2);
    const { handled } = startLoop({ stream, redis: client, ackWith: client });
    await waitFor('entries before the drop', () => handled().length === 2);

    await sleep(100);
    expect(Number(await admin.client('KILL', 'SKIPME', 'yes'))).toBeGreaterThanOrEqual(2);
    const second = await addEntries(client, stream, 2, 'after');
    await waitFor('entries after the drop', () => handled().length === 4);
    expect(handled()).toEqual([...first, ...second]);
  });

  it('does not hang while its server is frozen (SIGSTOP), and leaves no stale connections after SIGCONT', async () => {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const pid = server.pid!;
    cleanups.push(() => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {}
    });
    const client = new Redis(server.url);
    cleanups.push(() => client.disconnect());
    const stream = key('frozen');
    const first = await addEntries(client, stream, 1);
    const { handled, logger } = startLoop({ stream, redis: client, ackWith: client, watchdogMs: 300 });
    await waitFor('the first entry', () => handled().length === 1);

    process.kill(pid, 'SIGSTOP');
    await waitFor(
      'the watchdog to notice',
      () => logger.lines.some((l) => l.msg === 'blocking read hung; replacing its connection'),
      10_000,
    );
    await sleep(1000);
    process.kill(pid, 'SIGCONT');

    const second = await addEntries(client, stream, 1, 'after');
    await waitFor('the entry added after SIGCONT', () => handled().length === 2, 10_000);
    expect(handled()).toEqual([...first, ...second]);
    // Every replaced connection was closed: only the caller's client and the loop's reader remain.
    await waitFor('stale connections to close', async () => {
      const list = (await client.client('LIST')) as string;
      return list.trim().split('\n').length <= 2;
    });
  });

  it('replaces its connection when a blocking read never settles (watchdog)', async () => {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const proxy = await HungProxy.start(server.port);
    cleanups.push(() => proxy.stop());
    const viaProxy = new Redis(proxy.url);
    cleanups.push(() => viaProxy.disconnect());
    const direct = new Redis(server.url);
    cleanups.push(() => direct.disconnect());
    const stream = key('hung');
    const first = await addEntries(direct, stream, 1);
    const { handled, logger } = startLoop({ stream, redis: viaProxy, ackWith: direct, watchdogMs: 500 });
    await waitFor('the first entry', () => handled().length === 1);

    await sleep(100);
    expect(proxy.freezeExisting()).toBeGreaterThanOrEqual(2);
    const second = await addEntries(direct, stream, 1, 'after');
    await waitFor('the entry added while the read hung', () => handled().length === 2, 10_000);
    expect(handled()).toEqual([...first, ...second]);
    expect(logger.lines).toContainEqual({
      level: 'warn',
      msg: 'blocking read hung; replacing its connection',
    });
  });
});
