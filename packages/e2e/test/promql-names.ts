/**
 * What deploy/'s files query, read without a YAML or PromQL library: the metric names of a PromQL
 * expression with their `job` matchers, the `expr`s and alerts of a rules file, the job names of a
 * Prometheus configuration, and the metric families a /metrics page exports.
 */

/** A series selector of an expression: its metric name and the jobs its `job` matcher names (if any). */
export interface Selector {
  metric: string;
  jobs?: string[];
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/** The jobs a `job` matcher names: `job="a"` or `job=~"a|b"` (a plain alternation; anything else throws). */
function jobsOf(matchers: string): string[] | undefined {
  const m = /\bjob\s*(=~|=|!=|!~)\s*"([^"]*)"/.exec(matchers);
  if (!m) return undefined;
  if (m[1] === '!=' || m[1] === '!~') return undefined;
  if (m[1] === '=~' && !/^[\w-]+(\|[\w-]+)*$/.test(m[2]!))
    throw new Error(`job matcher ${m[0]} is not a plain alternation of job names`);
  return m[2]!.split('|');
}

/**
 * The series selectors of a PromQL expression (Grafana variables such as `$__rate_interval` allowed):
 * every identifier that is not a function or aggregation (followed by `(`), a keyword, a label in a
 * `by`/`without`/`on`/`ignoring`/`group_*` list, a label matcher, a duration or a number.
 */
export function selectorsOf(expr: string): Selector[] {
  const selectors: Selector[] = [];
  // Matchers first (they may hold anything): each becomes {J<n>}, its jobs kept aside. Then strings,
  // Grafana variables, ranges and label lists go.
  const jobLists: (string[] | undefined)[] = [];
  const rest = expr
    .replace(/\{([^}]*)\}/g, (_, matchers: string) => `{J${jobLists.push(jobsOf(matchers)) - 1}}`)
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const token = /(\d[\w.]*)|([A-Za-z_:][\w:]*)(\s*\{J(\d+)\})?(\s*\()?/g;
  for (const m of rest.matchAll(token)) {
    const [, number, name, , list, call] = m;
    if (number !== undefined || name === undefined) continue;
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    const jobs = list === undefined ? undefined : jobLists[Number(list)];
    selectors.push(jobs ? { metric: name, jobs } : { metric: name });
  }
  return selectors;
}

const unquote = (value: string) => {
  const v = value.trim();
  if (v.startsWith('"')) return JSON.parse(v) as string;
  if (v.startsWith("'")) return v.slice(1, -1).replaceAll("''", "'");
  return v;
};

/**
 * The values of `key` in a YAML file that writes it inline (`key: value`, quoted or not) or as a block
 * scalar (`key: |`, `key: >-`, the lines indented below it). Enough for the files of deploy/, which
 * the test also counts against promtool's own reading.
 */
export function valuesOf(yaml: string, key: string): string[] {
  const lines = yaml.split('\n');
  const values: string[] = [];
  const start = new RegExp(`^(\\s*)(?:- )?${key}:(.*)$`);
  for (let i = 0; i < lines.length; i++) {
    const m = start.exec(lines[i]!);
    if (!m) continue;
    const indent = m[1]!.length;
    const inline = m[2]!.trim();
    if (inline !== '' && !/^[|>][-+]?$/.test(inline)) {
      values.push(unquote(inline));
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length) {
      const next = lines[i + 1]!;
      if (next.trim() !== '' && next.length - next.trimStart().length <= indent) break;
      block.push(next.trim());
      i++;
    }
    values.push(block.join(inline.startsWith('|') ? '\n' : ' ').trim());
  }
  return values;
}

/** A rules file's alerting rules, one block of lines each (from its `- alert:` line to the next). */
export function alertBlocks(rules: string): { name: string; text: string }[] {
  const parts = rules.split(/^(?=\s*- alert:)/m).slice(1);
  return parts.map((text) => ({ name: valuesOf(text, 'alert')[0]!, text }));
}

/**
 * The metric families a /metrics page exports (its `# TYPE` lines, so a family with no series yet
 * counts), with the series names a histogram or summary adds.
 */
export function exportedNames(page: string): Set<string> {
  const names = new Set<string>();
  for (const m of page.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    names.add(name!);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name! + s);
  }
  return names;
}
