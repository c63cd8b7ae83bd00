// FaultTolerantFedAvg (flwr/server/strategy/fault_tolerant_fedavg.py): FedAvg that always accepts
// failures, but aggregates a fit (evaluate) round only when results / (results + failures)
// reaches min_completion_rate_fit (min_completion_rate_evaluate).

import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import { ownParamsOrThrow } from './own-params.ts';
import { FAULTTOLERANTFEDAVG_PARAMS } from '../../../../common/strategy-params.ts';

export { FAULTTOLERANTFEDAVG_PARAMS };

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
