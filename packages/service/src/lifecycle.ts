import type { Logger } from 'pino';

export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Stops a service on SIGTERM/SIGINT: the service finishes the batch in hand, then the process exits 0.
 * A second signal, or a stop that takes longer than `graceMs`, exits 1 at once.
 */
export function stopOnSignals(service: Stoppable, log: Logger, graceMs = 5000): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal; exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      log.error({ graceMs }, 'stop took too long; exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    service.stop().then(
      () => {
        log.info({}, 'stopped');
        log.flush?.();
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
