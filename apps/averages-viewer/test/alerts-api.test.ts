import { sharedRedis } from '@pipe/fixtures';
import { aclSetUserArgs, pipelineAcl } from '@pipe/service';
import { PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import type { AlertsAnswer } from '../src/alerts-answer.js';
import { warm, writeTransition } from './alert-fixture.js';
import { RunningDashboard } from './running-dashboard.js';
import { SseReader } from './sse-reader.js';

const { url: redisUrl, redis } = sharedRedis('viewer-alerts');

const alertsOf = (reader: SseReader) =>
  reader.events.filter((e) => e.event === 'alert').map((e) => ({ id: e.id, ...JSON.parse(e.data) }));

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

  it('pushes each transition to /api/alerts/stream as an `alert` event with its stream ID, and replays what came after Last-Event-ID', async () => {
    const keys = new PipelineKeys(randomPrefix('alert-stream'));
    const before = await writeTransition(redis, keys, warm('freezer-0', 'firing', 1500, '11'));
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix, { alertsPollMs: 50 });
    // As the page opens it: after the newest transition /api/alerts answered.
    const live = await SseReader.open(`${dashboard.base}/api/alerts/stream?after=${before}`);
    try {
      expect(live.status).toBe(200);
      await live.waitFor((e) => e.event === 'health');
      const fired = await writeTransition(redis, keys, warm('freezer-1', 'firing', 2000, '12.5'));
      await live.waitFor((e) => e.event === 'alert' && e.id === fired);
      const resolved = await writeTransition(redis, keys, warm('freezer-1', 'resolved', 3000, '7.5'));
      await live.waitFor((e) => e.event === 'alert' && e.id === resolved);
      expect(alertsOf(live)).toEqual([
        { id: fired, ...warm('freezer-1', 'firing', 2000, '12.5') },
        { id: resolved, ...warm('freezer-1', 'resolved', 3000, '7.5') },
      ]);

      // EventSource reconnecting with Last-Event-ID gets what came after it, once, then live ones.
      const again = await SseReader.open(`${dashboard.base}/api/alerts/stream`, { 'last-event-id': fired });
      try {
        await again.waitFor((e) => e.id === resolved);
        const next = await writeTransition(redis, keys, warm('freezer-2', 'firing', 4000, '13'));
        await again.waitFor((e) => e.id === next);
        expect(alertsOf(again).map((a) => a.id)).toEqual([resolved, next]);
      } finally {
        again.close();
      }
      // `?after=` (a page's first connection) replays from its position too; a malformed one is ignored.
      const fromStart = await SseReader.open(`${dashboard.base}/api/alerts/stream?after=0-0`);
      const junk = await SseReader.open(`${dashboard.base}/api/alerts/stream?after=nonsense`);
      try {
        await fromStart.waitFor((e) => e.event === 'alert' && JSON.parse(e.data).device === 'freezer-2');
        expect(alertsOf(fromStart).map((a) => a.id)[0]).toBe(before);
        expect(alertsOf(fromStart)).toHaveLength(4);
        await junk.waitFor((e) => e.event === 'health');
        expect(junk.status).toBe(200);
      } finally {
        fromStart.close();
        junk.close();
      }
    } finally {
      live.close();
      await dashboard.stop();
    }
  });

  it('answers /api/alerts and its event stream as the least-privilege viewer user (pnpm acl)', async () => {
    const keys = new PipelineKeys(randomPrefix('alertacl'));
    await writeTransition(redis, keys, warm('freezer-1', 'firing', 2000, '12.5'));
    const user = `${keys.prefix}-viewer`;
    await redis.call(
      'ACL',
      'SETUSER',
      ...aclSetUserArgs({ ...pipelineAcl(keys.prefix).viewer, user }, 'viewer-password-1'),
    );
    const url = new URL(redisUrl);
    url.username = user;
    url.password = 'viewer-password-1';
    const dashboard = await RunningDashboard.start(url.toString(), keys.prefix, { alertsPollMs: 50 });
    const stream = await SseReader.open(`${dashboard.base}/api/alerts/stream?after=0-0`);
    try {
      const answer = await dashboard.json<AlertsAnswer>('/api/alerts');
      expect(answer.status).toBe(200);
      expect(answer.body.active).toEqual([
        { rule: 'freezer-warm', device: 'freezer-1', since: 1000, value: '12.5' },
      ]);
      await stream.waitFor((e) => e.event === 'alert');
      const resolved = await writeTransition(redis, keys, warm('freezer-1', 'resolved', 3000, '7'));
      await stream.waitFor((e) => e.id === resolved);
      expect((await dashboard.json<AlertsAnswer>('/api/alerts')).body.active).toEqual([]);
    } finally {
      stream.close();
      await dashboard.stop();
      await redis.call('ACL', 'DELUSER', user);
    }
  });
});
