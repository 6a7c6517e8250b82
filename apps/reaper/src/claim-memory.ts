/**
 * XAUTOCLAIM resets the idle time of the consumer it claims *to*, so after the reaper hands entries
 * to a consumer, XINFO CONSUMERS shows that consumer fresh whether it is alive or not. Were the reaper
 * to trust that, a consumer that died just after being chosen would look live for ever, as long as it
 * keeps being handed entries. This memory keeps, per consumer, when the reaper last claimed to it and
 * when the consumer had last been seen before that, so only the consumer's own activity counts.
 */
export class ClaimMemory {
  private readonly claims = new Map<string, { claimedAt: number; seenBefore: number }>();

  /** Records a claim to `consumer` at `claimedAt` (client ms, taken after the claim's reply). */
  recordClaim(scope: string, consumer: string, claimedAt: number, seenBefore: number): void {
    const key = `${scope}\u0000${consumer}`;
    // Repeated claims before the consumer showed up keep the first real sighting.
    const earlier = this.claims.get(key);
    this.claims.set(key, {
      claimedAt,
      seenBefore: earlier ? Math.min(earlier.seenBefore, seenBefore) : seenBefore,
    });
  }

  /**
   * When the consumer was last seen doing something itself, from XINFO's `idle` and the client time
   * `readAt` taken just *before* XINFO ran (so `readAt - idle` never lands after the real sighting): a
   * sighting no later than our last claim to it was our claim, so the sighting before it counts.
   */
  lastSeen(scope: string, consumer: string, idleMs: number, readAt: number): number {
    const seen = readAt - idleMs;
    const key = `${scope}\u0000${consumer}`;
    const claim = this.claims.get(key);
    if (!claim) return seen;
    if (seen > claim.claimedAt) {
      this.claims.delete(key);
      return seen;
    }
    return claim.seenBefore;
  }

  /** Forgets consumers of a scope that no longer exist (deleted, or their partition expired). */
  forget(scope: string, consumer?: string): void {
    if (consumer !== undefined) {
      this.claims.delete(`${scope}\u0000${consumer}`);
      return;
    }
    for (const key of this.claims.keys()) if (key.startsWith(`${scope}\u0000`)) this.claims.delete(key);
  }
}
