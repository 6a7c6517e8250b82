import { describe, expect, it } from 'vitest';
import { canEvictPipelineKeys } from './eviction-guard.js';

describe('canEvictPipelineKeys', () => {
  it('is false only for noeviction: every partition has an expiry, so volatile-* policies evict them too', () => {
    expect(canEvictPipelineKeys('noeviction')).toBe(false);
    for (const policy of [
      'volatile-lru',
      'volatile-lfu',
      'volatile-random',
      'volatile-ttl',
      'allkeys-lru',
      'allkeys-lfu',
      'allkeys-random',
    ])
      expect(canEvictPipelineKeys(policy), policy).toBe(true);
  });
});
