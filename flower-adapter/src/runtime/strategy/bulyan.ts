// Bulyan (El Mhamdi et al. 2018; flwr/server/strategy/bulyan.py with Krum as its first rule):
// θ = n − 2f updates picked by repeated Krum, then per coordinate the mean of the θ − 2f values
// nearest the picked updates' median. Needs n ≥ 4f + 3 updates. The round record lists the clients
// picked (kept) and the rest (discarded).

import type { WeightedUpdate } from './aggregate.ts';
import { bulyan } from './aggregate-robust.ts';
import { type Combined, FedAvg, type FedAvgOptions } from './fedavg.ts';
import { ownParamsOrThrow } from './own-params.ts';
import { BULYAN_PARAMS } from '../../../../common/strategy-params.ts';

export { BULYAN_PARAMS };

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
