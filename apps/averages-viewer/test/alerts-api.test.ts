import { sharedRedis } from '@pipe/fixtures';
import { PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import type { AlertsAnswer } from '../src/alerts-answer.js';
import { RunningDashboard } from './running-dashboard.js';

const { url: redisUrl, redis } = sharedRedis('viewer-alerts');

describe('DashboardServer: /api/alerts', () => {
  it("answers the alerts firing now from pipe-alerter's state and the newest transitions, newest first", async () => {
    const keys = new PipelineKeys(randomPrefix('alerts'));
    // As pipe-alerter leaves them: one firing, one pending (not an alert yet), one resolved episode.
    await redis.hset(keys.alertStates, 'freezer-warm:freezer-1', 'f:1000:12.5', 'dry:greenhouse-a', 'p:1500');
    const transition = (device: string, state: string, since: number, at: number, value: string) =>
      redis.xadd(
        keys.alerts,
        '*',
        'rule',
        'freezer-warm',
        'device',
        device,
        'state',
        state,
        'since',
        since,
        'at',
        at,
        'value',
        value,
      );
    await transition('freezer-2', 'firing', 100, 200, '11');
    await transition('freezer-2', 'resolved', 100, 300, '7');
    await transition('freezer-1', 'firing', 1000, 1900, '12.5');
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    try {
      const answer = await dashboard.json<AlertsAnswer>('/api/alerts');
      expect(answer.status).toBe(200);
      expect(answer.body.active).toEqual([
        { rule: 'freezer-warm', device: 'freezer-1', since: 1000, value: '12.5' },
      ]);
      expect(answer.body.recent.map(({ id, ...t }) => t)).toEqual([
        { rule: 'freezer-warm', device: 'freezer-1', state: 'firing', since: 1000, at: 1900, value: '12.5' },
        { rule: 'freezer-warm', device: 'freezer-2', state: 'resolved', since: 100, at: 300, value: '7' },
        { rule: 'freezer-warm', device: 'freezer-2', state: 'firing', since: 100, at: 200, value: '11' },
      ]);
    } finally {
      await dashboard.stop();
    }
  });

  it('answers empty lists where no alerter ever ran', async () => {
    const dashboard = await RunningDashboard.start(redisUrl, randomPrefix('no-alerts'));
    try {
      expect((await dashboard.json<AlertsAnswer>('/api/alerts')).body).toEqual({ active: [], recent: [] });
    } finally {
      await dashboard.stop();
    }
  });
});
