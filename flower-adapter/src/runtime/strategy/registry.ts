// The strategies a server session can run, by name (the names of common/strategies.ts, which
// the MLFO validates intents against). A new strategy: its file beside fedavg.ts, its name in
// common/strategies.ts, and one line here — `satisfies` fails to compile while a name has no
// entry. /serv validates `algo` against this table; the server session builds from it.

import type { StrategyName } from '../../../../common/strategies.ts';
import { FedAvg, fedAvgOptions } from './fedavg.ts';
import type { AnyStrategy, StrategyFactory, StrategySettings } from './strategy.ts';

export const STRATEGIES = {
  fedavg: (s) => new FedAvg(fedAvgOptions(s)),
} satisfies Record<StrategyName, StrategyFactory>;

/** The names /serv accepts for `algo`: the table's. */
export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[];

/** Builds the strategy `name` from a session's settings; an unknown name is an error listing the known ones. */
export function createStrategy(name: string, settings: StrategySettings): AnyStrategy {
  const factory = Object.hasOwn(STRATEGIES, name) ? STRATEGIES[name as StrategyName] : undefined;
  if (factory === undefined) {
    throw new Error(`unknown strategy '${name}'; known: ${Object.keys(STRATEGIES).join(', ')}`);
  }
  return factory(settings);
}
