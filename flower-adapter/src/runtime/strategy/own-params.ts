// Per-strategy settings (OwnParams, strategy.ts): how a value is checked against its range, how
// defaults fill in, and the one routine both callers use — /serv (which reports problems as 400s
// naming the field) and the strategy constructors (which throw) — so the rules live once.

import type { BaseSettingsView, OwnParam, OwnParams } from './strategy.ts';

/** The allowed values of one setting, in words: "a number in [0, 1)". */
export function allowedText(p: OwnParam): string {
  const kind = p.integer ? 'an integer' : 'a number';
  if (p.max === Number.POSITIVE_INFINITY) return `${kind} ${p.minExclusive ? '>' : '≥'} ${p.min}`;
  return `${kind} in ${p.minExclusive ? '(' : '['}${p.min}, ${p.max}${p.maxExclusive ? ')' : ']'}`;
}

/** Whether `v` is in the setting's range. */
export function inRange(p: OwnParam, v: number): boolean {
  return (
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (!p.integer || Number.isInteger(v)) &&
    (p.minExclusive ? v > p.min : v >= p.min) &&
    (p.maxExclusive ? v < p.max : v <= p.max)
  );
}

/**
 * The strategy's settings with defaults filled in, and the problems found, as [field, message]:
 * unknown names, missing required ones, values out of range, combinations that do not fit.
 */
export function resolveOwnParams(
  spec: OwnParams,
  given: Readonly<Record<string, number>>,
  base: BaseSettingsView,
): { own: Record<string, number>; problems: Array<[string, string]> } {
  const problems: Array<[string, string]> = [];
  const own: Record<string, number> = {};
  const names = spec.params.map((p) => p.name);
  for (const key of Object.keys(given)) {
    if (!names.includes(key)) {
      problems.push([key, `not a setting of this strategy; allowed: ${names.join(', ') || '(none)'}`]);
    }
  }
  for (const p of spec.params) {
    const v = Object.hasOwn(given, p.name) ? given[p.name] : p.default;
    if (v === undefined) {
      problems.push([p.name, `missing (required, no default); allowed: ${allowedText(p)}`]);
    } else if (!inRange(p, v)) {
      problems.push([p.name, `got ${String(v)}; allowed: ${allowedText(p)}`]);
    } else {
      own[p.name] = v;
    }
  }
  if (problems.length === 0 && spec.check) problems.push(...spec.check(own, base));
  return { own, problems };
}

/** Like resolveOwnParams for a constructor: throws a RangeError listing every problem. */
export function ownParamsOrThrow(
  strategy: string,
  spec: OwnParams,
  given: Readonly<Record<string, number>>,
  base: BaseSettingsView,
): Record<string, number> {
  const { own, problems } = resolveOwnParams(spec, given, base);
  if (problems.length > 0) {
    throw new RangeError(`${strategy}: ${problems.map(([f, m]) => `${f}: ${m}`).join('; ')}`);
  }
  return own;
}
