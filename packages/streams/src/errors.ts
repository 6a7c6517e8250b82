/** Base of every error pipe throws: a stable `code` for programs, `retryable` for retry policies. */
export class PipeError extends Error {
  override readonly name: string = 'PipeError';
  constructor(
    message: string,
    readonly code: string,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A stream entry whose fields do not form a valid value; `field` names the first culprit. */
export class DecodeError extends PipeError {
  override readonly name = 'DecodeError';
  constructor(
    readonly reason: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(field ? `${field}: ${reason}` : reason, 'DECODE_FAILED', false, options);
  }
}

/** A value that cannot be a stream ID or a partition key. */
export class InvalidIdError extends PipeError {
  override readonly name = 'InvalidIdError';
  constructor(value: string, what = 'stream ID') {
    super(`not a valid ${what}: ${JSON.stringify(value)}`, 'INVALID_ID');
  }
}

/** XADD with an explicit ID at or below the stream's top item (e.g. an out-of-order reading). */
export class IdTooSmallError extends PipeError {
  override readonly name = 'IdTooSmallError';
  constructor(stream: string, id: string, options?: { cause?: unknown }) {
    super(`${stream}: ID ${id} is not greater than the stream's last ID`, 'ID_TOO_SMALL', false, options);
  }
}

/** The consumer group does not exist on the stream. */
export class NoGroupError extends PipeError {
  override readonly name = 'NoGroupError';
  constructor(stream: string, group: string, options?: { cause?: unknown }) {
    super(`${stream}: no consumer group ${group}`, 'NO_GROUP', false, options);
  }
}

/** A window size, layout (`--windows`) or retention (`--keep`) that pipe cannot run with. */
export class InvalidWindowsError extends PipeError {
  override readonly name = 'InvalidWindowsError';
  constructor(message: string) {
    super(message, 'INVALID_WINDOWS');
  }
}
