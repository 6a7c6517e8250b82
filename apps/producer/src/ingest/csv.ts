import type { RawRecord } from './records.js';

const REQUIRED = ['device', 'ts', 'temp_f'] as const;
const KNOWN = [...REQUIRED, 'humidity'] as const;

/** Where each known column is in the rows; other columns are ignored. */
export type CsvHeader = { columns: number } & Partial<Record<(typeof KNOWN)[number], number>>;

/** Reads the header row, or says which required columns it lacks. */
export function parseCsvHeader(text: string): CsvHeader | string {
  const names = splitCsvLine(text);
  if (typeof names === 'string') return `header: ${names}`;
  const header: CsvHeader = { columns: names.length };
  for (const name of KNOWN) {
    const at = names.findIndex((n) => n.trim().toLowerCase() === name);
    if (at >= 0) header[name] = at;
  }
  const missing = REQUIRED.filter((name) => header[name] === undefined);
  return missing.length ? `header lacks column ${missing.join(', ')} (has: ${names.join(', ')})` : header;
}

/** One data row as a raw record, or the reason it is not one. */
export function parseCsvLine(text: string, header: CsvHeader): RawRecord | string {
  const cells = splitCsvLine(text);
  if (typeof cells === 'string') return cells;
  if (cells.length !== header.columns) return `expected ${header.columns} columns, found ${cells.length}`;
  const record: RawRecord = {};
  for (const name of KNOWN) {
    const at = header[name];
    if (at !== undefined) record[name] = cells[at]!.trim();
  }
  return record;
}

/** RFC 4180 cells of one line: commas, "quoted, cells" and "" for a quote. Records span one line. */
export function splitCsvLine(text: string): string[] | string {
  if (!text.includes('"')) return text.split(',');
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let cell = '';
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote === -1) return 'unterminated quoted cell';
        cell += text.slice(i, quote);
        if (text[quote + 1] === '"') {
          cell += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      cells.push(cell);
      if (i === text.length) return cells;
      if (text[i] !== ',') return `unexpected text after a quoted cell at column ${i + 1}`;
      i++;
    } else {
      const comma = text.indexOf(',', i);
      if (comma === -1) {
        cells.push(text.slice(i));
        return cells;
      }
      cells.push(text.slice(i, comma));
      i = comma + 1;
    }
  }
}
