// FedTrimmedAvg (Yin et al. 2018; flwr/server/strategy/fedtrimmedavg.py): per coordinate, cut
// ⌊beta·n⌋ of the lowest and of the highest client values and average the rest (unweighted).
// No client is dropped as a whole; the round record notes how many values were cut per side.

import type { WeightedUpdate } from './aggregate.ts';
import { trimmedCount, trimmedMean } from './aggregate-robust.ts';
import { type Combined, FedAvg, type FedAvgOptions } from './fedavg.ts';
import { ownParamsOrThrow } from './own-params.ts';
import { FEDTRIMMEDAVG_PARAMS } from '../../../../common/strategy-params.ts';

export { FEDTRIMMEDAVG_PARAMS };

export class FedTrimmedAvg extends FedAvg {
  override readonly name: string = 'FedTrimmedAvg';
  readonly beta: number;

  constructor(opts: FedAvgOptions = {}, own: Readonly<Record<string, number>> = {}) {
    super(opts);
    this.beta = ownParamsOrThrow('FedTrimmedAvg', FEDTRIMMEDAVG_PARAMS, own, {
      minFitClients: this.minFitClients,
      minAvailableClients: this.minAvailableClients,
      hasEvaluateFn: opts.evaluateFn !== undefined,
    })['beta']!;
  }

  protected override async combine(_round: number, updates: WeightedUpdate[]): Promise<Combined<undefined>> {
    const cut = trimmedCount(this.beta, updates.length);
    return {
      arrays: trimmedMean(updates, this.beta),
      note: `per coordinate, the ${cut} lowest and ${cut} highest of ${updates.length} values were cut (beta ${this.beta})`,
    };
  }
}
