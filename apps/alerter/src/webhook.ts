import {
  groupsOf,
  type ConsumerBatch,
  ConsumerGroup,
  ConsumerLoop,
  type Logger,
  type PipelineKeys,
  pause,
  type RedisClient,
  type StreamEntry,
  backoffMs,
} from '@pipe/streams';
import type { AlerterMetrics } from './metrics.js';

export interface WebhookSettings {
  url: string;
  /** Its own consumer group on the alerts stream: what it acknowledged was answered 2xx. */
  group: string;
  /** First retry pause, ms; doubling up to capMs. */
  retryBaseMs: number;
  retryCapMs: number;
  /** One call's time limit, ms. */
  timeoutMs: number;
}

export interface WebhookDeps {
  redis: RedisClient;
  keys: PipelineKeys;
  log: Logger;
  metrics?: AlerterMetrics;
}

/** What the webhook receives: a transition and the key that names it across redeliveries. */
export interface WebhookBody {
  idempotency_key: string;
  rule: string;
  device: string;
  state: string;
  since: number;
  at: number;
  value: string;
  /** The transition's entry ID in the alerts stream. */
  id: string;
}

/** (rule, device, since, state): the same for a transition however often it is sent. */
export function idempotencyKeyOf(t: { rule: string; device: string; since: number; state: string }): string {
  return `${t.rule}/${t.device}/${t.since}/${t.state}`;
}

export function webhookBodyOf(entry: StreamEntry): WebhookBody {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < entry.fields.length; i += 2) f[entry.fields[i]!] = entry.fields[i + 1]!;
  const t = {
    rule: f.rule ?? '',
    device: f.device ?? '',
    state: f.state ?? '',
    since: Number(f.since),
    at: Number(f.at),
    value: f.value ?? '',
  };
  return { idempotency_key: idempotencyKeyOf(t), ...t, id: entry.id };
}

/**
 * Delivers each transition of the alerts stream to a webhook, in order, through its own consumer group
 * and connection, so it never holds the reading of partitions back: POST until the receiver answers 2xx
 * (retries with backoff, for ever), then XACK. A restart re-sends only what was not acknowledged, with the
 * same idempotency key; an acknowledged transition is never sent again.
 */
export class WebhookDelivery {
  private loop: ConsumerLoop | undefined;
  private readonly stopSignal = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly settings: WebhookSettings,
    private readonly deps: WebhookDeps,
  ) {
    deps.metrics?.watchWebhookBacklog(() => this.backlog());
  }

  /** Transitions not yet acknowledged: not yet delivered to the group, or delivered and unanswered. */
  async backlog(): Promise<number> {
    const { redis, keys } = this.deps;
    const group = (await groupsOf(redis, keys.alerts)).find((g) => g.name === this.settings.group);
    if (!group) return redis.xlen(keys.alerts);
    // Lag unknown (entries deleted from the stream): the pending ones at least.
    return (group.lag ?? 0) + group.pending;
  }

  run(): Promise<void> {
    this.loop = new ConsumerLoop({
      redis: this.deps.redis,
      group: this.settings.group,
      consumer: 'webhook',
      count: 50,
      blockMs: 500,
      logger: this.deps.log,
      streams: () => [this.deps.keys.alerts],
      handle: (batches) => this.deliver(batches),
      onIdle: async () => {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      },
    });
    return this.loop.run();
  }

  /** Resolves at the next read that finds nothing new: everything written before was delivered. */
  caughtUp(): Promise<void> {
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopSignal.abort();
    for (const resolve of this.idleWaiters) resolve();
    await this.loop?.stop();
  }

  private async deliver(batches: ConsumerBatch[]): Promise<void> {
    const { redis, metrics } = this.deps;
    for (const { stream, entries } of batches) {
      const group = new ConsumerGroup(redis, this.settings.group, [stream]);
      metrics?.webhookPending.set(entries.length);
      for (const [i, entry] of entries.entries()) {
        if (!(await this.post(webhookBodyOf(entry)))) return; // stopped: the rest stays pending
        await group.ack(stream, entry.id);
        metrics?.webhookDelivered.inc();
        metrics?.webhookPending.set(entries.length - i - 1);
      }
    }
  }

  /** POSTs until a 2xx answer; false when stopped first. */
  private async post(body: WebhookBody): Promise<boolean> {
    const { log, metrics } = this.deps;
    const s = this.settings;
    for (let attempt = 1; !this.stopSignal.signal.aborted; attempt++) {
      try {
        const response = await fetch(s.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': body.idempotency_key },
          body: JSON.stringify(body),
          signal: AbortSignal.any([this.stopSignal.signal, AbortSignal.timeout(s.timeoutMs)]),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return true;
        metrics?.webhookFailures.inc();
        log.warn(
          { status: response.status, key: body.idempotency_key, attempt },
          'webhook refused; retrying',
        );
      } catch (err) {
        if (this.stopSignal.signal.aborted) return false;
        metrics?.webhookFailures.inc();
        log.warn(
          { err: (err as Error).message, key: body.idempotency_key, attempt },
          'webhook failed; retrying',
        );
      }
      await pause(
        backoffMs(attempt - 1, { baseMs: s.retryBaseMs, capMs: s.retryCapMs }),
        this.stopSignal.signal,
      );
    }
    return false;
  }
}
