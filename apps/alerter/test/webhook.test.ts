import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sharedRedis, writeReadings } from '@pipe/fixtures';
import { waitFor } from '@pipe/testkit';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebhookBody } from '../src/webhook.js';
import { alerterInTest, drainSettings, transitions } from './in-process.js';

const { redis, fresh } = sharedRedis('alerter-webhook');
const T0 = Date.UTC(2026, 0, 8, 9, 0);
const RULES = 'rules:\n  - {name: hot, above: 90, clear: 80}\n';

interface Call {
  status: number;
  key: string | undefined;
  body: WebhookBody;
}

/** A webhook receiver that answers 503 to its first `failures` calls, then 204; it records every call. */
async function receiver(failures: number): Promise<{ url: string; calls: Call[]; server: Server }> {
  const calls: Call[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const status = calls.length < failures ? 503 : 204;
      calls.push({
        status,
        key: req.headers['idempotency-key'] as string | undefined,
        body: JSON.parse(text),
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`, calls, server };
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

const webhookOf = (url: string) => ({
  url,
  group: 'alerter-webhook',
  retryBaseMs: 10,
  retryCapMs: 50,
  timeoutMs: 2000,
});

describe('--webhook', () => {
  it('gets each transition although it fails its first three calls, and none twice once acknowledged', async () => {
    const { keys } = fresh();
    await writeReadings(redis, keys, [
      { device: 'a', ts: T0, temp_f: 95 },
      { device: 'b', ts: T0 + 1, temp_f: 96 },
      { device: 'a', ts: T0 + 2, temp_f: 70 },
      { device: 'b', ts: T0 + 3, temp_f: 60 },
    ]);
    const hook = await receiver(3);
    const first = alerterInTest(redis, keys, drainSettings(RULES, { webhook: webhookOf(hook.url) }));
    await first.alerter.run();
    const written = await transitions(redis, keys);
    expect(written).toHaveLength(4);
    const accepted = hook.calls.filter((c) => c.status === 204);
    expect(hook.calls.slice(0, 3).map((c) => c.status)).toEqual([503, 503, 503]);
    // The refused calls were the first transition, sent again with the same key.
    expect(new Set(hook.calls.slice(0, 4).map((c) => c.key))).toEqual(new Set(['hot/a/' + T0 + '/firing']));
    expect(accepted.map((c) => [c.body.device, c.body.state])).toEqual(
      written.map((t) => [t.device, t.state]),
    );
    expect(accepted.map((c) => c.key)).toEqual(accepted.map((c) => c.body.idempotency_key));
    expect(new Set(accepted.map((c) => c.key)).size).toBe(4);
    expect(accepted[0]!.body).toMatchObject({
      rule: 'hot',
      device: 'a',
      state: 'firing',
      since: T0,
      at: T0,
      value: '95',
    });
    const metrics = await first.registry.metrics();
    expect(metrics).toMatch(/pipe_alerter_webhook_delivered_total 4/);
    expect(metrics).toMatch(/pipe_alerter_webhook_failures_total 3/);

    // A restart (another drain, new readings): only the new transition is sent.
    await writeReadings(redis, keys, [{ device: 'c', ts: T0 + 4, temp_f: 91 }]);
    const second = alerterInTest(redis, keys, drainSettings(RULES, { webhook: webhookOf(hook.url) }));
    await second.alerter.run();
    expect(hook.calls.slice(7).map((c) => [c.body.device, c.status])).toEqual([['c', 204]]);
  });

  it('keeps an unanswered transition pending across a stop, and sends it with the same key after the restart', async () => {
    const { keys } = fresh();
    await writeReadings(redis, keys, [{ device: 'a', ts: T0, temp_f: 95 }]);
    const hook = await receiver(1_000_000);
    const settings = drainSettings(RULES, { drain: false, webhook: webhookOf(hook.url) });
    const first = alerterInTest(redis, keys, settings);
    const running = first.alerter.run();
    while (hook.calls.length < 2) await new Promise((r) => setTimeout(r, 20));
    await first.alerter.stop();
    await running;
    const ok = await receiver(0);
    const second = alerterInTest(redis, keys, drainSettings(RULES, { webhook: webhookOf(ok.url) }));
    await second.alerter.run();
    expect(ok.calls.map((c) => c.key)).toEqual([hook.calls[0]!.key]);
  });

  it('counts the transitions not yet acknowledged in pipe_alerter_webhook_backlog, read at scrape time', async () => {
    const { keys } = fresh();
    const backlogOf = async (registry: Registry) =>
      (await registry.metrics()).match(/^pipe_alerter_webhook_backlog (\d+)$/m)?.[1];
    await writeReadings(redis, keys, [
      { device: 'a', ts: T0, temp_f: 95 },
      { device: 'b', ts: T0 + 1, temp_f: 96 },
      { device: 'a', ts: T0 + 2, temp_f: 70 },
    ]);
    const refusing = await receiver(1_000_000);
    const settings = drainSettings(RULES, { drain: false, webhook: webhookOf(refusing.url) });
    const first = alerterInTest(redis, keys, settings);
    const running = first.alerter.run();
    // One transition in hand (pending), two not yet delivered to the webhook's group (lag).
    await waitFor('the backlog of three', async () => (await backlogOf(first.registry)) === '3');
    await first.alerter.stop();
    await running;
    const ok = await receiver(0);
    const second = alerterInTest(redis, keys, drainSettings(RULES, { webhook: webhookOf(ok.url) }));
    await second.alerter.run();
    expect(ok.calls).toHaveLength(3);
    expect(await backlogOf(second.registry)).toBe('0');
  });
});
