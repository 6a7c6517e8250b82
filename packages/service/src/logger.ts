import { pino, type Logger } from 'pino';

/**
 * JSON logs to stdout (pretty on a terminal with PIPE_PRETTY_LOGS=1, as `pnpm demo` and `dev` set).
 * Passwords in URLs never reach a log line.
 */
export function createLogger(service: string, level = 'info'): Logger {
  const pretty = process.env.PIPE_PRETTY_LOGS === '1';
  return pino({
    name: service,
    level,
    base: { service },
    redact: { paths: ['redisUrl', '*.redisUrl', 'password', '*.password'], censor: '***' },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, destination: 2, ignore: 'pid,hostname' } } }
      : {}),
  });
}

export type { Logger };
