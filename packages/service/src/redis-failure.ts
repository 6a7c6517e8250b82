/** Why a connection to Redis failed, in words an operator acts on, and whether retrying can help. */
export interface RedisFailure {
  /** e.g. `connection refused (ECONNREFUSED)`, `authentication failed (WRONGPASS ...)`. */
  reason: string;
  /** Wrong credentials or a certificate the client rejects: the same attempt fails the same way again. */
  permanent: boolean;
}

const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
};

// Redis answers AUTH (or the first command without it) with these; older servers say "ERR invalid password".
const AUTH_REPLY = /^(WRONGPASS|NOAUTH)\b|^ERR (invalid (username-)?password|AUTH )/;

// Node's certificate verification codes and OpenSSL's handshake errors.
const TLS_CODE =
  /^(ERR_SSL_|ERR_TLS_)|CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT)|^(DEPTH_ZERO|HOSTNAME_MISMATCH)/;

export function describeRedisFailure(err: unknown): RedisFailure {
  if (err instanceof AggregateError && err.errors.length > 0) return describeRedisFailure(err.errors[0]);
  // A cluster reports "Failed to refresh slots cache." with the last seed's error inside.
  const lastNodeError = (err as { lastNodeError?: unknown } | undefined)?.lastNodeError;
  if (lastNodeError) {
    const seed = describeRedisFailure(lastNodeError);
    return seed.permanent ? seed : { reason: `no seed answered (${seed.reason})`, permanent: false };
  }
  if (!(err instanceof Error)) return { reason: String(err), permanent: false };
  const message = err.message.replace(/^Ready check failed: /, '');
  const code = (err as NodeJS.ErrnoException).code;
  if (AUTH_REPLY.test(message)) return { reason: `authentication failed (${message})`, permanent: true };
  if (code && TLS_CODE.test(code))
    return { reason: `TLS handshake failed: ${message} (${code})`, permanent: true };
  // A server that drops the connection mid-handshake (a plain port, say) is not a certificate problem.
  if (/\bTLS\b/.test(message)) return { reason: `TLS handshake failed: ${message}`, permanent: false };
  if (code && NETWORK[code]) return { reason: `${NETWORK[code]} (${code})`, permanent: false };
  // ioredis's words when a socket closed before the reply; a cluster's seeds report only this.
  if (message === 'Connection is closed.') return { reason: 'connection closed', permanent: false };
  return { reason: code ? `${message} (${code})` : message || err.name, permanent: false };
}
