import { DEFAULT_PREFIX, PipeError, PipelineKeys } from '@pipe/streams';

/**
 * Least-privilege Redis users for each service (Redis 6+ ACLs). Rules are derived from the key layout
 * of @pipe/streams (PipelineKeys) so a prefix change moves them along. Commands that scripts run are
 * checked against the caller's ACL too, so each list includes what the service's Lua scripts call.
 */
export type ServiceName = 'producer' | 'aggregator' | 'reaper' | 'viewer' | 'alerter';

export interface AclRules {
  commands: string[];
  keys: string[];
}

export interface ServiceAcl extends AclRules {
  user: string;
  /**
   * Redis 7 selectors: a command is allowed when the user's root rules or one selector allow it with
   * all its keys. They keep a command away from keys where it would do harm, e.g. XADD (which takes
   * MAXLEN 0) from the partitions an aggregator only reads.
   */
  selectors?: AclRules[];
}

/** What every client needs to connect: ioredis's ready check (INFO), naming, cluster discovery. */
const CONNECTION = [
  'ping',
  'info',
  'client|setname',
  'client|getname',
  'cluster|slots',
  'cluster|nodes',
  'cluster|info',
  'readonly',
  'select',
  'hello',
  'auth',
  // --wait-replicas: a write is confirmed once replicas hold it (sent with EXISTS to route it to a master).
  'wait',
  // pipe's scripts run as Redis 7 functions an admin loads (`pnpm functions`): no user may EVAL or
  // load code of its own.
  'fcall',
];

export function pipelineAcl(prefix = DEFAULT_PREFIX): Record<ServiceName, ServiceAcl> {
  // The prefix becomes part of every key rule: PipelineKeys refuses one that is not a plain name
  // (`x +flushall ~*` would otherwise add rules of its own).
  const keys = new PipelineKeys(prefix);
  const patterns = keys.patterns;
  const rules = (...globs: string[]) => globs.map((glob) => `~${glob}`);
  const readOnly = (...globs: string[]) => globs.map((glob) => `%R~${glob}`);
  // Exactly a day partition or one of its shards, and their batch ledgers: not the aggregator's
  // companions of the same partitions (`…:agg`, `…:hour:*`).
  const producerKeys = rules(patterns.dayPartitions, patterns.shards, ...patterns.batchLedgers);
  // The aggregator's companions of day partitions and of shards, each output stream and its companions
  // (sources of published hours, forwarding marks): not the partitions themselves.
  const aggregatorOwnKeys = [
    ...rules(patterns.partitionCompanions, patterns.shardCompanions),
    ...patterns.outputStreams.flatMap((stream) => rules(stream, patterns.companionsOf(stream))),
    // --windows: the fleet streams of other sizes (`temps:averages:1m`) and their sources.
    ...rules(patterns.fleetWindows, patterns.companionsOf(patterns.fleetWindows)),
    // --per-device: every device's streams of every size, and the devices index.
    ...rules(patterns.deviceWindows, patterns.devicesIndex, patterns.devicesLatest),
  ];
  // The reaper's own keys: the dead letters (and their forwarding marks, outbox moves) and its lease.
  const reaperOwnKeys = rules(
    keys.deadLetters,
    patterns.reaperLease,
    patterns.companionsOf(keys.deadLetters),
  );
  // The alerter's: the alerts stream, its companions (state machines, positions, devices seen), its lease.
  const alerterOwnKeys = rules(keys.alerts, patterns.companionsOf(keys.alerts), patterns.alerterLease);
  return {
    // Writes readings into partitions and its batch ledgers; reads nothing else, deletes nothing.
    producer: {
      user: 'pipe-producer',
      commands: [
        'xadd',
        'pexpireat',
        'pexpire',
        'pexpiretime',
        'pttl',
        'exists',
        'hget',
        // A re-run reads the fingerprints of what earlier runs wrote from each partition's ledger.
        'hgetall',
        'hset',
        'hsetnx',
        'set',
        'get',
        'time',
      ],
      keys: producerKeys,
    },
    // Reads partitions through groups, keeps hour state, publishes averages, late, dead letters, alerts.
    // The commands that add, delete or expire reach only its own keys (the selector): it cannot trim,
    // delete or expire a partition.
    aggregator: {
      user: 'pipe-aggregator',
      commands: [
        'xreadgroup',
        'xack',
        // A drain adopts entries pending with a consumer that is gone.
        'xclaim',
        'xautoclaim',
        'xgroup|create',
        // --take-over moves a partition from the old group to the new one (take-over-2.lua).
        'xgroup|destroy',
        'xpending',
        'xrange',
        'xrevrange',
        'xlen',
        'xinfo|groups',
        'xinfo|stream',
        // --wait-replicas routes its WAIT to a key's master with EXISTS.
        'exists',
        'scan',
        'hget',
        'hgetall',
        'hincrby',
        'hincrbyfloat',
        'hmget',
        'hset',
        'hsetnx',
        'pttl',
        'zadd',
        'zrange',
        'zrangebyscore',
        'zrem',
        // --take-over checks which group a partition's state names (take-over-2.lua).
        'hexists',
        // A drain judges whether the consumers holding pending entries are alive (dead-consumers.ts).
        'xinfo|consumers',
        'time',
      ],
      keys: [...rules(patterns.partitionNames), ...aggregatorOwnKeys],
      // GET/SET: the group that counts into the averages ({averages}:owner). SET overwrites a key of any
      // type, a partition too: like the commands that add, delete or expire, only on its own keys.
      selectors: [{ commands: ['xadd', 'xdel', 'del', 'pexpire', 'get', 'set'], keys: aggregatorOwnKeys }],
    },
    // Claims and dead-letters pending entries, prunes consumers, holds its lease, replays dead letters.
    // It adds to partitions (a replayed letter goes back where it came from), but deletes and expires
    // only its own keys (the selector).
    reaper: {
      user: 'pipe-reaper',
      commands: [
        'xautoclaim',
        'xclaim',
        'xpending',
        'xinfo|groups',
        'xinfo|consumers',
        'xinfo|stream',
        'xgroup|delconsumer',
        // `dlq replay` moves letters back in one transaction.
        'multi',
        'exec',
        'xack',
        'xadd',
        'xrange',
        'xrevrange',
        'xlen',
        'scan',
        'hget',
        'pttl',
        'pexpiretime',
        'exists',
        'type',
        'time',
      ],
      keys: [
        ...rules(patterns.partitionNames, patterns.partitionCompanions),
        ...reaperOwnKeys,
        ...readOnly(keys.averages, keys.late, keys.alerts),
      ],
      // What writes over or removes a key reaches only its own: the lease (SET/GET), the outboxes it
      // empties, the marks of replayed letters, the dead letters. Not the aggregator's state or the
      // producer's ledgers beside the same partitions.
      selectors: [
        {
          commands: ['xdel', 'del', 'pexpire', 'hset', 'set', 'get'],
          keys: [
            ...rules(...patterns.namedCompanions('outbox'), ...patterns.namedCompanions('replayed')),
            ...reaperOwnKeys,
          ],
        },
      ],
    },
    // Reads partitions through its own group; keeps its state machines beside the alerts stream, adds
    // transitions to it, reads it through its webhook group, holds its lease. What adds, writes over or
    // deletes reaches only those keys (the selector): never a partition or another service's state.
    alerter: {
      user: 'pipe-alerter',
      commands: [
        'xreadgroup',
        'xack',
        'xgroup|create',
        'xinfo|groups',
        'xinfo|stream',
        'xpending',
        'xrange',
        // A partition's newest entry (which partition to read first); the newest transitions (status).
        'xrevrange',
        'xlen',
        'exists',
        'scan',
        'hget',
        'hgetall',
        // The devices seen, for the silence check.
        'hvals',
        'pttl',
        'time',
      ],
      keys: [...rules(patterns.partitionNames), ...alerterOwnKeys],
      selectors: [
        { commands: ['xadd', 'hset', 'hdel', 'del', 'pexpire', 'get', 'set'], keys: alerterOwnKeys },
      ],
    },
    // Reads everything of the pipeline; writes only its own positions.
    viewer: {
      user: 'pipe-viewer',
      commands: [
        'xrange',
        'xrevrange',
        'xread',
        'xlen',
        'xinfo|groups',
        // The dashboard's /api/status shows each group's consumers and their oldest pending entry.
        'xinfo|consumers',
        'xpending',
        'xinfo|stream',
        'scan',
        'pttl',
        'pexpiretime',
        'get',
        'set',
        'exists',
        'type',
        'time',
        // The devices index (aggregator --per-device): /api/devices and the 404 of an unknown device.
        'zrevrange',
        'zscan',
        'zcard',
        'zscore',
        'hmget',
        // pipe-alerter's state machines (a hash beside the alerts stream): /api/alerts' active list.
        'hgetall',
      ],
      keys: [...readOnly(...patterns.all), ...rules(patterns.viewerPositions)],
    },
  };
}

/**
 * `ACL SETUSER` arguments for a service's user with the given password. The password becomes one token
 * of a line an operator pastes, so it must be one: printable ASCII without spaces (a space would let
 * `x +@all ~*` through as rules).
 */
export function aclSetUserArgs(acl: ServiceAcl, password: string): string[] {
  if (!/^[\x21-\x7e]{8,}$/.test(password)) {
    throw new PipeError(
      `password of ${acl.user}: at least 8 printable ASCII characters without spaces`,
      'INVALID_PASSWORD',
    );
  }
  return [
    acl.user,
    'reset',
    'on',
    `>${password}`,
    'resetchannels',
    '-@all',
    ...[...CONNECTION, ...acl.commands].map((c) => `+${c}`),
    ...acl.keys,
    ...(acl.selectors ?? []).map((rules) =>
      ['(', [...rules.commands.map((c) => `+${c}`), ...rules.keys].join(' '), ')'].join(''),
    ),
  ];
}

/** The line an operator pastes into redis-cli. */
export function aclSetUserLine(acl: ServiceAcl, password: string): string {
  // A selector is one argument with spaces: quoted, as redis-cli reads it.
  const quoted = aclSetUserArgs(acl, password).map((arg) => (arg.includes(' ') ? `"${arg}"` : arg));
  return `ACL SETUSER ${quoted.join(' ')}`;
}
