import type { DeviceWindow, HourlyAverage, WindowAverage, WindowLabel } from '@pipe/streams';

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

/** `2027/01/01 13:05` (UTC): when a window of any size starts. */
export function windowStartLabel(startMs: number): string {
  const iso = new Date(startMs).toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '/')} ${iso.slice(11, 16)}`;
}

/** A fleet window of a size other than 1h, in the hourly sentence's words. */
export function describeWindowAverage(average: WindowAverage): string {
  const observations = `${average.num_observations} observation${average.num_observations === 1 ? '' : 's'}`;
  return (
    `Average temperature for ${windowStartLabel(average.start)} (${average.size}) was ` +
    `${formatFahrenheit(average.average_temp_f)}F (${observations}). ` +
    `min ${formatFahrenheit(average.min_temp_f)}F max ${formatFahrenheit(average.max_temp_f)}F`
  );
}

/** One device's window: its mean, count, spread and, when it sent humidity, the mean humidity. */
export function describeDeviceWindow(device: string, size: WindowLabel, w: DeviceWindow): string {
  const readings = `${w.count} reading${w.count === 1 ? '' : 's'}`;
  let line =
    `${device} ${size} from ${windowStartLabel(w.start)}: mean ${formatFahrenheit(w.mean)}F (${readings}) ` +
    `min ${formatFahrenheit(w.min)}F max ${formatFahrenheit(w.max)}F stddev ${formatFahrenheit(w.stddev)}F`;
  if (w.average_humidity !== undefined) line += ` humidity ${formatFahrenheit(w.average_humidity)}%`;
  return line;
}
