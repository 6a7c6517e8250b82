import { type Command, Option } from 'commander';
import { z } from 'zod';

/**
 * One setting of a command, declared once: its flag, the env variable that sets it when the flag is
 * absent, what it does, and its zod schema with its default. The command's option (help text ending
 * `[env X] (default Y)`) and the config schema are both made from it, so they cannot disagree.
 */
export interface Setting<S extends z.ZodType = z.ZodType> {
  /** Commander syntax: `--grace <duration>`, or `--drain` for a switch. */
  readonly flag: string;
  /** The environment variable read when the flag is absent; none: flag only. */
  readonly env?: string;
  /** What the setting does, for --help (the env variable and the default are added). */
  readonly help: string;
  /**
   * Reads the flag's text (`true` for a switch) or the env variable's. Its default is shown in --help:
   * write it as an operator would (`.prefault('5s')`, parsed like a flag) rather than in ms.
   */
  readonly schema: S;
  /** What --help calls a default computed at start (`host-pid`); otherwise the schema's is shown. */
  readonly shownDefault?: string;
}

export type Settings = { readonly [field: string]: Setting };

/** A setting, with its schema's type kept (for the config type). */
export function setting<S extends z.ZodType>(declared: Setting<S>): Setting<S> {
  return declared;
}

export type SettingsShape<T extends Settings> = { -readonly [K in keyof T]: T[K]['schema'] };

/** The config schema of a command: one field per setting, each with its own schema and default. */
export function settingsSchema<T extends Settings>(settings: T): z.ZodObject<SettingsShape<T>> {
  const shape = Object.fromEntries(Object.entries(settings).map(([field, s]) => [field, s.schema]));
  return z.object(shape as SettingsShape<T>);
}

const isSwitch = (s: Setting) => !/[<[]/.test(s.flag);

/** The default --help shows: none for an optional setting, nor for a switch that is off unless given. */
export function shownDefault(s: Setting): string | undefined {
  if (s.shownDefault !== undefined) return s.shownDefault;
  const schema = s.schema;
  if (!(schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault)) return undefined;
  const value: unknown = schema.def.defaultValue;
  if (isSwitch(s) && value === false) return undefined;
  return String(value);
}

/** The --help line of a setting: its help, its env variable, its default. */
export function settingHelp(s: Setting): string {
  const shown = shownDefault(s);
  return `${s.help}${s.env ? ` [env ${s.env}]` : ''}${shown === undefined ? '' : ` (default ${shown})`}`;
}

/**
 * Adds one option per setting, in their order. Deliberately without commander's `.env()` and
 * `.default()`: a default would count as given and hide the env variable, and `.env()` turns a switch
 * on whatever its variable says (`ALLOW_EVICTION=0` would allow eviction). configFrom reads both.
 */
export function addSettings(command: Command, settings: Settings): Command {
  for (const s of Object.values(settings)) command.addOption(new Option(s.flag, settingHelp(s)));
  return command;
}

/** Flag values and env text of each setting, for loadConfig (an empty env variable counts as unset). */
export function settingSources(
  settings: Settings,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, { flag?: unknown; env?: string }> {
  return Object.fromEntries(
    Object.entries(settings).map(([field, s]) => [
      field,
      { flag: flags[field], env: s.env ? env[s.env] : undefined },
    ]),
  );
}
