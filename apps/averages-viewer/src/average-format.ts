import type { HourlyAverage } from '@pipe/streams';

/** Two decimals, as the dashboard shows them; never `-0.00`. */
export function formatFahrenheit(value: number): string {
  const text = value.toFixed(2);
  return text === '-0.00' ? '0.00' : text;
}

/**
 * One line in the reference averages consumer's words, so scripts written for it keep working; the
 * min/max the reference lacked follow the sentence when the aggregator recorded them.
 */
export function describeAverage(average: HourlyAverage): string {
  const observations = `${average.num_observations} observation${average.num_observations === 1 ? '' : 's'}`;
  let line =
    `Average temperature for ${average.date} at ${average.hour} was ` +
    `${formatFahrenheit(average.average_temp_f)}F (${observations}).`;
  if (average.min_temp_f !== undefined) line += ` min ${formatFahrenheit(average.min_temp_f)}F`;
  if (average.max_temp_f !== undefined) line += ` max ${formatFahrenheit(average.max_temp_f)}F`;
  return line;
}

/** The decoded average at full precision, one JSON object per line (for scripts). */
export function averageAsJsonLine(average: HourlyAverage): string {
  return JSON.stringify(average);
}
