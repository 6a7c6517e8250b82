import { ConfigError, loadConfig } from '@pipe/service';
import { describe, expect, it } from 'vitest';
import { backfillSchema, ingestSchema, inputFormat, runSchema } from './config.js';

function load<S extends Parameters<typeof loadConfig>[0]>(schema: S, flags: Record<string, unknown>) {
  const sources = Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, { flag: v }]));
  return loadConfig(schema, sources);
}

describe('config', () => {
  it('defaults retention to 2 days, give-up to 60 s and IDs to Redis-assigned', () => {
    const config = load(runSchema, {});
    expect(config).toMatchObject({
      retention: 172_800_000,
      giveUpAfter: 60_000,
      idFromTime: false,
      devices: 3,
    });
  });

  it('lists every problem at once', () => {
    try {
      load(runSchema, { retention: 'soon', devices: '0', speed: '-1', idFromTime: 'maybe' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      for (const field of ['retention', 'devices', 'speed', 'idFromTime']) expect(problems).toContain(field);
    }
  });

  it('backfills the last 24 hours by default, inside retention', () => {
    const config = load(backfillSchema, {});
    expect(config.to - config.from).toBe(86_400_000);
    expect(Math.abs(config.to - Date.now())).toBeLessThan(2000);
  });

  it('refuses a backfill that starts outside retention or ends before it starts', () => {
    expect(() => load(backfillSchema, { from: '2025-01-01T00:00:00Z', to: '2025-01-02T00:00:00Z' })).toThrow(
      /older than the retention/,
    );
    const now = Date.now();
    expect(() => load(backfillSchema, { from: String(now), to: String(now - 1000) })).toThrow(/before --to/);
  });

  it('takes the input format from the flag, then the extension', () => {
    expect(inputFormat(load(ingestSchema, { file: 'x.CSV' }))).toBe('csv');
    expect(inputFormat(load(ingestSchema, { file: 'x.csv', format: 'ndjson' }))).toBe('ndjson');
    expect(inputFormat(load(ingestSchema, {}))).toBe('ndjson');
  });
});
