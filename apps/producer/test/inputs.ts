import { DAY_MS } from '@pipe/streams';

/** UTC midnight of the day before today: inside the default 2-day retention, in a whole past day. */
export function yesterdayUtc(): number {
  return Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
}

export function ndjson(records: object[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}
