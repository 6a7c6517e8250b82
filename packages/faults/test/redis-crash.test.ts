import { sleep } from '@pipe/testkit';
import { expect, it } from 'vitest';
import { runPipelineThroughFault } from '../src/fault-scenario.js';
import { serverPerTest } from '../src/own-server.js';

const startServer = serverPerTest();

// appendfsync everysec: Redis appends each write to the AOF before it replies and fsyncs the file once a
// second, so a crash of the machine can lose up to the last second of acknowledged writes (a crash of the
// process alone leaves them in the kernel's page cache). The pipeline must lose no more than that.
const EVERYSEC_WINDOW_MS = 1000;

it('a Redis with AOF everysec killed (SIGKILL) and restarted mid-run: every service recovers on its own and loses no more than the everysec window', async () => {
  const s = await startServer({ aof: 'everysec' });
  let ackedAtKill = 0;
  let ackedInWindow = 0;
  const outcome = await runPipelineThroughFault(s, async (acks) => {
    const killedAt = Date.now();
    await s.kill('SIGKILL');
    // Replies already on their way are read; nothing can be acknowledged after this.
    await sleep(300);
    ackedAtKill = await acks.sample();
    ackedInWindow = ackedAtKill - acks.writtenBy(killedAt - EVERYSEC_WINDOW_MS);
    await sleep(700);
    await s.restart();
  });
  console.log(
    `redis crash: ${outcome.input} readings in; acknowledged before the kill ${ackedAtKill}, ` +
      `of them in the last ${EVERYSEC_WINDOW_MS} ms ${ackedInWindow}; acknowledged but lost ${outcome.lost.length}; ` +
      `counted ${outcome.accounting.counted} into ${outcome.accounting.hours} hours, late ${outcome.accounting.late}; ` +
      `recovered ${outcome.recoveryMs} ms after the restart (aggregator caught holding entries at attempt ${outcome.crashAttempts})`,
  );
  expect(ackedAtKill).toBeGreaterThan(0);
  expect(outcome.lost.length).toBeLessThanOrEqual(ackedInWindow);
}, 180_000);
