import { once } from 'node:events';
import { type FileHandle, open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { forTerminal } from '../terminal-text.js';

/** Where a record came from, to point at it when it is refused. */
export interface LineSource {
  line: number;
  text: string;
}

/**
 * Reports refused records: one line on stderr each (`<input>:<line>: <reason>`, made safe for a terminal:
 * a reason may quote the input) and, with --rejects, one JSON line each in that file
 * (`{"line","reason","input"}`, exact) so that nothing refused is lost.
 */
export class RejectionLog {
  count = 0;
  private readonly label: string;

  private constructor(
    label: string,
    private readonly stderr: Writable,
    private readonly file: { handle: FileHandle; stream: Writable } | undefined,
  ) {
    this.label = forTerminal(label);
  }

  static async open(label: string, stderr: Writable, rejectsPath?: string): Promise<RejectionLog> {
    if (!rejectsPath) return new RejectionLog(label, stderr, undefined);
    const handle = await open(rejectsPath, 'w');
    return new RejectionLog(label, stderr, { handle, stream: handle.createWriteStream() });
  }

  record(source: LineSource, reason: string): void {
    this.count++;
    this.stderr.write(`${this.label}:${source.line}: ${forTerminal(reason)}\n`);
    this.file?.stream.write(`${JSON.stringify({ line: source.line, reason, input: source.text })}\n`);
  }

  /** Waits while the rejects file is behind, so a flood of bad records cannot fill memory. */
  async drain(): Promise<void> {
    if (this.file?.stream.writableNeedDrain) await once(this.file.stream, 'drain');
  }

  async close(): Promise<void> {
    if (!this.file) return;
    const { stream } = this.file;
    await new Promise<void>((resolve, reject) =>
      stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
}
