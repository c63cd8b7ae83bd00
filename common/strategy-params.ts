// Each strategy's own settings, under Flower's parameter names, with their ranges and defaults
// (none: required, as in Flower), and the checks spanning several settings; also central DP's.
// One copy for both sides: the flower-adapter's strategies and /serv check against it
// (flower-adapter/src/runtime/strategy/), and the MLFO validates intents and form fields with it
// before anything starts. Plain data and arithmetic: importing this loads nothing of the adapter.

import type { StrategyName } from './strategies.ts';

/** One per-strategy setting: its field name (Flower's parameter name), range and default. */
export interface OwnParam {
  name: string;
  integer?: boolean;
  min: number;
  max: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  default?: number;
  doc: string;
}

/** The settings every strategy shares, as the cross-checks of OwnParams need them. */
export interface BaseSettingsView {
  minFitClients: number;
  minAvailableClients: number;
  hasEvaluateFn: boolean;
}

/** A strategy's own settings: the fields, and the checks that span several of them. */
export interface OwnParams {
  params: readonly OwnParam[];
  /** Problems of a combination, as [field, message]; none when the settings fit together. */
  check?: (own: Readonly<Record<string, number>>, base: BaseSettingsView) => Array<[string, string]>;
}

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

const NONE: OwnParams = { params: [] };

export const FEDAVGM_PARAMS: OwnParams = {
  params: [
    {
      name: 'server_learning_rate',
      min: 0,
      max: 1000,
      minExclusive: true,
      default: 1.0,
      doc: 'server-side learning rate',
    },
    {
      name: 'server_momentum',
      min: 0,
      max: 1,
      maxExclusive: true,
      default: 0.0,
      doc: 'server-side momentum factor',
    },
  ],
};

export const FEDPROX_PARAMS: OwnParams = {
  params: [
    {
      name: 'proximal_mu',
      min: 0,
      max: 1e6,
      doc: 'weight of the proximal term (mu/2)·‖w − w_global‖² in the clients’ loss; 0 is FedAvg',
    },
  ],
};

/** Flower's defaults differ per FedOpt subclass; these build each subclass's parameter list. */
export function fedOptParams(d: {
  eta: number;
  eta_l: number;
  beta_1?: number;
  beta_2?: number;
  tau: number;
}): OwnParams {
  const params: OwnParam[] = [
    { name: 'eta', min: 0, max: 1000, minExclusive: true, default: d.eta, doc: 'server-side learning rate' },
    {
      name: 'eta_l',
      min: 0,
      max: 1000,
      minExclusive: true,
      default: d.eta_l,
      doc: 'client-side learning rate (not used by the server, as in Flower)',
    },
  ];
  if (d.beta_1 !== undefined) {
    params.push({
      name: 'beta_1',
      min: 0,
      max: 1,
      maxExclusive: true,
      default: d.beta_1,
      doc: 'first-moment (momentum) decay',
    });
  }
  if (d.beta_2 !== undefined) {
    params.push({
      name: 'beta_2',
      min: 0,
      max: 1,
      maxExclusive: true,
      default: d.beta_2,
      doc: 'second-moment decay',
    });
  }
  params.push({
    name: 'tau',
    min: 0,
    max: 1000,
    minExclusive: true,
    default: d.tau,
    doc: 'degree of adaptability (added to √v)',
  });
  return { params };
}

export const FEDADAGRAD_PARAMS = fedOptParams({ eta: 1e-1, eta_l: 1e-1, tau: 1e-9 });
export const FEDADAM_PARAMS = fedOptParams({ eta: 1e-1, eta_l: 1e-1, beta_1: 0.9, beta_2: 0.99, tau: 1e-9 });
export const FEDYOGI_PARAMS = fedOptParams({
  eta: 1e-2,
  eta_l: 0.0316,
  beta_1: 0.9,
  beta_2: 0.99,
  tau: 1e-3,
});

export const FEDTRIMMEDAVG_PARAMS: OwnParams = {
  params: [
    {
      name: 'beta',
      min: 0,
      max: 0.5,
      maxExclusive: true,
      default: 0.2,
      doc: 'fraction cut off each tail, per coordinate',
    },
  ],
};

const malicious = {
  name: 'num_malicious_clients',
  integer: true,
  min: 0,
  max: 100000,
  default: 0,
  doc: 'number of malicious clients Krum must tolerate (f)',
};

function krumCheck(
  own: Readonly<Record<string, number>>,
  base: BaseSettingsView,
  multi: boolean,
): Array<[string, string]> {
  const f = own['num_malicious_clients']!;
  const keep = own['num_clients_to_keep'] ?? 0;
  const n = base.minFitClients;
  const problems: Array<[string, string]> = [];
  if (n <= 2 * f + 2) {
    problems.push([
      'num_malicious_clients',
      `${f} needs more than 2·${f}+2 = ${2 * f + 2} clients per round, but minfit is ${n}; allowed: num_malicious_clients ≤ ${Math.max(0, Math.floor((n - 3) / 2))} with minfit ${n}, or a larger minfit`,
    ]);
  } else if (keep > n - f) {
    problems.push([
      'num_clients_to_keep',
      `${keep} is more than minfit − num_malicious_clients = ${n - f}: keeping more would include a malicious client; allowed: 0 … ${n - f}`,
    ]);
  } else if (multi && keep < 1) {
    problems.push([
      'num_clients_to_keep',
      `${keep}; multikrum keeps at least 1 (0 is krum); allowed: 1 … ${n - f}`,
    ]);
  }
  return problems;
}

export const KRUM_PARAMS: OwnParams = {
  params: [
    malicious,
    {
      name: 'num_clients_to_keep',
      integer: true,
      min: 0,
      max: 100000,
      default: 0,
      doc: 'MultiKrum: average the best this many updates; 0 is classic Krum',
    },
  ],
  check: (own, base) => krumCheck(own, base, false),
};

/** multikrum: Krum with num_clients_to_keep required ≥ 1 (Flower spells it Krum(num_clients_to_keep=…)). */
export const MULTIKRUM_PARAMS: OwnParams = {
  params: [
    malicious,
    {
      name: 'num_clients_to_keep',
      integer: true,
      min: 1,
      max: 100000,
      doc: 'average the best this many updates (n − f in the MultiKrum paper)',
    },
  ],
  check: (own, base) => krumCheck(own, base, true),
};

/** Bulyan needs n ≥ 4f + 3 updates. */
export function bulyanMinClients(numMalicious: number): number {
  return 4 * numMalicious + 3;
}

export const BULYAN_PARAMS: OwnParams = {
  params: [
    {
      name: 'num_malicious_clients',
      integer: true,
      min: 0,
      max: 100000,
      default: 0,
      doc: 'number of malicious clients Bulyan must tolerate (f)',
    },
  ],
  check: (own, base) => {
    const f = own['num_malicious_clients']!;
    const need = bulyanMinClients(f);
    return base.minFitClients >= need
      ? []
      : [
          [
            'num_malicious_clients',
            `${f} needs at least 4·${f}+3 = ${need} clients per round, but minfit is ${base.minFitClients}; allowed: num_malicious_clients ≤ ${Math.floor((base.minFitClients - 3) / 4)} with minfit ${base.minFitClients} (minfit ≥ 3 for f = 0), or minfit ≥ ${need}`,
          ],
        ];
  },
};

export const QFEDAVG_PARAMS: OwnParams = {
  params: [
    { name: 'q_param', min: 0, max: 1000, default: 0.2, doc: 'fairness q (0: no reweighting by loss)' },
    {
      name: 'qffl_learning_rate',
      min: 0,
      max: 1000,
      minExclusive: true,
      default: 0.1,
      doc: 'the clients’ learning rate L assumed by q-FFL',
    },
  ],
  check: (_own, base) =>
    base.hasEvaluateFn
      ? []
      : [
          [
            'algo',
            'qfedavg takes its loss from the server-side evaluation of the global model (as Flower’s QFedAvg does from evaluate_fn); give model and source so the server can evaluate',
          ],
        ],
};

export const FAULTTOLERANTFEDAVG_PARAMS: OwnParams = {
  params: [
    {
      name: 'min_completion_rate_fit',
      min: 0,
      max: 1,
      default: 0.5,
      doc: 'fewest share of fit results among those sampled',
    },
    {
      name: 'min_completion_rate_evaluate',
      min: 0,
      max: 1,
      default: 0.5,
      doc: 'fewest share of evaluate results among those sampled',
    },
  ],
};

/** Every strategy's own settings, by strategy name. */
export const STRATEGY_PARAMS: Record<StrategyName, OwnParams> = {
  fedavg: NONE,
  fedavgm: FEDAVGM_PARAMS,
  fedprox: FEDPROX_PARAMS,
  fedadagrad: FEDADAGRAD_PARAMS,
  fedadam: FEDADAM_PARAMS,
  fedyogi: FEDYOGI_PARAMS,
  fedmedian: NONE,
  fedtrimmedavg: FEDTRIMMEDAVG_PARAMS,
  krum: KRUM_PARAMS,
  multikrum: MULTIKRUM_PARAMS,
  bulyan: BULYAN_PARAMS,
  qfedavg: QFEDAVG_PARAMS,
  faulttolerantfedavg: FAULTTOLERANTFEDAVG_PARAMS,
};

/**
 * Server-side central DP with fixed clipping, around any strategy: all three fields or none
 * (Flower's DifferentialPrivacyServerSideFixedClipping).
 */
export const DP_PARAMS: readonly OwnParam[] = [
  { name: 'clipping_norm', min: 0, minExclusive: true, max: 1e9, doc: 'clip each update to this L2 norm' },
  {
    name: 'noise_multiplier',
    min: 0,
    max: 1e9,
    doc: 'Gaussian noise std = noise_multiplier·clipping_norm/num_sampled_clients',
  },
  { name: 'num_sampled_clients', integer: true, min: 1, max: 100000, doc: 'clients sampled per round' },
];

/** Every strategy-setting name any strategy (or central DP) takes. */
export const STRATEGY_PARAM_NAMES: readonly string[] = [
  ...new Set([
    ...Object.values(STRATEGY_PARAMS).flatMap((s) => s.params.map((p) => p.name)),
    ...DP_PARAMS.map((p) => p.name),
  ]),
];

/**
 * Checks the strategy settings given for `algo` (its own and central DP's, by Flower's names):
 * returns the strategy's own settings with defaults filled in, central DP's when given, and the
 * problems as [field, message] — a setting of another strategy, a required one missing, a value
 * out of range, DP given only in part, combinations that do not fit. The MLFO's check of an
 * intent, before anything starts; /serv checks the same rules again.
 */
export function checkStrategySettings(
  algo: StrategyName,
  given: Readonly<Record<string, number>>,
  base: BaseSettingsView,
): { own: Record<string, number>; dp?: Record<string, number>; problems: Array<[string, string]> } {
  const spec = STRATEGY_PARAMS[algo];
  const mine = spec.params.map((p) => p.name);
  const dpNames = DP_PARAMS.map((p) => p.name);
  const problems: Array<[string, string]> = [];
  const ownGiven: Record<string, number> = {};
  const dpGiven: Record<string, number> = {};
  for (const [field, v] of Object.entries(given)) {
    if (dpNames.includes(field)) dpGiven[field] = v;
    else if (mine.includes(field)) ownGiven[field] = v;
    else {
      const owners = strategiesTaking(field);
      problems.push([
        field,
        `not a setting of ${algo}${owners.length > 0 ? ` (it is one of ${owners.join(', ')})` : ''}; allowed: ${[...mine, ...dpNames].join(', ')}`,
      ]);
    }
  }
  const { own, problems: ownProblems } = resolveOwnParams(spec, ownGiven, base);
  problems.push(...ownProblems);
  let dp: Record<string, number> | undefined;
  if (Object.keys(dpGiven).length > 0) {
    dp = {};
    for (const p of DP_PARAMS) {
      const v = dpGiven[p.name];
      if (v === undefined)
        problems.push([
          p.name,
          `missing: central DP takes ${dpNames.join(', ')} together; allowed: ${allowedText(p)}`,
        ]);
      else if (!inRange(p, v)) problems.push([p.name, `got ${String(v)}; allowed: ${allowedText(p)}`]);
      else dp[p.name] = v;
    }
  }
  return dp === undefined ? { own, problems } : { own, dp, problems };
}

function strategiesTaking(field: string): StrategyName[] {
  return (Object.keys(STRATEGY_PARAMS) as StrategyName[]).filter((n) =>
    STRATEGY_PARAMS[n].params.some((p) => p.name === field),
  );
}
