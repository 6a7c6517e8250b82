import {
  decodeAverage,
  encodeAverage,
  type HourlyAverage,
  HOUR_MS,
  hourLabel,
  type PipelineKeys,
  type RedisClient,
} from '@pipe/streams';

/** The first hour of the fixtures; each test writes its own hours after it. */
export const FIRST_HOUR = Date.UTC(2027, 0, 1, 0);

/** An average as the aggregator writes it, with varied values (min/max sometimes missing). */
export function averageFor(
  hourStart: number,
  seed = Math.abs(hourStart - FIRST_HOUR) / HOUR_MS,
): HourlyAverage {
  const { date, hour } = hourLabel(hourStart);
  const average_temp_f = 50 + 10 * Math.sin(seed / 5) + seed / 1000;
  const average: HourlyAverage = {
    hourStart,
    date,
    hour,
    average_temp_f,
    num_observations: 3000 + (seed % 700),
  };
  if (seed % 4 !== 3) {
    average.min_temp_f = average_temp_f - 3.25 - (seed % 5) / 7;
    average.max_temp_f = average_temp_f + 2.5 + (seed % 3) / 9;
    average.devices = 1 + (seed % 3);
  }
  return average;
}

/** XADD of an average at ID `<hour start>-0`, exactly what the aggregator does. */
export async function writeAverage(
  redis: RedisClient,
  keys: PipelineKeys,
  average: HourlyAverage,
): Promise<string> {
  return (await redis.call(
    'XADD',
    keys.averages,
    `${average.hourStart}-0`,
    ...encodeAverage(average),
  )) as string;
}

/** Writes `count` consecutive hours starting at `firstHour`. */
export async function writeHours(
  redis: RedisClient,
  keys: PipelineKeys,
  count: number,
  firstHour = FIRST_HOUR,
): Promise<HourlyAverage[]> {
  const written: HourlyAverage[] = [];
  for (let i = 0; i < count; i++) {
    const average = averageFor(firstHour + i * HOUR_MS);
    await writeAverage(redis, keys, average);
    written.push(average);
  }
  return written;
}

/** A malformed entry where an average belongs: what the viewer must skip and count. */
export async function writeMalformed(
  redis: RedisClient,
  keys: PipelineKeys,
  hourStart: number,
): Promise<string> {
  const { date, hour } = hourLabel(hourStart);
  const id = `${hourStart}-0`;
  await redis.call(
    'XADD',
    keys.averages,
    id,
    'date',
    date,
    'hour',
    String(hour),
    'average_temp_f',
    'NaN-ish',
  );
  return id;
}

/** Every valid average in Redis, decoded: the truth the viewer's output is compared with. */
export async function averagesInRedis(redis: RedisClient, keys: PipelineKeys): Promise<HourlyAverage[]> {
  const entries = (await redis.call('XRANGE', keys.averages, '-', '+')) as [string, string[]][];
  const out: HourlyAverage[] = [];
  for (const [id, fields] of entries) {
    const decoded = decodeAverage(id, fields);
    if (decoded.ok) out.push(decoded.value);
  }
  return out;
}
