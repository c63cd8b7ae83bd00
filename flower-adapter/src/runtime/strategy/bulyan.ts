// Bulyan (El Mhamdi et al. 2018; flwr/server/strategy/bulyan.py with Krum as its first rule):
// θ = n − 2f updates picked by repeated Krum, then per coordinate the mean of the θ − 2f values
// nearest the picked updates' median. Needs n ≥ 4f + 3 updates. The round record lists the clients
// picked (kept) and the rest (discarded).

import type { WeightedUpdate } from './aggregate.ts';
import { bulyan, bulyanMinClients } from './aggregate-robust.ts';
import { type Combined, FedAvg, type FedAvgOptions } from './fedavg.ts';
import { ownParamsOrThrow } from './own-params.ts';
import type { OwnParams } from './strategy.ts';

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

export class Bulyan extends FedAvg {
  override readonly name: string = 'Bulyan';
  readonly numMaliciousClients: number;

  constructor(opts: FedAvgOptions = {}, own: Readonly<Record<string, number>> = {}) {
    super(opts);
    this.numMaliciousClients = ownParamsOrThrow('Bulyan', BULYAN_PARAMS, own, {
      minFitClients: this.minFitClients,
      minAvailableClients: this.minAvailableClients,
      hasEvaluateFn: opts.evaluateFn !== undefined,
    })['num_malicious_clients']!;
  }

  protected override async combine(_round: number, updates: WeightedUpdate[]): Promise<Combined<undefined>> {
    return bulyan(updates, this.numMaliciousClients);
  }
}
