import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@pipe/streams';
import type { HostAllowList } from './host-allow-list.js';

/**
 * Sent with every answer, refusals included. The policy allows exactly what the page in public/ uses:
 * its own scripts and style sheets (uPlot sets styles through the DOM, which a policy does not
 * restrict), fetch and EventSource to the same origin; no inline code, no framing (clickjacking).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const METHODS = 'GET, HEAD';

/**
 * What every request passes before a route sees it: the security headers are set, then the method,
 * the Host header and the request target are checked. A refusal is answered here, logged at debug
 * only: anyone can send these, and a log line (or stack trace) per request would let them flood the logs.
 */
export class RequestGuard {
  constructor(
    private readonly hosts: HostAllowList,
    private readonly log: Logger,
  ) {}

  /** The request's URL when a route may answer it; undefined when it has been refused. */
  admit(req: IncomingMessage, res: ServerResponse): URL | undefined {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    if (!this.hosts.allows(req.headers.host)) {
      // 421: this server does not answer for that name. Nothing of the dashboard goes with it.
      return this.refuse(req, res, 421, 'this server does not answer for that Host');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', METHODS);
      return this.refuse(req, res, 405, `method not allowed; use ${METHODS}`);
    }
    const url = requestUrl(req.url);
    return url ?? this.refuse(req, res, 400, 'the request target must be a path (/…)');
  }

  private refuse(req: IncomingMessage, res: ServerResponse, code: number, error: string): undefined {
    this.log.debug({ code, method: req.method, target: req.url?.slice(0, 200) }, 'refused request');
    res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ error }));
    return undefined;
  }
}

/**
 * The URL of an origin-form target (`/path?query`). Anything else is refused: the absolute form
 * (`http://host/path`, for proxies), `*`, and `//name…`, which a URL parser reads as another host.
 */
function requestUrl(target: string | undefined): URL | undefined {
  if (!target?.startsWith('/') || target.startsWith('//')) return undefined;
  try {
    return new URL(target, 'http://viewer');
  } catch {
    return undefined;
  }
}
