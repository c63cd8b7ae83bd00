// The FL strategies the system knows, by name: the contract between the MLFO, which validates an
// intent's `avgalgo` against it, and the flower-adapter, whose strategy table
// (flower-adapter/src/runtime/strategy/registry.ts) must have one entry per name — TypeScript
// fails when one is missing. A new strategy: its name here, its seed spelling beside it, and one
// line in the adapter's table. Names only: importing this loads nothing of the adapter.
// The seed spelling is Flower's class name; names match case-insensitively, so either works.

export const STRATEGY_NAMES = [
  'fedavg',
  'fedavgm',
  'fedprox',
  'fedadagrad',
  'fedadam',
  'fedyogi',
  'fedmedian',
  'fedtrimmedavg',
  'krum',
  'multikrum',
  'bulyan',
  'qfedavg',
  'faulttolerantfedavg',
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** How the seed system spelled each strategy on the wire (form fields, MoMo constraints): Flower's class names. */
export const STRATEGY_SEED_SPELLING: Record<StrategyName, string> = {
  fedavg: 'FedAvg',
  fedavgm: 'FedAvgM',
  fedprox: 'FedProx',
  fedadagrad: 'FedAdagrad',
  fedadam: 'FedAdam',
  fedyogi: 'FedYogi',
  fedmedian: 'FedMedian',
  fedtrimmedavg: 'FedTrimmedAvg',
  krum: 'Krum',
  multikrum: 'MultiKrum',
  bulyan: 'Bulyan',
  qfedavg: 'QFedAvg',
  faulttolerantfedavg: 'FaultTolerantFedAvg',
};

/**
 * Strategies with a setting that has no default (as in Flower): the adapter and the MLFO refuse
 * them without it (a 400 at /serv, a 422 at /receive naming the setting). The adapter's tests keep
 * this list equal to the table's (common/strategy-params.ts) settings without a default.
 */
export const SETTINGS_WITHOUT_DEFAULT: Partial<Record<StrategyName, readonly string[]>> = {
  fedprox: ['proximal_mu'],
  multikrum: ['num_clients_to_keep'],
};
