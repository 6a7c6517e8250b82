import { pino, type Logger } from 'pino';
import { serializeError } from './error-serializer.js';

/**
 * JSON logs to stdout (pretty on a terminal with PIPE_PRETTY_LOGS=1, as `pnpm demo` and `dev` set).
 * Passwords in URLs never reach a log line, nor the arguments of a failed command (serializeError). `toStderr` keeps stdout free for a command's own output
 * (e.g. `pipe-viewer tail --json`).
 */
export function createLogger(service: string, level = 'info', { toStderr = false } = {}): Logger {
  const pretty = process.env.PIPE_PRETTY_LOGS === '1';
  const options = {
    name: service,
    level,
    base: { service },
    redact: { paths: ['redisUrl', '*.redisUrl', 'password', '*.password'], censor: '***' },
    serializers: { err: serializeError, error: serializeError },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, destination: 2, ignore: 'pid,hostname' },
          },
        }
      : {}),
  };
  // Pretty output already goes to stderr.
  return toStderr && !pretty ? pino(options, pino.destination({ dest: 2, sync: true })) : pino(options);
}

export type { Logger };
