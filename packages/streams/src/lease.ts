import { defineLuaCommand } from './lua-command.js';
import type { RedisClient } from './redis.js';

const RENEW_LUA = new URL('./lua/renew-lease-1.lua', import.meta.url);
const RELEASE_LUA = new URL('./lua/release-lease-1.lua', import.meta.url);

/**
 * A lease in Redis that elects one active replica (the reaper's, the alerter's): SET NX PX to take it, a
 * compare-and-set script to renew it, a compare-and-delete script to give it up. A holder that dies
 * without releasing loses it when it expires, `ttlMs` after its last renewal at most.
 */
export class Lease {
  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    readonly holder: string,
    readonly ttlMs: number,
  ) {}

  /** Takes the lease when free; true when this holder has it now (taken, or still ours and renewed). */
  async acquire(): Promise<boolean> {
    const taken = await this.redis.set(this.key, this.holder, 'PX', this.ttlMs, 'NX');
    return taken === 'OK' || (await this.renew());
  }

  /** Extends the lease; false when it is no longer ours. */
  async renew(): Promise<boolean> {
    const renew = defineLuaCommand(this.redis, 'pipeRenewLease', RENEW_LUA);
    return (await renew([this.key], [this.holder, this.ttlMs])) === 1;
  }

  /** Gives the lease up if it is ours. */
  async release(): Promise<boolean> {
    const release = defineLuaCommand(this.redis, 'pipeReleaseLease', RELEASE_LUA);
    return (await release([this.key], [this.holder])) === 1;
  }

  /** Who holds the lease now (null: nobody). */
  async holderNow(): Promise<string | null> {
    return this.redis.get(this.key);
  }
}
