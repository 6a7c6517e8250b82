import { parseTime } from '@pipe/service';

/** What a time bound may be, for the message that refuses one. */
export const TIME_BOUND_EXPECTED = 'an ISO 8601 time or epoch ms, from 1970-01-01 on';

/**
 * Parses a time bound given on the command line or in a query string: epoch milliseconds (`1798808400000`)
 * or ISO 8601 (`2027-01-01`, `2027-01-01T13:00`, `2027-01-01T13:00:00+02:00`). A time without a zone is
 * UTC, like everything else in pipe, so the answer does not depend on the machine's TZ.
 */
export function parseTimeBound(text: string): number | undefined {
  const parsed = parseTime(text, { withoutZone: 'utc' });
  return parsed.ok ? parsed.ms : undefined;
}
