import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeRules, loadRules, luaPatternOf, parseRules, RulesError } from './rules.js';

const problemsOf = (text: string): string[] => {
  try {
    parseRules(text);
  } catch (err) {
    if (err instanceof RulesError) return err.problems;
    throw err;
  }
  throw new Error('expected a RulesError');
};

describe('rules file', () => {
  it('reads the issue example, with defaults for devices, metric, for and clear', () => {
    const rules = parseRules(`
rules:
  - name: freezer-warm
    devices: "freezer-*"
    metric: temp_f
    above: 10
    for: 15m
    clear: 8
  - name: sensor-silent
    no_data_for: 10m
  - name: cold
    below: 32
`);
    expect(rules).toEqual([
      {
        name: 'freezer-warm',
        devices: 'freezer-*',
        kind: 'above',
        metric: 'temp_f',
        threshold: 10,
        clear: 8,
        forMs: 900_000,
      },
      { name: 'sensor-silent', devices: '*', kind: 'no_data', forMs: 600_000 },
      { name: 'cold', devices: '*', kind: 'below', metric: 'temp_f', threshold: 32, clear: 32, forMs: 0 },
    ]);
  });

  it('takes JSON too', () => {
    expect(parseRules('{"rules":[{"name":"hot","above":90}]}')).toHaveLength(1);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf(`
rules:
  - name: "bad name"
    above: 10
    below: 5
  - name: hot
    above: 10
    clear: 12
  - name: hot
    no_data_for: soon
    metric: temp_f
  - name: typo
    abvoe: 3
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^rules\.0\.name: letters, digits/),
        expect.stringMatching(/^rules\.0: give exactly one of above, below, no_data_for/),
        expect.stringMatching(/^rules\.1\.clear: must be at most above/),
        expect.stringMatching(/^rules\.2\.no_data_for: not a duration/),
        expect.stringMatching(/^rules\.3: Unrecognized key: "abvoe"/i),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(5);
  });

  it('refuses text that is not YAML, a file without rules, and a file it cannot read', () => {
    expect(problemsOf('rules: [')[0]).toMatch(/^not YAML or JSON/);
    expect(problemsOf('alerts: []')).toEqual(expect.arrayContaining([expect.stringMatching(/^rules:/)]));
    expect(() => loadRules('/nonexistent/rules.yaml')).toThrow(/cannot read/);
  });

  it('loads a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-'));
    writeFileSync(join(dir, 'rules.yaml'), 'rules:\n  - name: hot\n    above: 90\n');
    expect(loadRules(join(dir, 'rules.yaml'))[0]?.name).toBe('hot');
  });
});

describe('device globs as Lua patterns', () => {
  it('anchors, turns * and ? into wildcards, and escapes the rest', () => {
    expect(luaPatternOf('freezer-*')).toBe('^freezer%-.*$');
    expect(luaPatternOf('room.?')).toBe('^room%..$');
    expect(luaPatternOf('a:b_1')).toBe('^a%:b_1$');
  });

  it('encodes rules one a line, tab-separated, for the scripts', () => {
    const rules = parseRules(
      'rules:\n  - {name: hot, devices: "x*", above: 9.5, for: 1m}\n  - {name: quiet, no_data_for: 5s}\n',
    );
    expect(encodeRules(rules)).toBe(
      'hot\t^x.*$\tabove\ttemp_f\t9.5\t9.5\t60000\nquiet\t^.*$\tno_data\t\t\t\t5000',
    );
  });
});
