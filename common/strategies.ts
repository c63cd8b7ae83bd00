// The FL strategies the system knows, by name: the contract between the MLFO, which validates an
// intent's `avgalgo` against it, and the flower-adapter, whose strategy table
// (flower-adapter/src/runtime/strategy/registry.ts) must have one entry per name — TypeScript
// fails when one is missing. A new strategy: its name here, its seed spelling beside it, and one
// line in the adapter's table. Names only: importing this loads nothing of the adapter.

export const STRATEGY_NAMES = ['fedavg'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** How the seed system spelled each strategy on the wire (form fields, MoMo constraints). */
export const STRATEGY_SEED_SPELLING: Record<StrategyName, string> = { fedavg: 'FedAvg' };
