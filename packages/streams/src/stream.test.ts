import { describe, expect, it } from 'vitest';
import { parseGroupInfo } from './consumer-group.js';
import { pairs, toEntries, trimArgs, xaddArgs } from './stream.js';

describe('XADD arguments', () => {
  it('default to a Redis-assigned ID followed by the fields', () => {
    expect(xaddArgs(['temp_f', '70'])).toEqual(['*', 'temp_f', '70']);
  });

  it('put NOMKSTREAM, then the trim strategy, then the ID', () => {
    expect(
      xaddArgs(['a', '1'], { noMkStream: true, trim: { maxlen: 10, approximate: true }, id: '5-1' }),
    ).toEqual(['NOMKSTREAM', 'MAXLEN', '~', 10, '5-1', 'a', '1']);
  });

  it('trim exactly unless asked for approximate, by MAXLEN or MINID', () => {
    expect(trimArgs(undefined)).toEqual([]);
    expect(trimArgs({ maxlen: 3 })).toEqual(['MAXLEN', '=', 3]);
    expect(trimArgs({ minid: '100-0' })).toEqual(['MINID', '=', '100-0']);
    expect(trimArgs({ minid: '100-0', approximate: true })).toEqual(['MINID', '~', '100-0']);
  });
});

describe('reply parsing', () => {
  it('turns flat key/value replies into objects, ignoring a dangling key', () => {
    expect(pairs(['length', 2, 'groups', 0, 'dangling'])).toEqual({ length: 2, groups: 0 });
  });

  it('turns raw entries into { id, fields }, a deleted entry (null fields) into empty fields', () => {
    expect(toEntries(null)).toEqual([]);
    expect(
      toEntries([
        ['1-0', ['a', '1']],
        ['2-0', null as unknown as string[]],
      ]),
    ).toEqual([
      { id: '1-0', fields: ['a', '1'] },
      { id: '2-0', fields: [] },
    ]);
  });

  it('reads an XINFO GROUPS row, keeping an unknown lag as null', () => {
    const row = [
      'name',
      'g',
      'consumers',
      2,
      'pending',
      3,
      'last-delivered-id',
      '5-0',
      'entries-read',
      5,
      'lag',
      null,
    ];
    expect(parseGroupInfo(row)).toEqual({
      name: 'g',
      consumers: 2,
      pending: 3,
      lastDeliveredId: '5-0',
      entriesRead: 5,
      lag: null,
    });
    expect(parseGroupInfo([...row.slice(0, 8), 'entries-read', null, 'lag', 0])).toMatchObject({
      entriesRead: null,
      lag: 0,
    });
  });
});
