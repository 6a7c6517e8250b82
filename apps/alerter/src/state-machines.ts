import type { AlertTransition, Reading } from '@pipe/streams';
import type { AlertRule } from './rules.js';

/** A transition as the alerts stream holds it, before it has an entry ID. */
export type Transition = Omit<AlertTransition, 'id'>;

/** What applied readings changed, as commit-batch-5.lua writes it. */
export interface StateChanges {
  /** `<rule>:<device>` → state (`''`: ok, the field is deleted). */
  states: Map<string, string>;
  /** device → newest reading time. */
  seen: Map<string, number>;
}

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
  /** State fields changed since takeChanges() (`''` = back to ok). */
  changedStates = new Map<string, string>();
  /** Devices whose newest reading time changed since takeChanges(). */
  changedSeen = new Map<string, number>();
  private rules: AlertRule[] = [];
  /** The rules' distinct device globs (rules often share one), and each rule's index among them. */
  private globs: RegExp[] = [];
  private globOfRule: number[] = [];
  private tracksSeen = false;
  /**
   * Each device's rules with its state in each, found once per device and rules: a reading then looks up
   * its device once, not its state field in every rule (the states map is kept in step, for a reload).
   */
  private readonly rulesOfDevice = new Map<string, DeviceRules>();
  /** The rule lists devices have, one per set of matching rules: devices with the same globs share it. */
  private readonly ruleLists = new Map<string, AlertRule[]>();
  /**
   * Devices with a state other than ok in the states map: only theirs are looked up when a device is
   * first met (a fleet's first readings would otherwise build a field name per device and rule).
   */
  private readonly devicesWithStates = new Set<string>();

  constructor(
    private readonly states: Map<string, string>,
    private readonly seen: Map<string, number>,
    rules: AlertRule[],
  ) {
    this.useRules(rules);
  }

  useRules(rules: AlertRule[]): void {
    this.rules = rules;
    const globIndex = new Map<string, number>();
    this.globOfRule = rules.map((r) => {
      if (!globIndex.has(r.devices)) globIndex.set(r.devices, globIndex.size);
      return globIndex.get(r.devices)!;
    });
    this.globs = [...globIndex.keys()].map(globRegExp);
    this.tracksSeen = rules.some((r) => r.kind === 'no_data');
    this.rulesOfDevice.clear();
    this.ruleLists.clear();
    this.devicesWithStates.clear();
    // Rule names hold no ':' (RULE_NAME): the device is what follows the first one.
    for (const field of this.states.keys()) this.devicesWithStates.add(field.slice(field.indexOf(':') + 1));
  }

  /** Applies one reading; its transitions, in rule order, are added to `out` (and returned). */
  apply(r: Reading, out: Transition[] = []): Transition[] {
    // No closures and no state lookups per (reading, rule): this runs for every reading and rule it matches.
    const device = r.device;
    const previous = this.tracksSeen ? this.seen.get(device) : undefined;
    const machines = this.matching(device);
    const { rules, states } = machines;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const state = states[i];
      const firing = state !== undefined && state.charCodeAt(0) === F;
      if (rule.kind === 'no_data') {
        if (firing) {
          out.push(transition(rule, device, 'resolved', sinceOf(state), r.ts, String(r.temp_f)));
          this.set(machines, i, '');
        } else if (previous !== undefined && r.ts - previous >= rule.forMs) {
          out.push(transition(rule, device, 'firing', previous, previous + rule.forMs, ''));
          out.push(transition(rule, device, 'resolved', previous, r.ts, String(r.temp_f)));
        }
        continue;
      }
      const value = rule.metric === 'temp_f' ? r.temp_f : r.humidity;
      if (value === undefined) continue;
      const above = rule.kind === 'above';
      if (firing) {
        if (above ? value <= rule.clear : value >= rule.clear) {
          out.push(transition(rule, device, 'resolved', sinceOf(state), r.ts, String(value)));
          this.set(machines, i, '');
        }
        continue;
      }
      const holds = above ? value > rule.threshold : value < rule.threshold;
      if (state !== undefined) {
        // Pending since `since`.
        if (!holds) this.set(machines, i, '');
        else {
          const since = sinceOf(state);
          if (r.ts - since >= rule.forMs) {
            const text = String(value);
            out.push(transition(rule, device, 'firing', since, r.ts, text));
            this.set(machines, i, `f:${since}:${text}`);
          }
        }
      } else if (holds) {
        if (rule.forMs <= 0) {
          const text = String(value);
          out.push(transition(rule, device, 'firing', r.ts, r.ts, text));
          this.set(machines, i, `f:${r.ts}:${text}`);
        } else this.set(machines, i, `p:${r.ts}`);
      }
    }
    if (this.tracksSeen && (previous === undefined || r.ts > previous)) {
      this.seen.set(device, r.ts);
      this.changedSeen.set(device, r.ts);
    }
    return out;
  }

  /**
   * What was changed since the last call, handed over for a commit; later readings are recorded apart,
   * so the next batch can be applied while this one's commit is under way.
   */
  takeChanges(): StateChanges {
    const changes = { states: this.changedStates, seen: this.changedSeen };
    this.changedStates = new Map();
    this.changedSeen = new Map();
    return changes;
  }

  private set(machines: DeviceRules, i: number, state: string): void {
    machines.states[i] = state === '' ? undefined : state;
    const field = `${machines.rules[i]!.name}:${machines.device}`;
    if (state === '') this.states.delete(field);
    else this.states.set(field, state);
    this.changedStates.set(field, state);
  }

  private matching(device: string): DeviceRules {
    let machines = this.rulesOfDevice.get(device);
    if (!machines) {
      const matches = this.globs.map((glob) => glob.test(device));
      const key = matches.map(Number).join('');
      let rules = this.ruleLists.get(key);
      if (!rules) {
        rules = this.rules.filter((_, i) => matches[this.globOfRule[i]!]);
        this.ruleLists.set(key, rules);
      }
      const known = this.devicesWithStates.has(device);
      const states = rules.map((rule) => (known ? this.states.get(`${rule.name}:${device}`) : undefined));
      machines = { device, rules, states };
      this.rulesOfDevice.set(device, machines);
    }
    return machines;
  }
}

/** A device's rules and its state machine in each, as its readings meet them. */
interface DeviceRules {
  device: string;
  /** The rules whose glob matches the device, in rule order (shared with devices the same rules match). */
  rules: AlertRule[];
  /** Its state in each rule: `p:<since>` pending, `f:<since>:<value>` firing; undefined: ok. */
  states: (string | undefined)[];
}

/** The first character of a firing state (`f:<since>:<value>`). */
const F = 'f'.charCodeAt(0);

const sinceOf = (state: string): number => Number.parseInt(state.slice(2), 10);

const transition = (
  rule: AlertRule,
  device: string,
  state: Transition['state'],
  since: number,
  at: number,
  value: string,
): Transition => ({ rule: rule.name, device, state, since, at, value });
