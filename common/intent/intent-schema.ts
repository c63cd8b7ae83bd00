// The intent's names and shape: the name lists an intent, a catalog, a /receive form or a cohort
// config may use (strategies, sources, models, constraints, FL settings) and the typed Intent that
// parse-intent.ts checks a YAML upload (or a decoded MoMo message) into. The FL setting rules are in
// setting-rules.ts; the mlfo resolves an Intent to an FL pipeline (mlfo/src/intent/resolve.ts).

import type { SourcePosition } from '../yaml/problem.ts';

import { DATASET_NAMES } from '../datasets.ts';
import { MODEL_NAMES, type ModelName, TRAINABLE_MODEL_NAMES } from '../models.ts';
import { STRATEGY_PARAM_NAMES } from '../strategy-params.ts';
import { STRATEGY_NAMES, STRATEGY_SEED_SPELLING, type StrategyName } from '../strategies.ts';

// The strategy, dataset and model names are shared contracts (common/strategies.ts, datasets.ts,
// models.ts), which the flower-adapter's tables must cover (the compiler checks it); re-exported
// here under the names the intent code uses. Names only: no adapter module (nor tfjs) is loaded.
export {
  MODEL_NAMES,
  type ModelName,
  STRATEGY_NAMES,
  STRATEGY_PARAM_NAMES,
  STRATEGY_SEED_SPELLING,
  type StrategyName,
};

export const SOURCE_NAMES = DATASET_NAMES;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** The models the flower-adapter can actually train; the others of MODEL_NAMES are accepted with a warning. */
export const ADAPTER_MODEL_NAMES: readonly ModelName[] = TRAINABLE_MODEL_NAMES;

/** Seed semantics: `no` a new FL server, `nor` a new one with server numbering reset, `yes` share the FL server of earlier cohorts of the same settings (see server-placement.ts). */
export const SAMESERV_VALUES = ['no', 'nor', 'yes'] as const;
export type SameServ = (typeof SAMESERV_VALUES)[number];

export const CONSTRAINT_NAMES = [
  'privacylevel',
  'sourcekind',
  'modelkind',
  'avgalgo',
  'fracfit',
  'minfit',
  'minav',
  'numround',
  'sameserv',
] as const;
export type ConstraintName = (typeof CONSTRAINT_NAMES)[number];

/** The FL settings a user may give per intent (constraint) or per post (/receive form field). */
export const STRATEGY_SETTINGS = ['avgalgo', 'fracfit', 'minfit', 'minav', 'numround', 'sameserv'] as const;
export type StrategySetting = (typeof STRATEGY_SETTINGS)[number];
/** Each one's /receive form field: the seed's form spelled sameserv as sameserver. */
export const FORM_FIELD_OF = {
  avgalgo: 'avgalgo',
  fracfit: 'fracfit',
  minfit: 'minfit',
  minav: 'minav',
  numround: 'numround',
  sameserv: 'sameserver',
} as const satisfies Record<StrategySetting, string>;

/**
 * Constraints as strings, exactly as MoMo carries them; besides CONSTRAINT_NAMES, the settings of
 * the chosen strategy and central DP under Flower's names (STRATEGY_PARAM_NAMES, e.g.
 * server_momentum), which MoMo carries in its strategysettings map.
 */
export type Constraints = Partial<Record<ConstraintName, string>> & {
  [strategySetting: string]: string | undefined;
};

/** Whether `name` is a strategy setting (Flower's parameter name, e.g. server_momentum) rather than a CONSTRAINT_NAMES entry. */
export function isStrategyParam(name: string): boolean {
  return STRATEGY_PARAM_NAMES.includes(name);
}

/** The same constraints checked and typed. */
export interface ParsedConstraints {
  privacylevel?: 'high';
  sourcekind?: SourceName;
  modelkind?: ModelName;
  avgalgo?: StrategyName;
  fracfit?: number;
  minfit?: number;
  minav?: number;
  numround?: number;
  sameserv?: SameServ;
  /** The strategy settings given (Flower's names), checked as numbers; their ranges are the chosen strategy's (resolve.ts). */
  strategyParams?: Record<string, number>;
}

export interface Target {
  id: string;
  operation: string;
  operand: string;
  constraints: Constraints;
  parsed: ParsedConstraints;
}

export interface Intent {
  intentID: string;
  targets: Target[];
  /** Where each field sat in the uploaded file, keyed by path (e.g. `targets[0].constraints.fracfit`). */
  positions?: Record<string, SourcePosition>;
  fileName?: string;
}
