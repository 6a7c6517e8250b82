/**
 * Batch commands (backfill, ingest) end their input on the first SIGINT/SIGTERM and still write what
 * they read and print their summary; a second signal exits at once. (Long-running `run` uses
 * stopOnSignals from @pipe/service instead.)
 */
export function interruptOnSignals(stop: () => void): () => void {
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
