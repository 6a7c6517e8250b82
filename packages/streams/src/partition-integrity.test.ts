import { describe, expect, it } from 'vitest';
import type { GroupInfo } from './consumer-group.js';
import { partitionIntegrity } from './partition-integrity.js';
import type { StreamInfo } from './stream.js';

const info = (o: Partial<StreamInfo>): StreamInfo => ({
  length: 10,
  radixTreeKeys: 1,
  radixTreeNodes: 2,
  groups: 1,
  lastGeneratedId: '10-0',
  maxDeletedEntryId: '0-0',
  entriesAdded: 10,
  recordedFirstEntryId: '1-0',
  firstEntry: null,
  lastEntry: null,
  ...o,
});
const group = (o: Partial<GroupInfo>): GroupInfo => ({
  name: 'aggregator',
  consumers: 1,
  pending: 0,
  lastDeliveredId: '10-0',
  entriesRead: 10,
  lag: 0,
  ...o,
});

describe('partitionIntegrity', () => {
  it('counts entries removed since the partition was created', () => {
    expect(partitionIntegrity(info({ length: 0, entriesAdded: 11 }), []).removedEntries).toBe(11);
    expect(partitionIntegrity(info({}), []).removedEntries).toBe(0);
    // Redis before 7 does not say: nothing is claimed.
    expect(partitionIntegrity(info({ entriesAdded: null }), []).removedEntries).toBe(0);
  });

  it('takes uncounted entries from the group that read furthest', () => {
    expect(partitionIntegrity(info({}), []).uncounted).toBe(10);
    expect(
      partitionIntegrity(info({}), [group({ lag: 4, pending: 2 }), group({ name: 'old', lag: 9 })]).uncounted,
    ).toBe(6);
    expect(partitionIntegrity(info({}), [group({ lag: 0, pending: 0 })]).uncounted).toBe(0);
    // Lag unknown after deletions: a group at the end has only its pending left, any other all.
    expect(partitionIntegrity(info({}), [group({ lag: null, pending: 3 })]).uncounted).toBe(3);
    expect(
      partitionIntegrity(info({}), [group({ lag: null, lastDeliveredId: '5-0', pending: 0 })]).uncounted,
    ).toBe(10);
  });
});
