import type { AlertTransition, Reading } from '@pipe/streams';
import type { AlertRule } from './rules.js';

/** A transition as the alerts stream holds it, before it has an entry ID. */
export type Transition = Omit<AlertTransition, 'id'>;

/** A device glob as a RegExp: `*` any run, `?` one character, the rest literal. */
export function globRegExp(glob: string): RegExp {
  const body = [...glob]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

/**
 * The state machines of every (rule, device), as the alerter's state hash holds them (`<rule>:<device>` →
 * `p:<since>` pending or `f:<since>:<value>` firing; absent: ok) and each device's newest reading time,
 * with what a batch changed, to be committed with the batch's position in one script call:
 *
 *   ok      -> pending  the condition holds (above: value > threshold; below: value < threshold)
 *   pending -> firing   it still holds `for` ms after it began (at once when `for` is 0)
 *   pending -> ok       it no longer holds, before that
 *   firing  -> ok       the value is back at or beyond `clear` (above: <= clear; below: >= clear)
 *
 * A no_data rule fires when a device's reading comes `for` ms or more after its previous one (and
 * resolves at once with that reading), or resolves the firing check-silence-3.lua left.
 */
export class AlertStates {
  readonly changedStates = new Map<string, string>();
  readonly changedSeen = new Map<string, number>();
  private rules: AlertRule[] = [];
  private patterns: RegExp[] = [];
  private tracksSeen = false;
  /** Each device's rules with its state field in each, found once per device and rules. */
  private readonly rulesOfDevice = new Map<string, { rule: AlertRule; field: string }[]>();

  constructor(
    private readonly states: Map<string, string>,
    private readonly seen: Map<string, number>,
    rules: AlertRule[],
  ) {
    this.useRules(rules);
  }

  useRules(rules: AlertRule[]): void {
    this.rules = rules;
    this.patterns = rules.map((r) => globRegExp(r.devices));
    this.tracksSeen = rules.some((r) => r.kind === 'no_data');
    this.rulesOfDevice.clear();
  }

  /** Applies one reading; its transitions, in rule order, are added to `out` (and returned). */
  apply(r: Reading, out: Transition[] = []): Transition[] {
    let tempText: string | undefined;
    const temp = () => {
      tempText ??= String(r.temp_f);
      return tempText;
    };
    const previous = this.tracksSeen ? this.seen.get(r.device) : undefined;
    for (const { rule, field } of this.matching(r.device)) {
      const state = this.states.get(field) ?? '';
      const emit = (state: Transition['state'], since: number, at: number, value: string) => {
        out.push({ rule: rule.name, device: r.device, state, since, at, value });
      };
      if (rule.kind === 'no_data') {
        if (state.startsWith('f:')) {
          emit('resolved', sinceOf(state), r.ts, temp());
          this.set(field, '');
        } else if (previous !== undefined && r.ts - previous >= rule.forMs) {
          emit('firing', previous, previous + rule.forMs, '');
          emit('resolved', previous, r.ts, temp());
        }
        continue;
      }
      const value = rule.metric === 'temp_f' ? r.temp_f : r.humidity;
      if (value === undefined) continue;
      const above = rule.kind === 'above';
      const holds = above ? value > rule.threshold : value < rule.threshold;
      if (state.startsWith('f:')) {
        if (above ? value <= rule.clear : value >= rule.clear) {
          emit('resolved', sinceOf(state), r.ts, String(value));
          this.set(field, '');
        }
      } else if (state.startsWith('p:')) {
        const since = sinceOf(state);
        if (!holds) this.set(field, '');
        else if (r.ts - since >= rule.forMs) {
          const text = String(value);
          emit('firing', since, r.ts, text);
          this.set(field, `f:${since}:${text}`);
        }
      } else if (holds) {
        if (rule.forMs <= 0) {
          const text = String(value);
          emit('firing', r.ts, r.ts, text);
          this.set(field, `f:${r.ts}:${text}`);
        } else this.set(field, `p:${r.ts}`);
      }
    }
    if (this.tracksSeen && (previous === undefined || r.ts > previous)) {
      this.seen.set(r.device, r.ts);
      this.changedSeen.set(r.device, r.ts);
    }
    return out;
  }

  /** Forgets what was changed (after a commit). */
  clearChanges(): void {
    this.changedStates.clear();
    this.changedSeen.clear();
  }

  private set(field: string, state: string): void {
    if (state === '') this.states.delete(field);
    else this.states.set(field, state);
    this.changedStates.set(field, state);
  }

  private matching(device: string): { rule: AlertRule; field: string }[] {
    let list = this.rulesOfDevice.get(device);
    if (!list) {
      list = this.rules
        .filter((_, i) => this.patterns[i]!.test(device))
        .map((rule) => ({ rule, field: `${rule.name}:${device}` }));
      this.rulesOfDevice.set(device, list);
    }
    return list;
  }
}

const sinceOf = (state: string): number => Number.parseInt(state.slice(2), 10);
