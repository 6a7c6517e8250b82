import {
  type ConsumerBatch,
  ConsumerGroup,
  ConsumerLoop,
  decodeReading,
  discoverPartitions,
  Lease,
  type Logger,
  PipeError,
  type PipelineKeys,
  pause,
  type RedisClient,
} from '@pipe/streams';
import type { AlerterMetrics } from './metrics.js';
import { hasUnread, partitionToRead } from './partition-order.js';
import { type AlertRule, encodeRules } from './rules.js';
import { type AlerterScripts, defineAlerterScripts } from './scripts.js';
import { WebhookDelivery, type WebhookSettings } from './webhook.js';

export interface AlerterSettings {
  rules: AlertRule[];
  /** The alerter's consumer group on the partitions (its own: it never holds the averages back). */
  group: string;
  /** One name for every instance: only the lease holder reads, and takes over what its predecessor held. */
  consumer: string;
  /** Read everything there is, fire what is silent by then (stream time), and end. */
  drain: boolean;
  count: number;
  blockMs: number;
  leaseTtlMs: number;
  /** This instance's name in the lease. */
  holder: string;
  /** While live: how often silent devices are looked for (on the clock), once caught up. */
  silenceCheckMs: number;
  /** With drain: how long Redis may keep failing before run() rejects. */
  giveUpAfter?: number;
  /** --webhook: each transition POSTed by the lease holder, beside the reading (never holding it back). */
  webhook?: WebhookSettings;
}

export interface AlerterDeps {
  redis: RedisClient;
  keys: PipelineKeys;
  log: Logger;
  metrics?: AlerterMetrics;
}

/** How often partitions are rediscovered while entries flow. */
const DISCOVERY_MS = 2000;

/** The lease went to another instance while this one read (it stalled past the lease time). */
export class LeaseLostError extends PipeError {
  override readonly name = 'LeaseLostError';
  constructor(holder: string) {
    super(`lost the alerter lease to ${holder}: stopped reading`, 'LEASE_LOST');
  }
}

/**
 * Applies the readings of the partitions to the alert rules, one partition at a time in order, through
 * its own consumer group: each batch in one script call that skips what its partition's position has
 * passed, runs the state machines, writes each transition to the alerts stream and moves the position
 * (apply-readings-4.lua), then XACK. One instance reads at a time (a lease); others wait for it.
 */
export class Alerter {
  private rules: AlertRule[];
  private encodedRules: string;
  private scripts: AlerterScripts | undefined;
  private loop: ConsumerLoop | undefined;
  private readonly lease: Lease;
  private renewTimer: NodeJS.Timeout | undefined;
  private partitions: string[] = [];
  private current: string | undefined;
  private lastDiscovery = 0;
  private lastSilenceCheck = 0;
  private stopRequested = false;
  private readonly stopSignal = new AbortController();
  private stopped: Promise<void> | undefined;
  private failure: Error | undefined;
  private running: Promise<void> | undefined;
  private webhook: WebhookDelivery | undefined;
  /** Readings this instance applied (a drain reports it). */
  applied = 0;

  constructor(
    private readonly settings: AlerterSettings,
    private readonly deps: AlerterDeps,
  ) {
    this.rules = settings.rules;
    this.encodedRules = encodeRules(this.rules);
    this.lease = new Lease(deps.redis, deps.keys.alerterLease, settings.holder, settings.leaseTtlMs);
    deps.metrics?.rules.set(this.rules.length);
  }

  get isRunning(): boolean {
    return this.running !== undefined && !this.stopRequested;
  }

  /** The rules in force. */
  get activeRules(): readonly AlertRule[] {
    return this.rules;
  }

  /** New rules from the next batch on; the state of each (rule, device) stays (SIGHUP). */
  reload(rules: AlertRule[]): void {
    this.rules = rules;
    this.encodedRules = encodeRules(rules);
    this.deps.metrics?.rules.set(rules.length);
    this.deps.metrics?.reloads.inc({ outcome: 'applied' });
    this.deps.log.info({ rules: rules.length }, 'rules reloaded');
  }

  /** Waits for the lease, then reads until stop(), or with drain until everything present is applied. */
  run(): Promise<void> {
    if (this.running) throw new PipeError('alerter is already running', 'ALREADY_RUNNING');
    this.running = this.readUntilStopped();
    return this.running;
  }

  private async readUntilStopped(): Promise<void> {
    const { redis, log } = this.deps;
    const s = this.settings;
    this.scripts = defineAlerterScripts(redis);
    try {
      if (!(await this.takeLease())) return;
      this.loop = new ConsumerLoop({
        redis,
        group: s.group,
        consumer: s.consumer,
        count: s.count,
        blockMs: s.drain ? Math.min(s.blockMs, 50) : s.blockMs,
        giveUpAfterMs: s.drain ? s.giveUpAfter : undefined,
        logger: log,
        streams: () => this.streamsToRead(),
        handle: (batches) => this.apply(batches),
        onIdle: () => this.onIdle(),
      });
      log.info({ group: s.group, rules: this.rules.length, drain: s.drain }, 'alerter started');
      if (s.webhook) this.webhook = new WebhookDelivery(s.webhook, this.deps);
      const delivering = this.webhook?.run();
      if (!this.stopRequested) await this.loop.run();
      await this.webhook?.stop();
      await delivering;
    } finally {
      clearInterval(this.renewTimer);
      this.deps.metrics?.leaseHolder.set(0);
      await this.lease.release().catch(() => false);
    }
    if (this.failure) throw this.failure;
  }

  /** Lets the batch in hand finish, ends the loop; resolves once the lease is released. */
  stop(): Promise<void> {
    this.stopRequested = true;
    this.stopSignal.abort();
    this.stopped ??= (async () => {
      await Promise.all([this.loop?.stop(), this.webhook?.stop()]);
      await this.running?.catch(() => {});
    })();
    return this.stopped;
  }

  /** Takes the lease, waiting while another instance holds it; false when stopped meanwhile. */
  private async takeLease(): Promise<boolean> {
    const { log, metrics } = this.deps;
    let told = false;
    while (!this.stopRequested) {
      try {
        if (await this.lease.acquire()) break;
        if (!told)
          log.info({ holder: await this.lease.holderNow() }, 'another alerter holds the lease; waiting');
        told = true;
      } catch (err) {
        log.warn({ err }, 'cannot take the lease yet; retrying');
      }
      await pause(Math.max(50, this.settings.leaseTtlMs / 10), this.stopSignal.signal);
    }
    if (this.stopRequested) return false;
    metrics?.leaseHolder.set(1);
    log.info({ holder: this.settings.holder }, 'lease acquired; reading');
    this.renewTimer = setInterval(() => void this.renewLease(), Math.max(50, this.settings.leaseTtlMs / 3));
    return true;
  }

  private async renewLease(): Promise<void> {
    try {
      if (await this.lease.renew()) return;
      this.failure = new LeaseLostError((await this.lease.holderNow()) ?? 'nobody');
      void this.stop();
    } catch (err) {
      this.deps.log.warn({ err }, 'cannot renew the lease; retrying');
    }
  }

  private async streamsToRead(force = false): Promise<string[]> {
    const now = Date.now();
    if (force || now - this.lastDiscovery >= DISCOVERY_MS) {
      this.lastDiscovery = now;
      this.partitions = await discoverPartitions(this.deps.redis, this.deps.keys);
      this.current = await partitionToRead(this.deps.redis, this.settings.group, this.partitions);
    }
    return this.current ? [this.current] : [];
  }

  private async apply(batches: ConsumerBatch[]): Promise<void> {
    const started = performance.now();
    for (const batch of batches) await this.applyBatch(batch);
    this.deps.metrics?.batchSeconds.observe((performance.now() - started) / 1000);
    if (!this.settings.drain) await this.checkSilenceOnClock();
  }

  private async applyBatch({ stream, entries }: ConsumerBatch): Promise<void> {
    const { redis, keys, log, metrics } = this.deps;
    const args: (string | number)[] = [this.encodedRules, stream, 0];
    let readings = 0;
    let undecodable = 0;
    for (const entry of entries) {
      const decoded = decodeReading(entry.id, entry.fields);
      if (!decoded.ok) {
        undecodable++;
        continue;
      }
      const r = decoded.value;
      args.push(entry.id, r.device, r.ts, r.temp_f, r.humidity ?? '');
      readings++;
    }
    args[2] = readings;
    if (readings > 0) {
      const [applied, skipped, fired, resolved] = (await this.scripts!.applyReadings(
        [keys.alertStates, keys.alertPositions, keys.alertDevicesSeen, keys.alerts],
        args,
      )) as number[];
      this.applied += applied!;
      metrics?.readingsApplied.inc(applied);
      metrics?.readingsSkipped.inc(skipped);
      metrics?.transitions.inc({ state: 'firing' }, fired);
      metrics?.transitions.inc({ state: 'resolved' }, resolved);
      if (skipped! > 0) log.info({ stream, count: skipped }, 'skipped readings already applied');
      if (fired! + resolved! > 0) log.info({ stream, fired, resolved }, 'alert transitions');
    }
    if (undecodable > 0) {
      metrics?.undecodable.inc(undecodable);
      log.warn(
        { stream, count: undecodable },
        'acknowledged entries that are not readings (left to the aggregator)',
      );
    }
    await new ConsumerGroup(redis, this.settings.group, [stream]).ack(stream, ...entries.map((e) => e.id));
  }

  /** While live and caught up: no_data rules on the clock, every silenceCheckMs. */
  private async checkSilenceOnClock(): Promise<void> {
    if (Date.now() - this.lastSilenceCheck < this.settings.silenceCheckMs) return;
    this.lastSilenceCheck = Date.now();
    await this.checkSilence(Date.now());
  }

  private async checkSilence(now: number): Promise<void> {
    if (!this.rules.some((r) => r.kind === 'no_data')) return;
    const { keys, metrics, log } = this.deps;
    const fired = (await this.scripts!.checkSilence(
      [keys.alertStates, keys.alertDevicesSeen, keys.alerts],
      [this.encodedRules, now],
    )) as number;
    if (fired > 0) {
      metrics?.transitions.inc({ state: 'firing' }, fired);
      log.info({ fired, now }, 'silent devices');
    }
  }

  private async onIdle(): Promise<void> {
    if (this.stopRequested) return;
    const before = this.current;
    await this.streamsToRead(true);
    // Another partition has entries to apply first: read it next.
    if (this.current !== before) return;
    if (this.current && (await hasUnread(this.deps.redis, this.settings.group, this.current))) return;
    if (!this.settings.drain) {
      await this.checkSilenceOnClock();
      return;
    }
    // Drained: what is silent by the newest reading's time (stream time) fires now.
    const seen = await this.deps.redis.hvals(this.deps.keys.alertDevicesSeen);
    if (seen.length > 0) await this.checkSilence(Math.max(...seen.map(Number)));
    this.deps.log.info({ partitions: this.partitions.length, readings: this.applied }, 'drained');
    if (this.webhook) {
      // Two empty reads of the webhook: the second began after every transition above was written.
      await this.webhook.caughtUp();
      await this.webhook.caughtUp();
      this.deps.log.info({}, 'webhook caught up');
    }
    void this.stop();
  }
}
