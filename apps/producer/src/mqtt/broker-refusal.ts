import { describeRedisFailure } from '@pipe/service';
import { PipeError } from '@pipe/streams';

/** The broker refused the bridge in a way that reconnecting cannot fix: credentials, authorization, TLS. */
export class BrokerRefusedError extends PipeError {
  override readonly name = 'BrokerRefusedError';
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`the MQTT broker refused the connection: ${reason}`, 'BROKER_REFUSED', false, options);
  }
}

/** CONNACK return codes (MQTT 3.1.1, 3.2.2.3) that the same CONNECT gets again, in an operator's words. */
const REFUSING_CONNACK: Record<number, string> = {
  1: 'protocol version refused',
  2: 'client id refused',
  4: 'authentication failed',
  5: 'not authorized',
};

/**
 * Why a connection error of MQTT.js is final, or undefined when reconnecting may help (a broker that is
 * down, restarting, unavailable). A refusing CONNACK comes as an error with its return code as a number;
 * certificate errors carry Node's TLS codes, which the Redis connections read the same way.
 */
export function brokerRefusal(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number') {
    const words = REFUSING_CONNACK[code];
    return words ? `${words} (${err.message})` : undefined;
  }
  // OpenSSL's errors read `<id>:error:<code>:SSL routines:<function>:<words>:<file>:<line>...`: keep the words.
  const words = /:SSL routines:[^:]*:([^:]+):/.exec(err.message)?.[1];
  const failure = describeRedisFailure(words ? Object.assign(new Error(words), { code }) : err);
  return failure.permanent ? failure.reason : undefined;
}
