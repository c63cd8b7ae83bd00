// The FL setting rules: what each setting (avgalgo, fracfit, …, lr) accepts, checked the same way
// whether it comes as text (a /receive form field, a MoMo constraint, a cohort config) or as a
// YAML number, with the allowed values in words for the message. Also the id rule of intents and catalogs.

import {
  SAMESERV_VALUES,
  type SameServ,
  STRATEGY_NAMES,
  STRATEGY_SEED_SPELLING,
  type StrategyName,
} from './intent-schema.ts';

// The flower-adapter's ranges (flower-adapter/src/rest/session-params.ts).

export interface FlSettings {
  avgalgo: StrategyName;
  fracfit: number;
  minfit: number;
  minav: number;
  numround: number;
  sameserv: SameServ;
  epochs: number;
  batchsize: number;
  lr: number;
}
export type FlSettingName = keyof FlSettings;

interface NumberRule {
  integer: boolean;
  min: number;
  max: number;
  minExclusive?: boolean;
}

const NUMBER_RULES: Record<Exclude<FlSettingName, 'avgalgo' | 'sameserv'>, NumberRule> = {
  fracfit: { integer: false, min: 0, minExclusive: true, max: 1 },
  minfit: { integer: true, min: 1, max: 100000 },
  minav: { integer: true, min: 1, max: 100000 },
  numround: { integer: true, min: 1, max: 10000 },
  epochs: { integer: true, min: 1, max: 1000 },
  batchsize: { integer: true, min: 1, max: 65536 },
  lr: { integer: false, min: 0, minExclusive: true, max: 10 },
};

const DECIMAL_RE = /^\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** What a setting accepts, in words, for error messages. */
export function allowedFor(name: FlSettingName): string {
  if (name === 'avgalgo') return `one of ${STRATEGY_NAMES.map((s) => STRATEGY_SEED_SPELLING[s]).join(', ')}`;
  if (name === 'sameserv') return `one of ${SAMESERV_VALUES.join(', ')}`;
  const r = NUMBER_RULES[name];
  return `${r.integer ? 'an integer' : 'a number'} in ${r.minExclusive ? '(' : '['}${r.min}, ${r.max}]`;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** Checks one FL setting given as text (form field, MoMo constraint) or as a YAML number. */
export function checkFlSetting<K extends FlSettingName>(
  name: K,
  raw: string | number,
): Checked<FlSettings[K]> {
  const text = String(raw).trim();
  const bad = { ok: false as const, message: `got ${JSON.stringify(raw)}; allowed: ${allowedFor(name)}` };
  if (name === 'avgalgo' || name === 'sameserv') {
    const list: readonly string[] = name === 'avgalgo' ? STRATEGY_NAMES : SAMESERV_VALUES;
    const hit = list.find((v) => v === text.toLowerCase());
    return hit === undefined ? bad : { ok: true, value: hit as FlSettings[K] };
  }
  const rule = NUMBER_RULES[name as keyof typeof NUMBER_RULES];
  if (!DECIMAL_RE.test(text)) return bad;
  const n = Number(text);
  const inRange =
    Number.isFinite(n) &&
    (!rule.integer || Number.isInteger(n)) &&
    (rule.minExclusive ? n > rule.min : n >= rule.min) &&
    n <= rule.max;
  return inRange ? { ok: true, value: n as FlSettings[K] } : bad;
}

/** Matches a name case-insensitively against a list and returns the list's spelling. */
export function checkName<T extends string>(raw: string, list: readonly T[]): Checked<T> {
  const hit = list.find((v) => v.toLowerCase() === raw.trim().toLowerCase());
  return hit === undefined
    ? { ok: false, message: `unknown value ${JSON.stringify(raw)}; allowed: ${list.join(', ')}` }
    : { ok: true, value: hit };
}

export const ID_RULE =
  "1–128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit";
export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A strategy setting's value given as text or a YAML number: a decimal number (its range is the strategy's). */
export function checkStrategyParamText(raw: string | number): Checked<number> {
  const text = String(raw).trim();
  return DECIMAL_RE.test(text) && Number.isFinite(Number(text))
    ? { ok: true, value: Number(text) }
    : { ok: false, message: `got ${JSON.stringify(raw)}; allowed: a number` };
}
