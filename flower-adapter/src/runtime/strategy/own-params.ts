// Per-strategy settings (OwnParams, common/strategy-params.ts): the checking routine lives in
// common, shared by /serv (400s naming the field), the MLFO (422s at /receive) and, through
// ownParamsOrThrow here, the strategy constructors (which throw).

import {
  allowedText,
  type BaseSettingsView,
  inRange,
  type OwnParams,
  resolveOwnParams,
} from '../../../../common/strategy-params.ts';

export { allowedText, inRange, resolveOwnParams };

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
