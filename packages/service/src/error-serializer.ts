import { pino } from 'pino';

/** user:password@ in a URL, as a message or stack may quote it. */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi;
const MAX_DEPTH = 5;

/**
 * pino's error serializer, minus what can carry credentials: ioredis attaches the failed command to
 * its errors, and for AUTH/HELLO that is `[user, password]`, so a command's arguments are dropped (its
 * name is kept); a password in a URL quoted in a message or stack is masked. Causes and aggregated
 * errors are scrubbed the same way. The one serializer every log line's `err` goes through.
 */
export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? maskUrls(err) : err;
  return scrub(pino.stdSerializers.err(err) as unknown as Record<string, unknown>, 0);
}

function maskUrls(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@');
}

function scrub(value: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (key === 'command' && field && typeof field === 'object') {
      out.command = { name: (field as { name?: unknown }).name };
    } else if (key === 'args' || key === 'previousErrors') {
      // ioredis' own copies of the command arguments (and of errors that carry them).
    } else if (typeof field === 'string') {
      out[key] = maskUrls(field);
    } else if (field && typeof field === 'object' && depth < MAX_DEPTH) {
      out[key] = Array.isArray(field)
        ? field.map((f) => (f && typeof f === 'object' ? scrub(f as Record<string, unknown>, depth + 1) : f))
        : scrub(field as Record<string, unknown>, depth + 1);
    } else {
      out[key] = field;
    }
  }
  return out;
}
