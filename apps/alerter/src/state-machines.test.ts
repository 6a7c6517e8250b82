import { describe, expect, it } from 'vitest';
import { parseRules } from './rules.js';
import { AlertStates, globRegExp } from './state-machines.js';

const statesFor = (yaml: string) => new AlertStates(new Map(), new Map(), parseRules(yaml));

describe('globRegExp', () => {
  it('matches * and ? and nothing else as wildcards', () => {
    expect(globRegExp('freezer-*').test('freezer-12')).toBe(true);
    expect(globRegExp('freezer-*').test('xfreezer-12')).toBe(false);
    expect(globRegExp('room.?').test('room.a')).toBe(true);
    expect(globRegExp('room.?').test('roomxa')).toBe(false);
  });
});

describe('AlertStates', () => {
  it('goes ok -> pending -> firing -> ok, writing firing and resolved once, and records what changed', () => {
    const s = statesFor('rules:\n  - {name: warm, above: 10, for: 2m, clear: 8}\n');
    const at = (m: number, temp_f: number) => s.apply({ device: 'd', ts: m * 60_000, temp_f });
    expect(at(0, 11)).toEqual([]);
    expect(s.changedStates).toEqual(new Map([['warm:d', 'p:0']]));
    expect(at(1, 12)).toEqual([]);
    expect(at(2, 12)).toEqual([
      { rule: 'warm', device: 'd', state: 'firing', since: 0, at: 120_000, value: '12' },
    ]);
    expect(at(3, 9)).toEqual([]);
    expect(at(4, 8)).toEqual([
      { rule: 'warm', device: 'd', state: 'resolved', since: 0, at: 240_000, value: '8' },
    ]);
    expect(s.changedStates).toEqual(new Map([['warm:d', '']]));
    expect(s.takeChanges().states).toEqual(new Map([['warm:d', '']]));
    expect(s.changedStates.size).toBe(0);
  });

  it('drops a pending state when the condition stops holding before for', () => {
    const s = statesFor('rules:\n  - {name: warm, above: 10, for: 2m}\n');
    s.apply({ device: 'd', ts: 0, temp_f: 11 });
    s.apply({ device: 'd', ts: 60_000, temp_f: 10 });
    expect(s.apply({ device: 'd', ts: 120_000, temp_f: 11 })).toEqual([]);
    expect(s.changedStates.get('warm:d')).toBe('p:120000');
  });

  it('skips a humidity rule for a reading without humidity, and applies below-rules with clear', () => {
    const s = statesFor('rules:\n  - {name: dry, metric: humidity, below: 30, clear: 35}\n');
    expect(s.apply({ device: 'g', ts: 1, temp_f: 70 })).toEqual([]);
    expect(s.apply({ device: 'g', ts: 2, temp_f: 70, humidity: 20 }).map((t) => t.state)).toEqual(['firing']);
    expect(s.apply({ device: 'g', ts: 3, temp_f: 70, humidity: 33 })).toEqual([]);
    expect(s.apply({ device: 'g', ts: 4, temp_f: 70, humidity: 35 }).map((t) => t.state)).toEqual([
      'resolved',
    ]);
  });

  it('fires and resolves no_data at a gap, and resolves a firing check-silence left', () => {
    const states = new Map([['silent:b', 'f:0:']]);
    const s = new AlertStates(
      states,
      new Map([['b', 0]]),
      parseRules('rules:\n  - {name: silent, no_data_for: 10s}\n'),
    );
    expect(s.apply({ device: 'a', ts: 0, temp_f: 60 })).toEqual([]);
    expect(s.apply({ device: 'a', ts: 5_000, temp_f: 60 })).toEqual([]);
    expect(s.apply({ device: 'a', ts: 20_000, temp_f: 61 })).toEqual([
      { rule: 'silent', device: 'a', state: 'firing', since: 5_000, at: 15_000, value: '' },
      { rule: 'silent', device: 'a', state: 'resolved', since: 5_000, at: 20_000, value: '61' },
    ]);
    expect(s.apply({ device: 'b', ts: 30_000, temp_f: 59 })).toEqual([
      { rule: 'silent', device: 'b', state: 'resolved', since: 0, at: 30_000, value: '59' },
    ]);
    expect(s.changedSeen).toEqual(
      new Map([
        ['a', 20_000],
        ['b', 30_000],
      ]),
    );
  });

  it('keeps each device its own states in the rules devices share, and across a reload', () => {
    const s = statesFor(
      'rules:\n  - {name: warm, devices: "f*", above: 10, for: 1m}\n  - {name: hot, devices: "f?", above: 20}\n' +
        '  - {name: cold, devices: "f*", below: 0}\n',
    );
    s.apply({ device: 'f1', ts: 0, temp_f: 11 });
    s.apply({ device: 'f2', ts: 0, temp_f: 9 });
    s.apply({ device: 'f10', ts: 0, temp_f: 25 });
    expect(s.takeChanges().states).toEqual(
      new Map([
        ['warm:f1', 'p:0'],
        ['warm:f10', 'p:0'],
      ]),
    );
    expect(s.apply({ device: 'f2', ts: 60_000, temp_f: 25 }).map((t) => `${t.rule} ${t.state}`)).toEqual([
      'hot firing',
    ]);
    s.useRules(parseRules('rules:\n  - {name: warm, devices: "f*", above: 10, for: 1m}\n'));
    expect(s.apply({ device: 'f1', ts: 60_000, temp_f: 12 })).toEqual([
      { rule: 'warm', device: 'f1', state: 'firing', since: 0, at: 60_000, value: '12' },
    ]);
  });

  it('takes new rules at once, for devices it had matched before too', () => {
    const s = statesFor('rules:\n  - {name: warm, devices: "x*", above: 10}\n');
    expect(s.apply({ device: 'y1', ts: 1, temp_f: 11 })).toEqual([]);
    s.useRules(parseRules('rules:\n  - {name: warm, devices: "y*", above: 10}\n'));
    expect(s.apply({ device: 'y1', ts: 2, temp_f: 11 }).map((t) => t.state)).toEqual(['firing']);
  });
});
