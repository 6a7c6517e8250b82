import { describe, expect, it } from 'vitest';
import { activeAlerts, recentAlerts } from '../src/alerts.js';
import { Lease } from '../src/lease.js';
import { sharedServer } from './helpers.js';

const { redis, keys } = sharedServer('alerts');

describe('activeAlerts and recentAlerts', () => {
  it("reads the firing states of pipe-alerter's hash (not the pending ones) and the newest transitions", async () => {
    await redis.hset(keys.alertStates, 'warm:dev:1', 'f:2000:12', 'silent:b', 'f:1000:', 'dry:c', 'p:5');
    await redis.xadd(
      keys.alerts,
      '*',
      'rule',
      'warm',
      'device',
      'dev:1',
      'state',
      'firing',
      'since',
      '2000',
      'at',
      '2500',
      'value',
      '12',
    );
    await redis.xadd(
      keys.alerts,
      '*',
      'rule',
      'silent',
      'device',
      'b',
      'state',
      'resolved',
      'since',
      '1000',
      'at',
      '3000',
      'value',
      '7',
    );
    expect(await activeAlerts(redis, keys)).toEqual([
      { rule: 'silent', device: 'b', since: 1000, value: '' },
      { rule: 'warm', device: 'dev:1', since: 2000, value: '12' },
    ]);
    const recent = await recentAlerts(redis, keys, 1);
    expect(recent).toEqual([
      {
        id: expect.any(String),
        rule: 'silent',
        device: 'b',
        state: 'resolved',
        since: 1000,
        at: 3000,
        value: '7',
      },
    ]);
  });
});

describe('Lease', () => {
  it('is held by one holder at a time, renewed only by it, and released for the next', async () => {
    const a = new Lease(redis, keys.alerterLease, 'a', 1000);
    const b = new Lease(redis, keys.alerterLease, 'b', 1000);
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(await b.renew()).toBe(false);
    expect(await a.renew()).toBe(true);
    expect(await b.holderNow()).toBe('a');
    expect(await b.release()).toBe(false);
    expect(await a.release()).toBe(true);
    expect(await b.acquire()).toBe(true);
    await b.release();
  });
});
