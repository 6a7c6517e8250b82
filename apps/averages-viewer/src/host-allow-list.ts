/** A `Host` header or an allow-list entry: a name or address, and the port when one is given. */
interface HostPort {
  host: string;
  port?: number;
}

// `name`, `1.2.3.4` or `[v6]`, then an optional `:port`. Lower-cased first: host names ignore case.
const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/;

function parseHostPort(text: string): HostPort | undefined {
  const match = HOST_PORT.exec(text.trim().toLowerCase());
  if (!match) return undefined;
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && port > 65535) return undefined;
  return { host: match[1]!, port };
}

/** `::1` → `[::1]`: how an IPv6 address appears in a Host header. */
function asHostHeader(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

/**
 * The Host header values the dashboard answers. A page on a name the operator did not list is refused,
 * whatever address that name resolves to: this is what stops DNS rebinding, where a hostile site's name
 * is pointed at 127.0.0.1 so that its scripts can read a dashboard on the visitor's machine.
 */
export class HostAllowList {
  private constructor(private readonly entries: HostPort[]) {}

  /**
   * Entries `host` (any port) or `host:port`; an IPv6 address in brackets (`[::1]:8080`). Throws
   * with the entries that do not parse.
   */
  static parse(entries: string[]): HostAllowList {
    const parsed = entries.map((entry) => ({ entry, hostPort: parseHostPort(entry) }));
    const bad = parsed.filter((p) => p.hostPort === undefined).map((p) => p.entry);
    if (bad.length > 0) throw new Error(`not host or host:port: ${bad.join(', ')}`);
    return new HostAllowList(parsed.map((p) => p.hostPort!));
  }

  /** The default: the address the server is bound to and the loopback names, each with the server's port. */
  static defaults(bindHost: string, port: number): HostAllowList {
    const hosts = new Set([asHostHeader(bindHost), 'localhost', '127.0.0.1', '[::1]']);
    return HostAllowList.parse([...hosts].map((host) => `${host}:${port}`));
  }

  /** Whether a request with this Host header is for this server (no Host header: it is not). */
  allows(hostHeader: string | undefined): boolean {
    const asked = hostHeader === undefined ? undefined : parseHostPort(hostHeader);
    if (!asked) return false;
    return this.entries.some(
      (entry) => entry.host === asked.host && (entry.port === undefined || entry.port === asked.port),
    );
  }
}
