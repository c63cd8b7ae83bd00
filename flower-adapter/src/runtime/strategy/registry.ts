// The strategies a server session can run, by name (the names of common/strategies.ts, which
// the MLFO validates intents against). A new strategy: its file beside fedavg.ts, its name in
// common/strategies.ts, its own settings (the /serv fields beyond FedAvg's) in
// common/strategy-params.ts, and one line here — those settings and its factory; `satisfies` fails to compile while a name has no entry. /serv validates `algo`
// and the strategy's fields against this table; the server session builds from it, wrapping the
// strategy in central DP when the settings ask for it.

import type { StrategyName } from '../../../../common/strategies.ts';
import { Bulyan, BULYAN_PARAMS } from './bulyan.ts';
import { DpServerSideFixedClipping } from './dp-server-fixed-clipping.ts';
import { FaultTolerantFedAvg, FAULTTOLERANTFEDAVG_PARAMS } from './faulttolerantfedavg.ts';
import { FedAdagrad, FEDADAGRAD_PARAMS } from './fedadagrad.ts';
import { FedAdam, FEDADAM_PARAMS } from './fedadam.ts';
import { FedAvg, fedAvgOptions } from './fedavg.ts';
import { FedAvgM, FEDAVGM_PARAMS } from './fedavgm.ts';
import { FedMedian } from './fedmedian.ts';
import { FedProx, FEDPROX_PARAMS } from './fedprox.ts';
import { FedTrimmedAvg, FEDTRIMMEDAVG_PARAMS } from './fedtrimmedavg.ts';
import { FedYogi, FEDYOGI_PARAMS } from './fedyogi.ts';
import { Krum, KRUM_PARAMS, MULTIKRUM_PARAMS } from './krum.ts';
import { QFedAvg, QFEDAVG_PARAMS } from './qfedavg.ts';
import type { AnyStrategy, OwnParams, StrategyFactory, StrategySettings } from './strategy.ts';

export interface StrategyEntry {
  /** The strategy's own /serv fields (Flower's parameter names) and cross-checks. */
  own: OwnParams;
  create: StrategyFactory;
}

const NONE: OwnParams = { params: [] };

export const STRATEGIES = {
  fedavg: { own: NONE, create: (s) => new FedAvg(fedAvgOptions(s)) },
  fedavgm: { own: FEDAVGM_PARAMS, create: (s) => new FedAvgM(fedAvgOptions(s), s.own) },
  fedprox: { own: FEDPROX_PARAMS, create: (s) => new FedProx(fedAvgOptions(s), s.own) },
  fedadagrad: { own: FEDADAGRAD_PARAMS, create: (s) => new FedAdagrad(fedAvgOptions(s), s.own) },
  fedadam: { own: FEDADAM_PARAMS, create: (s) => new FedAdam(fedAvgOptions(s), s.own) },
  fedyogi: { own: FEDYOGI_PARAMS, create: (s) => new FedYogi(fedAvgOptions(s), s.own) },
  fedmedian: { own: NONE, create: (s) => new FedMedian(fedAvgOptions(s)) },
  fedtrimmedavg: { own: FEDTRIMMEDAVG_PARAMS, create: (s) => new FedTrimmedAvg(fedAvgOptions(s), s.own) },
  krum: { own: KRUM_PARAMS, create: (s) => new Krum(fedAvgOptions(s), s.own) },
  multikrum: { own: MULTIKRUM_PARAMS, create: (s) => new Krum(fedAvgOptions(s), s.own, true) },
  bulyan: { own: BULYAN_PARAMS, create: (s) => new Bulyan(fedAvgOptions(s), s.own) },
  qfedavg: { own: QFEDAVG_PARAMS, create: (s) => new QFedAvg(fedAvgOptions(s), s.own) },
  faulttolerantfedavg: {
    own: FAULTTOLERANTFEDAVG_PARAMS,
    create: (s) => new FaultTolerantFedAvg(fedAvgOptions(s), s.own),
  },
} satisfies Record<StrategyName, StrategyEntry>;

/** The names /serv accepts for `algo`: the table's. */
export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[];

/** The entry of `name` (case-insensitive, so Flower's class names work); an unknown name is an error listing the known ones. */
export function strategyEntry(name: string): StrategyEntry & { name: StrategyName } {
  const key = STRATEGY_NAMES.find((k) => k === name.toLowerCase());
  if (key === undefined) {
    throw new Error(`unknown strategy '${name}'; known: ${STRATEGY_NAMES.join(', ')}`);
  }
  return { name: key, ...STRATEGIES[key] };
}

/** Builds the strategy `name` from a session's settings, inside central DP when settings.centralDp is set. */
export function createStrategy(name: string, settings: StrategySettings): AnyStrategy {
  const strategy = strategyEntry(name).create(settings);
  return settings.centralDp === undefined
    ? strategy
    : new DpServerSideFixedClipping(strategy, settings.centralDp);
}
