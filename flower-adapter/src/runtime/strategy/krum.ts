// Krum and MultiKrum (Blanchard et al. 2017; flwr/server/strategy/krum.py): score each update by
// the summed squared distances to its n − f − 2 nearest others; Krum takes the best-scored update
// as the global model, MultiKrum (num_clients_to_keep ≥ 1) the example-weighted mean of the best
// num_clients_to_keep. The round record lists the clients kept and discarded.

import type { WeightedUpdate } from './aggregate.ts';
import { krum } from './aggregate-robust.ts';
import { type Combined, FedAvg, type FedAvgOptions } from './fedavg.ts';
import { ownParamsOrThrow } from './own-params.ts';
import { KRUM_PARAMS, MULTIKRUM_PARAMS } from '../../../../common/strategy-params.ts';

export { KRUM_PARAMS, MULTIKRUM_PARAMS };

/** multikrum: Krum with num_clients_to_keep required ≥ 1 (Flower spells it Krum(num_clients_to_keep=…)). */
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
