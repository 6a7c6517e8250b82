import { readFileSync } from 'node:fs';
import {
  closeServer,
  createRegistry,
  durabilityOf,
  type Logger,
  startMetricsServer,
  stopOnSignals,
} from '@pipe/service';
import { redactUrl } from '@pipe/streams';
import type { MqttConfig } from '../config.js';
import { WriteFailedError } from '../errors.js';
import { prometheusMetrics } from '../metrics.js';
import { BrokerRefusedError } from '../mqtt/broker-refusal.js';
import { MqttBridge } from '../mqtt/mqtt-bridge.js';
import { type CommandIo, processIo } from './command-io.js';
import { EXIT } from './exit-codes.js';
import { openWriterConnection } from './writer-session.js';

/**
 * Bridges MQTT readings into the partitions until SIGINT/SIGTERM (io.handleSignals) or `stop` aborts.
 * Exits 4 when Redis refuses a write for good (the message stays unacknowledged, so nothing is lost), 3
 * when the broker refuses the credentials or the TLS handshake (as the services do when Redis refuses them).
 */
export async function mqttCommand(
  config: MqttConfig,
  log: Logger,
  io: CommandIo = processIo,
  { stop }: { stop?: AbortSignal } = {},
): Promise<number> {
  const { redis, keys } = openWriterConnection(config, log, 'pipe-producer:mqtt');
  const registry = createRegistry('producer');
  const file = (path: string | undefined) => (path ? readFileSync(path) : undefined);
  const bridge = new MqttBridge(redis, keys, {
    url: config.mqttUrl,
    client: {
      clientId: config.clientId,
      username: config.mqttUsername,
      password: config.mqttPassword,
      ca: file(config.mqttCa),
      cert: file(config.mqttCert),
      key: file(config.mqttKey),
    },
    topics: config.topic,
    maxPayloadBytes: config.maxPayload,
    maxInHand: config.maxInFlight,
    batchSize: config.batchSize,
    writer: {
      retentionMs: config.retention,
      durability: durabilityOf(config),
      idFromTime: config.idFromTime,
      shards: config.shards,
      metrics: prometheusMetrics(registry),
    },
    rejectsFile: config.rejects,
    registry,
    log,
  });
  const metrics =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsServer(
          config.metricsPort,
          registry,
          { redis, isRunning: () => bridge.isRunning },
          config.metricsHost,
        );
  if (io.handleSignals) stopOnSignals(bridge, log);
  stop?.addEventListener('abort', () => void bridge.stop(), { once: true });
  let code: number = EXIT.ok;
  try {
    await bridge.start();
    await bridge.run();
  } catch (err) {
    if (err instanceof BrokerRefusedError) {
      io.stderr.write(`mqtt: cannot use the MQTT broker at ${redactUrl(config.mqttUrl)}: ${err.reason}\n`);
      code = EXIT.gaveUp;
    } else {
      io.stderr.write(`mqtt: ${(err as Error).message}\n`);
      code = err instanceof WriteFailedError ? EXIT.writeFailed : EXIT.usage;
    }
  }
  if (metrics) await closeServer(metrics);
  redis.disconnect();
  return code;
}
