import slotOf from 'cluster-key-slot';

/** Redis Cluster's hash slot count. */
export const SLOTS = 16_384;

/** The cluster hash slot (0..16383) of a key, honouring `{hash tags}` (ioredis's own function). */
export function calculateSlot(key: string): number {
  return slotOf(key);
}

const tags = new Map<string, string>();

/**
 * The hash tag of shard `index` of `count`: the first short tag whose slot falls in the index-th
 * count-th of the slot space. `redis-cli --cluster create` gives each master one contiguous, equal
 * range of slots, so with as many shards as masters (or a multiple) every master gets its share of a
 * day's writes; plain key names would land wherever their CRC16 falls, often two shards on one node.
 */
export function shardTag(index: number, count: number): string {
  const memo = `${index}/${count}`;
  let tag = tags.get(memo);
  if (tag === undefined) {
    const from = Math.floor((index * SLOTS) / count);
    const to = Math.floor(((index + 1) * SLOTS) / count);
    for (let k = 0; ; k++) {
      const candidate = `${index}.${k}`;
      const slot = calculateSlot(candidate);
      if (slot >= from && slot < to) {
        tag = candidate;
        break;
      }
    }
    tags.set(memo, tag);
  }
  return tag;
}

/** The FNV-1a hash of a device name: which shard its readings go to (stable across runs). */
export function shardOfDevice(device: string, count: number): number {
  if (count <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < device.length; i++) {
    hash ^= device.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}
