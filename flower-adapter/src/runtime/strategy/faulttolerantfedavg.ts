// FaultTolerantFedAvg (flwr/server/strategy/fault_tolerant_fedavg.py): FedAvg that always accepts
// failures, but aggregates a fit (evaluate) round only when results / (results + failures)
// reaches min_completion_rate_fit (min_completion_rate_evaluate).

import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import { ownParamsOrThrow } from './own-params.ts';
import type { OwnParams } from './strategy.ts';

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

export class FaultTolerantFedAvg extends FedAvg {
  override readonly name: string = 'FaultTolerantFedAvg';
  readonly minCompletionRateFit: number;
  readonly minCompletionRateEvaluate: number;

  constructor(opts: FedAvgOptions = {}, own: Readonly<Record<string, number>> = {}) {
    super({ ...opts, acceptFailures: true });
    const o = ownParamsOrThrow('FaultTolerantFedAvg', FAULTTOLERANTFEDAVG_PARAMS, own, {
      minFitClients: this.minFitClients,
      minAvailableClients: this.minAvailableClients,
      hasEvaluateFn: opts.evaluateFn !== undefined,
    });
    this.minCompletionRateFit = o['min_completion_rate_fit']!;
    this.minCompletionRateEvaluate = o['min_completion_rate_evaluate']!;
  }

  protected override acceptsRound(phase: 'fit' | 'evaluate', results: number, failures: number): boolean {
    if (results === 0) return false;
    const rate = results / (results + failures);
    return rate >= (phase === 'fit' ? this.minCompletionRateFit : this.minCompletionRateEvaluate);
  }
}
