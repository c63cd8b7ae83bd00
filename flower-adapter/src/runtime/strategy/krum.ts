// Krum and MultiKrum (Blanchard et al. 2017; flwr/server/strategy/krum.py): score each update by
// the summed squared distances to its n − f − 2 nearest others; Krum takes the best-scored update
// as the global model, MultiKrum (num_clients_to_keep ≥ 1) the example-weighted mean of the best
// num_clients_to_keep. The round record lists the clients kept and discarded.

import type { WeightedUpdate } from './aggregate.ts';
import { krum } from './aggregate-robust.ts';
import { type Combined, FedAvg, type FedAvgOptions } from './fedavg.ts';
import { ownParamsOrThrow } from './own-params.ts';
import type { BaseSettingsView, OwnParams } from './strategy.ts';

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

export class Krum extends FedAvg {
  override readonly name: string;
  readonly numMaliciousClients: number;
  readonly numClientsToKeep: number;

  constructor(opts: FedAvgOptions = {}, own: Readonly<Record<string, number>> = {}, multi = false) {
    super(opts);
    this.name = multi ? 'MultiKrum' : 'Krum';
    const o = ownParamsOrThrow(this.name, multi ? MULTIKRUM_PARAMS : KRUM_PARAMS, own, {
      minFitClients: this.minFitClients,
      minAvailableClients: this.minAvailableClients,
      hasEvaluateFn: opts.evaluateFn !== undefined,
    });
    this.numMaliciousClients = o['num_malicious_clients']!;
    this.numClientsToKeep = o['num_clients_to_keep']!;
  }

  protected override async combine(_round: number, updates: WeightedUpdate[]): Promise<Combined<undefined>> {
    return krum(updates, this.numMaliciousClients, this.numClientsToKeep);
  }
}
