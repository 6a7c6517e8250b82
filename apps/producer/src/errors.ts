import { PipeError } from '@pipe/streams';

/** Redis stayed unavailable for longer than --give-up-after. */
export class GaveUpError extends PipeError {
  override readonly name = 'GaveUpError';
  constructor(
    readonly giveUpAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super(`Redis was unavailable for ${giveUpAfterMs} ms; gave up`, 'GAVE_UP', false, options);
  }
}

/** Redis refused a batch in a way that retrying cannot fix (a key of the wrong type, a permission). */
export class WriteFailedError extends PipeError {
  override readonly name = 'WriteFailedError';
  constructor(partition: string, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? options.cause.message : String(options?.cause);
    super(`writing to ${partition} failed: ${reason}`, 'WRITE_FAILED', false, options);
  }
}
