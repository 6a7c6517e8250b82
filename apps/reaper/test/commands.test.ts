import type {} from '@pipe/testkit/global-setup';
import { connect, PipelineKeys, type PipelineStatus } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CommandIo } from '../src/commands/command-io.js';
import { dlqListCommand } from '../src/commands/dlq-list.js';
import { dlqPurgeCommand } from '../src/commands/dlq-purge.js';
import { dlqReplayCommand } from '../src/commands/dlq-replay.js';
import { onceCommand } from '../src/commands/once.js';
import { statusCommand } from '../src/commands/status.js';
import { dlqListConfig, dlqPurgeConfig, dlqReplayConfig, onceConfig, statusConfig } from '../src/config.js';

const url = inject('redisUrl');
const redis = connect({ url });
afterAll(() => redis.disconnect());
const GROUP = 'g';

/** What a command wrote to its stdout and stderr. */
interface Written {
  out: string;
  err: string;
}

/** A fresh prefix, the flags a bin would get for it, and a CommandIo whose outputs a test reads. */
function fresh(): {
  keys: PipelineKeys;
  flags: Record<string, unknown>;
  io: CommandIo & { written: Written };
} {
  const prefix = randomPrefix('reaper-commands');
  const keys = new PipelineKeys(prefix);
  const written: Written = { out: '', err: '' };
  const io = {
    redis,
    keys,
    out: { write: (text: string) => (written.out += text) },
    err: { write: (text: string) => (written.err += text) },
    written,
  };
  return { keys, flags: { redisUrl: url, prefix }, io };
}

/** `count` readings in today's partition, delivered twice to a consumer that never acks them. */
async function pendingTwice(
  keys: PipelineKeys,
  count: number,
): Promise<{ partition: string; ids: string[] }> {
  const partition = keys.partitionKeyFor(Date.now());
  const ids: string[] = [];
  for (let i = 0; i < count; i++)
    ids.push(
      (await redis.xadd(
        partition,
        '*',
        'device',
        `sensor-${i}`,
        'ts',
        String(Date.now()),
        'temp_f',
        '61.5',
      ))!,
    );
  await redis.xgroup('CREATE', partition, GROUP, '0');
  await redis.xreadgroup('GROUP', GROUP, 'crashy', 'STREAMS', partition, '>');
  await redis.xreadgroup('GROUP', GROUP, 'crashy', 'STREAMS', partition, '0');
  await new Promise((resolve) => setTimeout(resolve, 150));
  return { partition, ids };
}

/** Dead-letters `count` readings the way `pipe-reaper once --max-deliveries 2` does. */
async function deadLetter(
  flags: Record<string, unknown>,
  io: CommandIo,
  count: number,
): Promise<{ partition: string; ids: string[] }> {
  const pending = await pendingTwice(io.keys, count);
  const config = onceConfig.read({ ...flags, minIdle: '100ms', maxDeliveries: '2', json: true }, {});
  expect(await onceCommand(config, { ...io, out: { write: () => true } })).toBe(0);
  return pending;
}

describe('pipe-reaper once', () => {
  it('sweeps with the policy of its flags and prints the summary as JSON', async () => {
    const { keys, flags, io } = fresh();
    await pendingTwice(keys, 3);
    const config = onceConfig.read({ ...flags, minIdle: '100ms', maxDeliveries: '2', json: true }, {});
    expect(await onceCommand(config, io)).toBe(0);
    expect(JSON.parse(io.written.out)).toMatchObject({
      partitions: 1,
      groups: 1,
      deadLettered: 3,
      failedGroups: 0,
    });
    expect(await redis.xlen(keys.deadLetters)).toBe(3);
  });

  it('prints one aligned line per figure without --json, and leaves entries idle less than --min-idle', async () => {
    const { keys, flags, io } = fresh();
    await pendingTwice(keys, 2);
    expect(await onceCommand(onceConfig.read(flags, {}), io)).toBe(0);
    const lines = io.written.out.trimEnd().split('\n');
    expect(lines).toContain(`${'deadLettered'.padEnd(22)}0`);
    expect(lines).toContain(`${'partitions'.padEnd(22)}1`);
    expect(lines.every((line) => /^\w+ +\S+$/.test(line))).toBe(true);
  });
});

describe('pipe-reaper status', () => {
  it('reports partitions, groups and pending entries as JSON and as a table', async () => {
    const { keys, flags, io } = fresh();
    const { partition } = await pendingTwice(keys, 2);
    expect(await statusCommand(statusConfig.read({ ...flags, json: true }, {}), io)).toBe(0);
    const report = JSON.parse(io.written.out) as PipelineStatus;
    expect(report.partitions.map((p) => [p.key, p.length])).toEqual([[partition, 2]]);
    expect(report.partitions[0]!.groups).toMatchObject([{ name: GROUP, pending: 2 }]);

    io.written.out = '';
    expect(await statusCommand(statusConfig.read(flags, {}), io)).toBe(0);
    expect(io.written.out).toContain(partition);
    expect(io.written.out).toContain(GROUP);
  });
});

describe('pipe-reaper dlq', () => {
  it('lists the dead letters as JSON and as a table, oldest first', async () => {
    const { flags, io } = fresh();
    const { partition, ids } = await deadLetter(flags, io, 2);
    expect(await dlqListCommand(dlqListConfig.read({ ...flags, json: true }, {}), io)).toBe(0);
    const letters = JSON.parse(io.written.out) as Record<string, unknown>[];
    expect(letters.map((l) => [l.stream, l.id, l.group, l.consumer, l.deliveries])).toEqual(
      ids.map((id) => [partition, id, GROUP, 'crashy', 2]),
    );

    io.written.out = '';
    expect(await dlqListCommand(dlqListConfig.read(flags, {}), io)).toBe(0);
    expect(io.written.out).toContain('delivered 2 times without ack');
    for (const letter of letters) expect(io.written.out).toContain(String(letter.letterId));
  });

  it('replays a letter into its partition, and says on stderr which letter it could not replay (exit 1)', async () => {
    const { keys, flags, io } = fresh();
    const { partition } = await deadLetter(flags, io, 1);
    const [[letterId]] = (await redis.xrange(keys.deadLetters, '-', '+')) as [[string, string[]]];
    const config = dlqReplayConfig.read(flags, {});
    expect(await dlqReplayCommand(config, [letterId], io)).toBe(0);
    const [[newest]] = (await redis.xrevrange(partition, '+', '-', 'COUNT', 1)) as [[string, string[]]];
    expect(io.written.out).toBe(`replayed ${letterId} -> ${partition} ${newest}\n`);
    expect(await redis.xlen(keys.deadLetters)).toBe(0);

    expect(await dlqReplayCommand(config, [letterId], io)).toBe(1);
    expect(io.written.err).toMatch(new RegExp(`^not replayed ${letterId}: .*gone`));
  });

  it('replays every letter with --all', async () => {
    const { keys, flags, io } = fresh();
    await deadLetter(flags, io, 3);
    expect(await dlqReplayCommand(dlqReplayConfig.read({ ...flags, all: true }, {}), [], io)).toBe(0);
    expect(io.written.out.trimEnd().split('\n')).toHaveLength(3);
    expect(await redis.xlen(keys.deadLetters)).toBe(0);
  });

  it('purges the dead-letter stream and says how many letters it held', async () => {
    const { keys, flags, io } = fresh();
    await deadLetter(flags, io, 2);
    expect(await dlqPurgeCommand(dlqPurgeConfig.read({ ...flags, yes: true }, {}), io)).toBe(0);
    expect(io.written.out).toBe('purged 2 dead letters\n');
    expect(await redis.exists(keys.deadLetters)).toBe(0);
  });
});
