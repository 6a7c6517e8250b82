import { readFileSync } from 'node:fs';
import { parseDuration } from '@pipe/service';
import { PipeError } from '@pipe/streams';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** A rule's name: it becomes part of state fields (`<rule>:<device>`) and idempotency keys. */
const RULE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** A device glob: device id characters (A-Z a-z 0-9 _ . : -) and the wildcards `*` and `?`. */
const DEVICE_GLOB = /^[A-Za-z0-9_.:*?-]{1,64}$/;

const durationText = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({ code: 'custom', message: `not a duration (try 30s, 15m, 1h): ${value}` });
    return z.NEVER;
  }
  return ms;
});

const ruleSchema = z
  .object({
    name: z.string().regex(RULE_NAME, 'letters, digits, _ . - only (1-64)'),
    devices: z.string().regex(DEVICE_GLOB, 'a glob of device id characters and * ?').default('*'),
    metric: z.enum(['temp_f', 'humidity']).optional(),
    above: z.number().optional(),
    below: z.number().optional(),
    for: durationText.optional(),
    clear: z.number().optional(),
    no_data_for: durationText.optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const kinds = [rule.above, rule.below, rule.no_data_for].filter((k) => k !== undefined).length;
    if (kinds !== 1)
      ctx.addIssue({ code: 'custom', message: 'give exactly one of above, below, no_data_for' });
    if (rule.no_data_for !== undefined) {
      for (const field of ['metric', 'for', 'clear'] as const)
        if (rule[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: 'not with no_data_for' });
      return;
    }
    if (rule.clear !== undefined && rule.above !== undefined && rule.clear > rule.above)
      ctx.addIssue({ code: 'custom', path: ['clear'], message: 'must be at most above' });
    if (rule.clear !== undefined && rule.below !== undefined && rule.clear < rule.below)
      ctx.addIssue({ code: 'custom', path: ['clear'], message: 'must be at least below' });
  });

const rulesFileSchema = z.object({ rules: z.array(ruleSchema) }).strict();

/** Names given twice, found on the raw file so they are listed beside the other problems. */
function duplicateNames(raw: unknown): string[] {
  const rules = (raw as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) return [];
  const seen = new Set<unknown>();
  const problems: string[] = [];
  rules.forEach((rule, i) => {
    const name = (rule as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') return;
    if (seen.has(name)) problems.push(`rules.${i}.name: duplicate ${name}`);
    seen.add(name);
  });
  return problems;
}

/** A rule as the scripts apply it. */
export type AlertRule =
  | {
      name: string;
      devices: string;
      kind: 'above' | 'below';
      metric: 'temp_f' | 'humidity';
      threshold: number;
      /** Resolves only once the value is back at or beyond this (the threshold unless `clear` is given). */
      clear: number;
      forMs: number;
    }
  | { name: string; devices: string; kind: 'no_data'; forMs: number };

/** A rules file that cannot be used, with every problem in it. */
export class RulesError extends PipeError {
  override readonly name = 'RulesError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`rules file ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'INVALID_RULES');
  }
}

/** Rules from a file's text (YAML, which takes JSON too); every problem is listed in one RulesError. */
export function parseRules(text: string, file = '<rules>'): AlertRule[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new RulesError(file, [`not YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  const parsed = rulesFileSchema.safeParse(raw);
  const problems = [
    ...(parsed.error?.issues ?? []).map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`),
    ...duplicateNames(raw),
  ];
  if (!parsed.success || problems.length > 0) throw new RulesError(file, problems);
  return parsed.data.rules.map((r): AlertRule => {
    if (r.no_data_for !== undefined)
      return { name: r.name, devices: r.devices, kind: 'no_data', forMs: r.no_data_for };
    const kind = r.above !== undefined ? 'above' : 'below';
    const threshold = (r.above ?? r.below) as number;
    return {
      name: r.name,
      devices: r.devices,
      kind,
      metric: r.metric ?? 'temp_f',
      threshold,
      clear: r.clear ?? threshold,
      forMs: r.for ?? 0,
    };
  });
}

/** Rules from a YAML or JSON file. */
export function loadRules(file: string): AlertRule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RulesError(file, [`cannot read: ${(err as Error).message}`]);
  }
  return parseRules(text, file);
}

/** A device glob as an anchored Lua pattern: `*` any run, `?` one character, the rest literal. */
export function luaPatternOf(glob: string): string {
  let pattern = '^';
  for (const c of glob) {
    if (c === '*') pattern += '.*';
    else if (c === '?') pattern += '.';
    else if (/[A-Za-z0-9_]/.test(c)) pattern += c;
    else pattern += `%${c}`;
  }
  return `${pattern}$`;
}

/**
 * The rules as the scripts take them in one argument: a line per rule, tab-separated name, device
 * pattern, kind, metric, threshold, clear, for (ms). Compact, so that one call per batch stays cheap.
 */
export function encodeRules(rules: AlertRule[]): string {
  return rules
    .map((r) =>
      r.kind === 'no_data'
        ? [r.name, luaPatternOf(r.devices), r.kind, '', '', '', r.forMs].join('\t')
        : [r.name, luaPatternOf(r.devices), r.kind, r.metric, r.threshold, r.clear, r.forMs].join('\t'),
    )
    .join('\n');
}
