import { appendFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs, type Logger, type PipelineKeys, type RedisClient, silentLogger } from '@pipe/streams';
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type AddReadings, addReadingsCommand } from '../add-readings-script.js';
import { GaveUpError } from '../errors.js';
import type { RawRecord } from '../ingest/records.js';
import { type RecordRejection, type RecordWriterOptions, writeMessages } from '../write-records.js';
import { BrokerRefusedError, brokerRefusal } from './broker-refusal.js';
import { parseReadingsMessage } from './readings-message.js';

export interface MqttBridgeSettings {
  /** `mqtt://host:1883` or `mqtts://…`. */
  url: string;
  /** Client id, credentials, TLS files: a stable client id and clean: false are set by the bridge. */
  client: Pick<IClientOptions, 'clientId' | 'username' | 'password' | 'ca' | 'cert' | 'key'> & {
    clientId: string;
  };
  /** Topic filters subscribed with QoS 1; the device is the level of a filter's `+`. */
  topics: string[];
  maxPayloadBytes: number;
  /** Messages written at once, their PUBACKs held until written; the next waits for room. */
  maxInHand: number;
  batchSize: number;
  writer: RecordWriterOptions;
  /** Each rejection is appended here as a JSON line {topic, index, reason, payload} before the message is acknowledged. */
  rejectsFile?: string;
  registry: Registry;
  log?: Logger;
}

/** How long one attempt at a write may wait for Redis; the bridge then tries again, without acking. */
const ATTEMPT_MS = 2000;

/**
 * Writes of messages in progress at once. The messages that arrive meanwhile wait and go together in the
 * next write (one script call per partition for all of them): one call and one socket write for about
 * --max-in-flight messages instead of one each, which took the bridge from 154–189 to 56–88 CPU ms per
 * 1,000 one-reading messages (Redis from 37–51 to 12–16). Two rather than one so that the bridge can
 * prepare the next write while Redis runs one; on the shared 2-core machine 1 and 2 measured the same.
 */
const WRITES_AT_ONCE = 2;

/** A parsed message waiting to be written with the others that arrive before the next write. */
interface Waiting {
  records: (RawRecord | string)[];
  written: (rejected: RecordRejection[]) => void;
  failed: (err: unknown) => void;
}

/** A QoS 1 message in hand: its write confirmed yet, and its PUBACK once MQTT.js has asked to send it. */
interface InHand {
  messageId: number;
  written: boolean;
  puback?: () => void;
}

/** Stops the retry loop of a message when the bridge stops: the message stays unacknowledged. */
class Stopping extends Error {}

/**
 * Subscribes to readings over MQTT (QoS 1, a persistent session under a stable client id) and writes the
 * messages through writeMessages. A message is acknowledged (PUBACK) only once its readings are confirmed
 * in Redis or rejected with a reason; up to maxInHand messages are in hand, written together (one script
 * call per partition, each message its own batch in the ledger), their PUBACKs sent in arrival order as
 * they are confirmed. While Redis is away nothing is acknowledged, and once maxInHand messages are in hand
 * no packet is read: the broker keeps the rest. A message redelivered after a crash has the same content, so the ledger keeps
 * its readings from being written twice. No I/O until start().
 */
export class MqttBridge {
  private client: MqttClient | undefined;
  private addReadings: AddReadings | undefined;
  private readonly log: Logger;
  private readonly messages: Counter<'outcome'>;
  private stopping: Promise<void> | undefined;
  /** Messages whose PUBACK is not sent yet, in arrival order, and by message id. */
  private readonly inHand: InHand[] = [];
  private readonly byId = new Map<number, InHand>();
  private readonly waitingForRoom: (() => void)[] = [];
  /** Messages parsed and not yet in a write, the writes in progress, and whether the next is scheduled. */
  private waitingForWrite: Waiting[] = [];
  private writes = 0;
  private writeScheduled = false;
  private readonly tasks = new Set<Promise<void>>();
  private rejectsAppended: Promise<void> = Promise.resolve();
  private failure: unknown;
  private settle!: { resolve: () => void; reject: (err: unknown) => void };
  private readonly done = new Promise<void>((resolve, reject) => {
    this.settle = { resolve, reject };
  });

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: PipelineKeys,
    private readonly settings: MqttBridgeSettings,
  ) {
    this.log = settings.log ?? silentLogger;
    this.messages = new Counter({
      name: 'pipe_producer_mqtt_messages_total',
      help: 'MQTT messages acknowledged, by outcome (written: every reading written; rejected: some or all refused)',
      labelNames: ['outcome'],
      registers: [settings.registry],
    });
    const inHand = this.inHand;
    new Gauge({
      name: 'pipe_producer_mqtt_messages_in_hand',
      help: 'MQTT messages received and not acknowledged yet (at most --max-in-flight + 1: the bridge then reads no more)',
      registers: [settings.registry],
      collect() {
        this.set(inHand.length);
      },
    });
  }

  get isRunning(): boolean {
    return this.client !== undefined && this.stopping === undefined && this.failure === undefined;
  }

  /**
   * Connects and subscribes; resolves once connected (the broker may be down: it keeps trying). Rejects with
   * a BrokerRefusedError when the broker refuses the credentials or either side the TLS handshake.
   */
  async start(): Promise<void> {
    if (this.client) throw new Error('MqttBridge.start() was called twice');
    this.addReadings = addReadingsCommand(this.redis);
    // Each write in progress waits for Redis with an error listener of its own writer while Redis is away.
    this.redis.setMaxListeners(this.redis.getMaxListeners() + WRITES_AT_ONCE);
    const client = connect(this.settings.url, {
      ...this.settings.client,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 1000,
      // handleMessage must be in place before the session's queued messages arrive.
      manualConnect: true,
    });
    this.client = client;
    this.holdAcknowledgements(client);
    client.handleMessage = (packet, callback) => {
      const entry: InHand | undefined =
        packet.qos === 1 && packet.messageId !== undefined
          ? { messageId: packet.messageId, written: false }
          : undefined;
      if (entry) {
        this.inHand.push(entry);
        this.byId.set(entry.messageId, entry);
      }
      const task = this.take(packet).then(
        () => {
          if (!entry) return callback();
          entry.written = true;
          this.sendAcknowledgements();
        },
        (err: unknown) => {
          if (!(err instanceof Stopping)) this.fail(err);
        },
      );
      this.tasks.add(task);
      void task.finally(() => this.tasks.delete(task));
      // MQTT.js hands the next packet once this calls back; its PUBACK is held until the write (see
      // holdAcknowledgements). At most maxInHand messages are in hand: then the next one waits for room.
      if (entry) void this.room().then(() => callback());
    };
    client.on('error', (err) => {
      const refusal = brokerRefusal(err);
      // The same CONNECT would be refused again: stop, rather than retry forever looking healthy.
      if (refusal) this.fail(new BrokerRefusedError(refusal, { cause: err }));
      else this.log.warn({ err: err.message }, 'mqtt connection error');
    });
    client.on('offline', () => this.log.warn({}, 'mqtt broker unreachable; reconnecting'));
    const connected = new Promise<void>((resolve) => client.once('connect', () => resolve()));
    client.on('connect', (connack) => {
      this.log.info({ sessionPresent: connack.sessionPresent }, 'connected to the mqtt broker');
      // Subscribed on every connection: a broker that lost the session (no persistence) forgets them.
      client.subscribe(this.settings.topics, { qos: 1 }, (err) => {
        if (err) this.fail(err);
      });
    });
    client.connect();
    await Promise.race([connected, this.done]);
  }

  /** Resolves once stop() has finished; rejects with what stopped the bridge otherwise. */
  run(): Promise<void> {
    return this.done;
  }

  /**
   * Finishes the writes in progress (written and acknowledged, unless Redis is away; the messages not in a
   * write yet stay unacknowledged), then disconnects.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      while (this.tasks.size > 0) await Promise.all([...this.tasks]);
      await this.client?.endAsync().catch(() => {});
      if (this.failure === undefined) this.settle.resolve();
    })();
    return this.stopping;
  }

  /**
   * MQTT.js sends a QoS 1 message's PUBACK as soon as handleMessage calls back, and only then hands the next
   * packet: called back after the write, the bridge would have one message in hand and pay a Redis round
   * trip per message. So handleMessage calls back at once (while there is room) and the PUBACK MQTT.js then
   * sends is held here until the message's readings are confirmed, and sent in the order the messages came
   * (MQTT 3.1.1, 4.6). This reaches into MQTT.js's `_sendPacket` (private; the tests pin the behaviour).
   */
  private holdAcknowledgements(client: MqttClient): void {
    const internal = client as unknown as {
      _sendPacket: (packet: { cmd: string; messageId?: number }, cb?: () => void) => void;
    };
    const send = internal._sendPacket.bind(client);
    internal._sendPacket = (packet, cb) => {
      const entry =
        packet.cmd === 'puback' && packet.messageId !== undefined
          ? this.byId.get(packet.messageId)
          : undefined;
      if (!entry || entry.puback) return send(packet, cb);
      entry.puback = () => send(packet);
      cb?.();
      this.sendAcknowledgements();
    };
  }

  /** Sends the PUBACKs of the written messages at the head of the line, freeing their room. */
  private sendAcknowledgements(): void {
    while (this.inHand[0]?.written && this.inHand[0].puback) {
      const entry = this.inHand.shift()!;
      if (this.byId.get(entry.messageId) === entry) this.byId.delete(entry.messageId);
      entry.puback!();
      this.waitingForRoom.shift()?.();
    }
  }

  private async room(): Promise<void> {
    // Counted without the message that asks: it is in inHand already.
    while (this.inHand.length > this.settings.maxInHand)
      await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.log.error(
      { err },
      err instanceof BrokerRefusedError
        ? 'bridge stopped: the broker refused it'
        : 'bridge stopped: a message could not be written',
    );
    this.client?.end(true);
    this.settle.reject(err);
  }

  /** Writes a message's readings with the others in hand; resolves when it may be acknowledged. */
  private async take(packet: IPublishPacket): Promise<void> {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const parsed = parseReadingsMessage(
      this.settings.topics,
      packet.topic,
      payload,
      this.settings.maxPayloadBytes,
    );
    if (!parsed.ok) {
      this.settings.writer.metrics?.rejected(1);
      await this.recordRejections(packet.topic, payload, [{ index: null, reason: parsed.reason }]);
      this.messages.inc({ outcome: 'rejected' });
      return;
    }
    const rejected = await new Promise<RecordRejection[]>((written, failed) => {
      this.waitingForWrite.push({ records: parsed.records, written, failed });
      this.scheduleWrite();
    });
    if (rejected.length > 0) await this.recordRejections(packet.topic, payload, rejected);
    this.messages.inc({ outcome: rejected.length > 0 ? 'rejected' : 'written' });
  }

  /**
   * Starts the next write once the messages of this turn of the event loop are parsed (MQTT.js hands the
   * packets of one socket read one after the other), if fewer than WRITES_AT_ONCE are in progress; else
   * the end of a write starts it.
   */
  private scheduleWrite(): void {
    if (this.writeScheduled || this.writes >= WRITES_AT_ONCE) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      if (this.writes >= WRITES_AT_ONCE || this.waitingForWrite.length === 0) return;
      const messages = this.waitingForWrite;
      this.waitingForWrite = [];
      this.writes++;
      void this.write(messages).finally(() => {
        this.writes--;
        if (this.waitingForWrite.length > 0) this.scheduleWrite();
      });
    });
  }

  /** Writes messages together, retrying while Redis is away (the ledger recognises what landed). */
  private async write(messages: Waiting[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      // Stopping, or stopped by another write's failure: the messages stay unacknowledged for the next run.
      if (this.stopping || this.failure !== undefined) {
        for (const message of messages) message.failed(new Stopping());
        return;
      }
      try {
        const rejected = await writeMessages(
          this.redis,
          this.keys,
          {
            writer: this.settings.writer,
            addReadings: this.addReadings!,
            giveUpAfterMs: ATTEMPT_MS,
            batchSize: this.settings.batchSize,
            log: this.log,
          },
          messages.map((message) => message.records),
        );
        for (const [n, message] of messages.entries()) message.written(rejected[n]!);
        return;
      } catch (err) {
        if (!(err instanceof GaveUpError)) {
          for (const message of messages) message.failed(err);
          return;
        }
        // Not acknowledged: the broker keeps the messages (and the ones behind them) until Redis is back.
        this.log.warn(
          { messages: messages.length, attempt },
          'redis unavailable; messages not acknowledged yet',
        );
        await sleep(backoffMs(attempt));
      }
    }
  }

  private async recordRejections(
    topic: string,
    payload: Buffer,
    rejections: { index: number | null; reason: string }[],
  ): Promise<void> {
    for (const { index, reason } of rejections) this.log.warn({ topic, index, reason }, 'reading rejected');
    if (!this.settings.rejectsFile) return;
    const text = payload.toString('utf8');
    const lines = rejections.map(
      (r) => `${JSON.stringify({ topic, index: r.index, reason: r.reason, payload: text })}\n`,
    );
    // One append at a time: messages are written concurrently, and their lines must not interleave.
    const appended = this.rejectsAppended.then(() => appendFile(this.settings.rejectsFile!, lines.join('')));
    this.rejectsAppended = appended.catch(() => {});
    await appended;
  }
}
