import { type RedisServer, sleep } from '@pipe/testkit';
import { expect, it } from 'vitest';
import { runPipelineThroughFault } from '../src/fault-scenario.js';
import { serverPerTest } from '../src/own-server.js';

const startServer = serverPerTest();

const OUTAGE_MS = 10_000;

// A blocking read that hung would never return; the services' own watchdogs replace a hung connection
// within the read's block time plus 5 s, so everything must be caught up well within this bound.
const RECOVERY_BOUND_MS = 30_000;

it.each([
  {
    how: 'stopped (connections refused), then back with its AOF',
    options: { aof: 'always' as const },
    fault: async (s: RedisServer) => {
      await s.kill('SIGKILL');
      await sleep(OUTAGE_MS);
      await s.restart();
    },
  },
  {
    how: 'stalled by SIGSTOP (connections open, no answers)',
    options: {},
    fault: async (s: RedisServer) => {
      process.kill(s.pid!, 'SIGSTOP');
      await sleep(OUTAGE_MS);
      process.kill(s.pid!, 'SIGCONT');
    },
  },
])(
  'Redis unreachable for 10 s, $how: every service reconnects, no blocking read hangs, all data counted',
  async ({ how, options, fault }) => {
    const s = await startServer(options);
    const outcome = await runPipelineThroughFault(s, () => fault(s));
    console.log(
      `redis ${how}: ${outcome.input} readings in, lost ${outcome.lost.length}; counted ${outcome.accounting.counted} ` +
        `into ${outcome.accounting.hours} hours, late ${outcome.accounting.late}; caught up ${outcome.recoveryMs} ms after the outage`,
    );
    // Nothing acknowledged may go: the AOF was fsynced on every write, or the server never went away.
    expect(outcome.lost).toEqual([]);
    expect(outcome.recoveryMs).toBeLessThan(RECOVERY_BOUND_MS);
  },
  180_000,
);
