import { request } from 'node:http';
import { ConfigError } from '@pipe/service';
import { partitionEntries } from '@pipe/fixtures';
import { RedisServer, randomPrefix, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { httpCommand } from '../src/commands/http.js';
import { httpConfig, httpSchema } from '../src/config.js';
import { type Flags, textSink } from './in-process.js';

// `pipe-producer http` in the test's process: the command body with its flags read by the same schema,
// against the shared redis-server (its own for the outage), talked to over real HTTP.

const redisUrl = inject('redisUrl');
const TOKEN = 'test-token-1';
const DAY_MS = 86_400_000;
let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterAll(() => redis.disconnect());

interface Endpoint {
  url: string;
  prefix: string;
  /** Stops the endpoint; resolves with the command's exit status. */
  stop(): Promise<number>;
}

async function startEndpoint(flags: Flags = {}, url = redisUrl): Promise<Endpoint> {
  const prefix = randomPrefix('http');
  const config = httpSchema.parse({ redisUrl: url, prefix, port: '0', token: TOKEN, ...flags });
  const stopper = new AbortController();
  const sink = textSink();
  const log = pino({ level: 'warn', base: { service: 'producer' } }, sink);
  let listening!: (port: number) => void;
  const port = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const io = { stdin: process.stdin, stdout: sink, stderr: sink, handleSignals: false };
  const done = httpCommand(config, log, io, { stop: stopper.signal, onListening: listening });
  const ready = await Promise.race([
    port,
    done.then((code) => Promise.reject(new Error(`exited ${code}: ${sink.text()}`))),
  ]);
  return {
    url: `http://127.0.0.1:${ready}`,
    prefix,
    stop() {
      stopper.abort();
      return done;
    },
  };
}

const reading = (device: string, ts: number, temp_f = 70) => ({ device, ts, temp_f });
const ndjson = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join('\n');

/** POSTs readings with the bearer token (null: without an Authorization header). */
function post(endpoint: Endpoint, body: string, token: string | null = TOKEN) {
  return fetch(`${endpoint.url}/v1/readings`, {
    method: 'POST',
    body,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
}

/** Each (device, ts) pair in the endpoint's partitions, with how often it is there. */
async function storedTimes(prefix: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (const { fields } of await partitionEntries(redis, prefix)) {
    const key = `${fields.device}@${fields.ts}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return seen;
}

describe('pipe-producer http', () => {
  it('refuses to start without a token unless --no-auth is given on purpose', () => {
    expect(() => httpConfig.read({ port: '0' }, {})).toThrow(ConfigError);
    expect(() => httpConfig.read({ port: '0' }, {})).toThrow(/--no-auth/);
    expect(httpConfig.read({ port: '0', auth: false }, {}).auth).toBe(false);
    expect(httpConfig.read({ port: '0' }, { INGEST_TOKEN: 'x' }).token).toBe('x');
    expect(httpConfig.read({ port: '0', maxBody: '64kb' }, { INGEST_TOKEN: 'x' }).maxBody).toBe(65_536);
    expect(() => httpConfig.read({ port: '0', maxBody: 'lots' }, { INGEST_TOKEN: 'x' })).toThrow(/size/);
  });

  it('answers 401 without the bearer token or with a wrong one, and writes nothing', async () => {
    const endpoint = await startEndpoint();
    try {
      const body = ndjson([reading('d1', Date.now())]);
      const missing = await post(endpoint, body, null);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      expect((await post(endpoint, body, 'wrong')).status).toBe(401);
      expect(await partitionEntries(redis, endpoint.prefix)).toHaveLength(0);
      const ok = await post(endpoint, body);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ written: 1, alreadyWritten: 0, rejected: [] });
    } finally {
      expect(await endpoint.stop()).toBe(0);
    }
  });

  it('takes requests without a token with --no-auth', async () => {
    const endpoint = await startEndpoint({ token: undefined, auth: false });
    try {
      const res = await post(endpoint, JSON.stringify([reading('d1', Date.now())]), null);
      expect(await res.json()).toMatchObject({ written: 1 });
    } finally {
      await endpoint.stop();
    }
  });

  it('answers 200 once written, with each bad record rejected by its index and the good ones written', async () => {
    const endpoint = await startEndpoint();
    try {
      const now = Date.now();
      const body = [
        JSON.stringify(reading('d1', now - 2000)),
        '',
        JSON.stringify({ device: 'd1', ts: now - 1000, temp_f: 'hot' }),
        '42',
        JSON.stringify({ ts: now, temp_f: 70 }),
        JSON.stringify(reading('d2', now - 10 * DAY_MS)),
        JSON.stringify(reading('d2', now + 10 * DAY_MS)),
        JSON.stringify({ ...reading('d3', now), humidity: 40 }),
      ].join('\r\n');
      const res = await post(endpoint, body);
      expect(res.status).toBe(200);
      const answer = (await res.json()) as { written: number; rejected: { index: number; reason: string }[] };
      expect(answer.written).toBe(2);
      expect(answer.rejected.map((r) => r.index)).toEqual([1, 2, 3, 4, 5]);
      expect(answer.rejected[0]!.reason).toMatch(/temp_f/);
      expect(answer.rejected[1]!.reason).toBe('not a JSON object');
      expect(answer.rejected[2]!.reason).toBe('device: missing');
      expect(answer.rejected[3]!.reason).toMatch(/older than the retention/);
      expect(answer.rejected[4]!.reason).toMatch(/in the future/);
      expect([...(await storedTimes(endpoint.prefix)).keys()].sort()).toEqual([
        `d1@${now - 2000}`,
        `d3@${now}`,
      ]);
      const metrics = await (await fetch(`${endpoint.url}/metrics`)).text();
      expect(metrics).toMatch(/pipe_producer_readings_written_total\{service="producer"\} 2/);
      expect(metrics).toMatch(/pipe_producer_readings_rejected_total\{service="producer"\} 5/);
      expect(metrics).toMatch(/pipe_producer_http_requests_total\{code="200",service="producer"\} 1/);
    } finally {
      await endpoint.stop();
    }
  });

  it('answers 400 for a body that is not NDJSON or a JSON array, writing none of it', async () => {
    const endpoint = await startEndpoint();
    try {
      const good = JSON.stringify(reading('d1', Date.now()));
      for (const body of [`${good}\nnot json`, '[{"device":', '{"device": "d1"', '[1, 2'])
        expect((await post(endpoint, body)).status, body).toBe(400);
      const res = await post(endpoint, `${good}\n{oops}`);
      expect(await res.json()).toEqual({ error: expect.stringMatching(/^line 2 is not JSON/) });
      expect(await partitionEntries(redis, endpoint.prefix)).toHaveLength(0);
      expect((await fetch(`${endpoint.url}/v1/readings`)).status).toBe(405);
      expect((await fetch(`${endpoint.url}/elsewhere`)).status).toBe(404);
    } finally {
      await endpoint.stop();
    }
  });

  it('answers 413 for a body over --max-body, declared or streamed, and writes none of it', async () => {
    const endpoint = await startEndpoint({ maxBody: '1kb' });
    try {
      const now = Date.now();
      const big = ndjson(Array.from({ length: 40 }, (_, i) => reading('d1', now - i)));
      expect(big.length).toBeGreaterThan(1024);
      expect((await post(endpoint, big)).status).toBe(413);
      // Chunked, no length declared: refused once the bytes read pass the limit.
      const streamed = await new Promise<number>((resolve, reject) => {
        const req = request(`${endpoint.url}/v1/readings`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        for (let i = 0; i < 4; i++) req.write(big.slice(i * 300, (i + 1) * 300));
        req.end(big.slice(1200));
      });
      expect(streamed).toBe(413);
      expect(await partitionEntries(redis, endpoint.prefix)).toHaveLength(0);
      expect((await post(endpoint, big.slice(0, big.indexOf('\n')))).status).toBe(200);
    } finally {
      await endpoint.stop();
    }
  });

  it('answers 413 for a 1 MB body over the default --max-body of 1mb, and takes one just under it', async () => {
    const endpoint = await startEndpoint();
    try {
      const now = Date.now();
      const line = JSON.stringify(reading('d1', now));
      const lines = Math.ceil((1024 * 1024) / (line.length + 1));
      const over = Array.from({ length: lines }, (_, i) => JSON.stringify(reading('d1', now - i))).join('\n');
      expect(Buffer.byteLength(over)).toBeGreaterThan(1024 * 1024);
      expect((await post(endpoint, over)).status).toBe(413);
      expect(await partitionEntries(redis, endpoint.prefix)).toHaveLength(0);
      const under = over.slice(0, over.lastIndexOf('\n', 1024 * 1024 - 1));
      const res = await post(endpoint, under);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ written: under.split('\n').length, rejected: [] });
    } finally {
      await endpoint.stop();
    }
  });

  it('writes each reading once when a request is retried, also one whose first partition had landed', async () => {
    const endpoint = await startEndpoint({ batchSize: '3' });
    try {
      const now = Date.now();
      const yesterday = Array.from({ length: 5 }, (_, i) => reading(`d${i}`, now - DAY_MS + i));
      const today = Array.from({ length: 5 }, (_, i) => reading(`d${i}`, now - 1000 + i));
      // A request whose reply was lost, sent again: the ledger knows its batches.
      const first = await (await post(endpoint, ndjson(today))).json();
      const again = await (await post(endpoint, JSON.stringify(today))).json();
      expect(first).toEqual({ written: 5, alreadyWritten: 0, rejected: [] });
      expect(again).toEqual({ written: 5, alreadyWritten: 5, rejected: [] });
      // As if a request over two partitions had written one before Redis went away: the retry of the
      // whole request writes only the other.
      const both = await (await post(endpoint, ndjson([...today, ...yesterday]))).json();
      expect(both).toEqual({ written: 10, alreadyWritten: 5, rejected: [] });
      const stored = await storedTimes(endpoint.prefix);
      expect(stored.size).toBe(10);
      expect([...stored.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await endpoint.stop();
    }
  });

  it('writes 1,000 concurrent requests, each reading exactly once', async () => {
    const endpoint = await startEndpoint({ maxConcurrent: '16' });
    try {
      const now = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          post(
            endpoint,
            ndjson([reading(`dev-${i % 50}`, now - i * 10), reading(`dev-${i % 50}`, now - i * 10 - 5)]),
          ),
        ),
      );
      expect(answers.map((a) => a.status).filter((s) => s !== 200)).toEqual([]);
      const bodies = (await Promise.all(answers.map((a) => a.json()))) as { written: number }[];
      expect(bodies.reduce((sum, b) => sum + b.written, 0)).toBe(2000);
      const stored = await storedTimes(endpoint.prefix);
      expect(stored.size).toBe(2000);
      expect([...stored.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await endpoint.stop();
    }
  });

  it('answers 503 with Retry-After while Redis is down, and takes the retried request once it is back', async () => {
    const server = await RedisServer.start();
    const endpoint = await startEndpoint({ writeTimeout: '1s' }, server.url);
    const direct = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      const now = Date.now();
      const body = ndjson(Array.from({ length: 20 }, (_, i) => reading(`d${i % 3}`, now - i)));
      await waitFor('redis ready', async () => (await fetch(`${endpoint.url}/readyz`)).status === 200);
      await server.kill();
      const down = await post(endpoint, body);
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('2');
      expect((await fetch(`${endpoint.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${endpoint.url}/healthz`)).status).toBe(200);
      await server.restart();
      await waitFor('redis back', async () => (await fetch(`${endpoint.url}/readyz`)).status === 200, 20_000);
      const back = await post(endpoint, body);
      expect(back.status).toBe(200);
      expect(await back.json()).toMatchObject({ written: 20, rejected: [] });
      await direct.connect();
      const stored = await partitionEntries(direct, endpoint.prefix);
      expect(stored).toHaveLength(20);
    } finally {
      direct.disconnect();
      await endpoint.stop();
      await server.stop();
    }
  });

  it('answers the request in hand before it stops', async () => {
    const endpoint = await startEndpoint();
    const now = Date.now();
    const pending = post(endpoint, ndjson(Array.from({ length: 3000 }, (_, i) => reading('d1', now - i))));
    await waitFor(
      'a first batch written',
      async () => (await partitionEntries(redis, endpoint.prefix)).length > 0,
      10_000,
      1,
    );
    const stopped = endpoint.stop();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ written: 3000 });
    expect(await stopped).toBe(0);
  });
});
