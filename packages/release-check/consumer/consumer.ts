// A consumer's program, copied into a scratch project that installed @pipe/streams from the private
// registry, type-checked there (strict, NodeNext, library types checked too) and run: it writes one
// reading, reads it back through the codecs, and dead-letters it with the Lua script the package ships.
import {
  ConsumerGroup,
  connect,
  deadLetterPending,
  decodeReading,
  encodeReading,
  listDeadLetters,
  PipelineKeys,
  type Reading,
  Stream,
} from '@pipe/streams';
import streamsPackage from '@pipe/streams/package.json' with { type: 'json' };

const [url, prefix, readingJson] = process.argv.slice(2);
if (!url || !prefix || !readingJson)
  throw new Error('usage: node consumer.js <redis url> <key prefix> <reading json>');

const reading: Reading = JSON.parse(readingJson);
const keys = new PipelineKeys(prefix);
const redis = connect({ url, connectionName: 'release-check-consumer' });
try {
  const partition = keys.partitionKeyFor(reading.ts);
  const stream = new Stream(redis, partition);
  const id = await stream.add(encodeReading(reading));
  const entry = await stream.get(id);
  if (!entry) throw new Error(`${partition} ${id} was not found right after XADD`);
  const decoded = decodeReading(entry.id, entry.fields);
  if (!decoded.ok) throw decoded.error;

  const group = new ConsumerGroup(redis, 'release-check', [partition]);
  await group.create();
  await group.read({ count: 10 });
  const outcome = await deadLetterPending(redis, keys.deadLetters, {
    stream: partition,
    group: group.name,
    ids: [id],
    reason: 'release check',
  });
  const letters = await listDeadLetters(redis, keys.deadLetters);
  console.log(
    JSON.stringify({
      version: streamsPackage.version,
      partition,
      id,
      decoded: decoded.value,
      deadLettered: outcome.deadLettered,
      letters: letters.map(({ letter }) => (letter.ok ? letter.value : { error: letter.error.message })),
    }),
  );
} finally {
  await redis.quit();
}

/**
 * Never called: it compiles only while the published types are real. Were they lost (everything
 * `any`), the expected error would vanish and the type check would fail on the unused directive.
 */
export function publishedTypesAreReal(value: Reading): string {
  // @ts-expect-error temp_f is a number
  return value.temp_f;
}
