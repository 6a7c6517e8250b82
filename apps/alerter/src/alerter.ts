import {
  type ConsumerBatch,
  ConsumerGroup,
  compareIds,
  type Reading,
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
import { AlertStates, type StateChanges, type Transition } from './state-machines.js';
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

interface StateCache {
  states: AlertStates;
  positions: Map<string, string>;
}

/** A batch applied to the states held: what its commit (commit-batch-5.lua) writes. */
interface AppliedBatch {
  /** The partition's position the batch was applied after ('' = none). */
  after: string;
  /** Its last reading's ID: the partition's position once committed. */
  position: string;
  readings: number;
  changes: StateChanges;
  transitions: Transition[];
}

/** A batch whose commit was sent and is not yet answered; acknowledged once committed. */
interface CommitInFlight {
  stream: string;
  /** Every entry ID of the batch, readings or not: acknowledged after the commit. */
  ids: string[];
  /** Its readings, to apply again should the position have moved meanwhile. */
  readings: { id: string; reading: Reading }[];
  applied: AppliedBatch;
  reply: Promise<unknown>;
}

/**
 * The commit-batch-5.lua arguments of an applied batch: states set and deleted apart, as HSET and HDEL
 * take them, and the devices' newest times in one argument (a pair per device of the batch: sent as
 * arguments of their own, they were the bulk of what the commit cost this process).
 */
function commitArgs(partition: string, batch: AppliedBatch): (string | number)[] {
  const { states, seen } = batch.changes;
  const sets: string[] = [];
  const deletes: string[] = [];
  for (const [field, state] of states) {
    if (state === '') deletes.push(field);
    else sets.push(field, state);
  }
  // Times as strings: Lua would write a number back in its own format.
  const times: string[] = [];
  for (const [device, ts] of seen) times.push(device, String(ts));
  const args: (string | number)[] = [partition, batch.after, batch.position, sets.length / 2, ...sets];
  args.push(deletes.length, ...deletes, JSON.stringify(times), batch.transitions.length);
  for (const t of batch.transitions) args.push(t.rule, t.device, t.state, t.since, t.at, t.value);
  return args;
}

/** How often partitions are rediscovered while entries flow. */
const DISCOVERY_MS = 2000;
/** How often the positions of partitions that are gone are looked for (at the first discovery, then so). */
const PRUNE_MS = 10 * 60_000;

/** The lease went to another instance while this one read (it stalled past the lease time). */
export class LeaseLostError extends PipeError {
  override readonly name = 'LeaseLostError';
  constructor(holder: string) {
    super(`lost the alerter lease to ${holder}: stopped reading`, 'LEASE_LOST');
  }
}

/**
 * Applies the readings of the partitions to the alert rules, one partition at a time in order, through
 * its own consumer group: each batch skips what its partition's position has passed, runs the state
 * machines (held here, as Redis has them), and commits their changes, the transitions and the new
 * position in one script call that writes nothing if the position moved meanwhile (commit-batch-5.lua);
 * then XACK. One instance reads at a time (a lease); others wait for it.
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
  private lastPrune = 0;
  private lastSilenceCheck = 0;
  private stopRequested = false;
  private readonly stopSignal = new AbortController();
  private stopped: Promise<void> | undefined;
  private failure: Error | undefined;
  private running: Promise<void> | undefined;
  private webhook: WebhookDelivery | undefined;
  /** The state machines and positions as Redis holds them after the last commit (one reader: the lease). */
  private cache: StateCache | undefined;
  /** The batch whose commit was sent last and is not yet answered (see settle()). */
  private inFlight: CommitInFlight | undefined;
  /** The XACK of the batch committed last, not yet answered. */
  private acking: Promise<void> | undefined;
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
    this.cache?.states.useRules(rules);
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
        // The next batch is read while this one is applied: they are still applied one after the other.
        prefetch: true,
        logger: log,
        streams: () => this.streamsToRead(),
        handle: (batches) => this.apply(batches),
        onIdle: () => this.onIdle(),
      });
      log.info({ group: s.group, rules: this.rules.length, drain: s.drain }, 'alerter started');
      if (s.webhook) this.webhook = new WebhookDelivery(s.webhook, this.deps);
      const delivering = this.webhook?.run();
      if (!this.stopRequested) await this.loop.run();
      await this.settled().catch((err) => {
        // Its entries stay pending: the next start reads them again (and skips them if committed).
        log.warn({ err }, 'the last commit did not settle');
      });
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
      // Expired with nobody holding it: this process stalled past the lease time (a long GC, a loaded
      // machine). No other alerter read meanwhile unless it took and gave back the lease, and then it moved
      // the positions, which the next commit sees (commit-batch-5 refuses, the batch is read again). So
      // take it back rather than stop.
      if ((await this.lease.holderNow()) === null && (await this.lease.acquire())) {
        this.deps.log.warn(
          { holder: this.settings.holder },
          'the lease had expired with nobody holding it; took it back',
        );
        return;
      }
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
      if (now - this.lastPrune >= PRUNE_MS) {
        this.lastPrune = now;
        await this.prunePositions();
      }
    }
    return this.current ? [this.current] : [];
  }

  private async apply(batches: ConsumerBatch[]): Promise<void> {
    const started = performance.now();
    for (const batch of batches) await this.applyBatch(batch);
    this.deps.metrics?.batchSeconds.observe((performance.now() - started) / 1000);
    // A batch shorter than a read's COUNT means caught up: only then is the clock a fair judge of silence
    // (while a backlog is read, the devices' last readings lag the clock for the alerter's sake).
    const caughtUp = batches.every((b) => b.entries.length < this.settings.count);
    // A commit stays in flight only while a backlog is read: the loop then reads ahead (never its own
    // pending entries, which would include the batch not yet acknowledged). Caught up, it is finished here.
    if (caughtUp) await this.settled();
    if (!this.settings.drain && caughtUp) await this.checkSilenceOnClock();
  }

  /**
   * Applies a batch to the state machines held here and sends their changes, the transitions and the
   * partition's new position in one script call (commit-batch-5.lua), which writes nothing when the
   * position is no longer the one the batch was applied after. Entries at or below the position were
   * applied before (a redelivery) and are skipped. The commit is not awaited: the next batch is applied
   * while Redis runs it, and settle() then takes its answer, acknowledges its batch (XACK) or, when the
   * position had moved, applies it again on the states read anew from Redis.
   */
  private async applyBatch({ stream, entries }: ConsumerBatch): Promise<void> {
    const { metrics, log } = this.deps;
    let undecodable = 0;
    const readings: { id: string; reading: Reading }[] = [];
    for (const entry of entries) {
      const decoded = decodeReading(entry.id, entry.fields);
      if (decoded.ok) readings.push({ id: entry.id, reading: decoded.value });
      else undecodable++;
    }
    if (undecodable > 0) {
      metrics?.undecodable.inc(undecodable);
      log.warn(
        { stream, count: undecodable },
        'acknowledged entries that are not readings (left to the aggregator)',
      );
    }
    const ids = entries.map((e) => e.id);
    try {
      // On the states held, which already include the batch whose commit is in flight (if any).
      const held = this.cache;
      let applied = held ? this.applyReadings(held, stream, readings) : undefined;
      await this.settle();
      // That commit was not made: the states were read again, and this batch is applied to them.
      if (held === undefined || this.cache !== held)
        applied = this.applyReadings(await this.loadedCache(), stream, readings);
      if (applied === undefined) {
        await this.ack(stream, ids);
        return;
      }
      const reply = this.commit(stream, applied);
      // Its failure is taken by settle(); until then it must not count as unhandled.
      reply.catch(() => {});
      this.inFlight = { stream, ids, readings, applied, reply };
    } catch (err) {
      // The states held may include readings never committed: read them again from Redis.
      this.cache = undefined;
      throw err;
    }
  }

  /**
   * Applies the readings after the partition's position to the states held, and moves the position held.
   * Undefined when every reading was applied before (a redelivery: skipped).
   */
  private applyReadings(
    cache: StateCache,
    stream: string,
    readings: { id: string; reading: Reading }[],
  ): AppliedBatch | undefined {
    const after = cache.positions.get(stream);
    // A batch's IDs ascend: only one that starts at or below the position holds entries applied before.
    const fresh =
      after === undefined || readings.length === 0 || compareIds(readings[0]!.id, after) > 0
        ? readings
        : readings.filter((r) => compareIds(r.id, after) > 0);
    const skipped = readings.length - fresh.length;
    if (skipped > 0) {
      this.deps.log.info({ stream, count: skipped }, 'skipped readings already applied');
      this.deps.metrics?.readingsSkipped.inc(skipped);
    }
    if (fresh.length === 0) return undefined;
    const transitions: Transition[] = [];
    for (const r of fresh) cache.states.apply(r.reading, transitions);
    const position = fresh[fresh.length - 1]!.id;
    cache.positions.set(stream, position);
    const changes = cache.states.takeChanges();
    return { after: after ?? '', position, readings: fresh.length, changes, transitions };
  }

  private commit(stream: string, batch: AppliedBatch): Promise<unknown> {
    const { keys } = this.deps;
    return this.scripts!.commitBatch(
      [keys.alertStates, keys.alertPositions, keys.alertDevicesSeen, keys.alerts],
      commitArgs(stream, batch),
    );
  }

  /**
   * Takes the answer of the commit in flight. Committed: its batch is acknowledged (the XACK is sent, and
   * awaited at the next settle). Not committed (another alerter moved the position): the states are read
   * again from Redis and the batch applied and committed once more. A failure drops the states held.
   */
  private async settle(): Promise<void> {
    const acking = this.acking;
    this.acking = undefined;
    await acking;
    const flight = this.inFlight;
    if (!flight) return;
    this.inFlight = undefined;
    const { stream } = flight;
    let batch: AppliedBatch | undefined = flight.applied;
    let committed: unknown;
    try {
      committed = await flight.reply;
      for (let attempt = 1; committed !== 1; attempt++) {
        this.cache = undefined;
        this.deps.log.warn(
          { stream, attempt },
          'partition position moved under this alerter; reading its state again',
        );
        if (attempt > 2) throw new PipeError(`position of ${stream} keeps moving`, 'POSITION_MOVED', true);
        batch = this.applyReadings(await this.loadedCache(), stream, flight.readings);
        if (batch === undefined) break;
        committed = await this.commit(stream, batch);
      }
    } catch (err) {
      this.cache = undefined;
      throw err;
    }
    if (batch !== undefined) this.countCommitted(stream, batch);
    this.acking = this.ack(stream, flight.ids);
    // Awaited at the next settle (or settled()); until then it must not count as unhandled.
    this.acking.catch(() => {});
  }

  /** Settles the commit in flight and waits for its XACK: nothing of this alerter's is left under way. */
  private async settled(): Promise<void> {
    await this.settle();
    const acking = this.acking;
    this.acking = undefined;
    await acking;
  }

  private async ack(stream: string, ids: string[]): Promise<void> {
    await new ConsumerGroup(this.deps.redis, this.settings.group, [stream]).ack(stream, ...ids);
  }

  /** Counts a committed batch. */
  private countCommitted(stream: string, batch: AppliedBatch): void {
    const { metrics, log } = this.deps;
    const { transitions } = batch;
    this.applied += batch.readings;
    metrics?.readingsApplied.inc(batch.readings);
    const fired = transitions.filter((t) => t.state === 'firing').length;
    metrics?.transitions.inc({ state: 'firing' }, fired);
    metrics?.transitions.inc({ state: 'resolved' }, transitions.length - fired);
    if (transitions.length > 0)
      log.info({ stream, fired, resolved: transitions.length - fired }, 'alert transitions');
  }

  /** The states, devices seen and positions, read from Redis when not held (at start, after a failure). */
  private async loadedCache(): Promise<StateCache> {
    if (this.cache) return this.cache;
    const { redis, keys } = this.deps;
    const [states, seen, positions] = await Promise.all([
      redis.hgetall(keys.alertStates),
      redis.hgetall(keys.alertDevicesSeen),
      redis.hgetall(keys.alertPositions),
    ]);
    this.cache = {
      states: new AlertStates(
        new Map(Object.entries(states)),
        new Map(Object.entries(seen).map(([device, ts]) => [device, Number(ts)])),
        this.rules,
      ),
      positions: new Map(Object.entries(positions)),
    };
    return this.cache;
  }

  /**
   * Deletes the positions of partitions whose key no longer exists (expired, deleted): they can deliver
   * nothing, and were they written again, their new entries' IDs are above the old position anyway (see
   * prune-positions-1.lua, which deletes a position only if it is still the one seen here). Without this
   * the positions hash would keep an entry for every partition ever read.
   */
  private async prunePositions(): Promise<void> {
    const { redis, keys, log, metrics } = this.deps;
    const known = new Set(this.partitions);
    const gone: string[] = [];
    for (const [partition, position] of Object.entries(await redis.hgetall(keys.alertPositions))) {
      // EXISTS one key at a time: on a cluster each partition may live on another node.
      if (!known.has(partition) && (await redis.exists(partition)) === 0) gone.push(partition, position);
    }
    if (gone.length === 0) return;
    // The positions held here must not include one being deleted: nothing may be in flight.
    await this.settled();
    const pruned = (await this.scripts!.prunePositions([keys.alertPositions], gone)) as number;
    if (pruned > 0) this.cache = undefined;
    metrics?.positionsPruned.inc(pruned);
    log.info(
      { pruned, partitions: gone.filter((_, i) => i % 2 === 0) },
      'forgot the positions of partitions that are gone',
    );
  }

  /** While live and caught up: no_data rules on the clock, every silenceCheckMs. */
  private async checkSilenceOnClock(): Promise<void> {
    if (Date.now() - this.lastSilenceCheck < this.settings.silenceCheckMs) return;
    this.lastSilenceCheck = Date.now();
    await this.checkSilence(Date.now());
  }

  private async checkSilence(now: number): Promise<void> {
    if (!this.rules.some((r) => r.kind === 'no_data')) return;
    // The script reads and writes the states: every commit sent must be in first.
    await this.settled();
    const { keys, metrics, log } = this.deps;
    const fired = (await this.scripts!.checkSilence(
      [keys.alertStates, keys.alertDevicesSeen, keys.alerts],
      [this.encodedRules, now],
    )) as number;
    if (fired > 0) {
      // The script changed states in Redis: the ones held here are read again.
      this.cache = undefined;
      metrics?.transitions.inc({ state: 'firing' }, fired);
      log.info({ fired, now }, 'silent devices');
    }
  }

  private async onIdle(): Promise<void> {
    await this.settled();
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
    // A loop, not Math.max(...seen): a fleet may have more devices than a call takes arguments.
    let newest = Number.NEGATIVE_INFINITY;
    for (const ts of seen) newest = Math.max(newest, Number(ts));
    if (seen.length > 0) await this.checkSilence(newest);
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
