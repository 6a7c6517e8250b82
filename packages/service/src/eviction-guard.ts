import { isCluster, type RedisClient, redisMemory } from '@pipe/streams';
import type { Logger } from './logger.js';

/** Exit status of a service that refuses a server which may evict its keys (a configuration problem). */
export const EXIT_EVICTING_SERVER = 1;

/**
 * Whether a `maxmemory-policy` lets Redis delete pipeline keys under memory pressure: every `allkeys-*`
 * policy, and every `volatile-*` one too, because every partition carries an expiry. Evicted
 * partitions are readings gone without a trace, and every process would still report success.
 */
export function canEvictPipelineKeys(policy: string): boolean {
  return policy !== 'noeviction';
}

export interface EvictionGuardOptions {
  /** Starts the line on stderr: `pipe-aggregator: ...`. */
  program: string;
  /** --allow-eviction: run anyway, with a warning. */
  allow: boolean;
  /** Where the warning goes with --allow-eviction; stderr without one. */
  log?: Logger;
}

/**
 * Checks the server's eviction policy at once (INFO is the client's first command, so its answer comes
 * before the answers a command acts on) and again after every reconnect, which may be to a failed-over
 * or reconfigured server. A policy that can evict pipeline
 * keys stops the process with one line naming it and the fix, unless --allow-eviction was given on
 * purpose, which logs a warning instead. As BullMQ does for its queues, a server that may drop data
 * is refused rather than trusted.
 */
export function guardAgainstEviction(redis: RedisClient, options: EvictionGuardOptions): void {
  let needed = true;
  const check = async () => {
    let risky: { node: string; policy: string }[];
    try {
      needed = false;
      // INFO memory is open to every ACL user that may connect; a cluster's every master is read.
      risky = (await redisMemory(redis)).filter((p) => canEvictPipelineKeys(p.policy));
    } catch (err) {
      // Not answering is the connection's business (retries, --give-up-after); checked again on ready.
      needed = true;
      options.log?.debug({ err }, 'could not read the eviction policy');
      return;
    }
    if (risky.length === 0) return;
    const policies = [...new Set(risky.map((p) => p.policy))].join(', ');
    if (options.allow) {
      const warning =
        'Redis may evict pipeline keys (--allow-eviction): readings can be lost without a trace';
      if (options.log) options.log.warn({ policy: policies, nodes: risky.map((p) => p.node) }, warning);
      else process.stderr.write(`${options.program}: ${warning} (maxmemory-policy ${policies})\n`);
      return;
    }
    process.stderr.write(
      `${options.program}: Redis maxmemory-policy is ${policies}, which can evict pipeline keys (every partition has an expiry) and lose readings silently; ` +
        'set it to noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf), or pass --allow-eviction (env ALLOW_EVICTION=1) to run anyway\n',
    );
    process.exit(EXIT_EVICTING_SERVER);
  };
  // A cluster client knows its masters only once ready; a single server's INFO simply queues.
  if (!isCluster(redis)) void check();
  redis.on('close', () => {
    needed = true;
  });
  redis.on('ready', () => {
    if (needed) void check();
  });
}
