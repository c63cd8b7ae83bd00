// FedAdam (flwr/server/strategy/fedadam.py): FedOpt with v ← β2·v + (1 − β2)·Δ² and Flower's
// bias-corrected step η_t = η·√(1 − β2^(t+1)) / (1 − β1^(t+1)), t the server round.
// Flower's defaults: eta 0.1, eta_l 0.1, beta_1 0.9, beta_2 0.99, tau 1e-9.

import type { FedAvgOptions } from './fedavg.ts';
import { FedOpt } from './fedopt.ts';
import { FEDADAM_PARAMS } from '../../../../common/strategy-params.ts';

export { FEDADAM_PARAMS };

export class FedAdam extends FedOpt {
  override readonly name: string = 'FedAdam';

  constructor(opts: FedAvgOptions = {}, own: Readonly<Record<string, number>> = {}) {
    super('FedAdam', FEDADAM_PARAMS, opts, own);
  }

  protected secondMoment(v: number, delta2: number): number {
    return this.beta2 * v + (1 - this.beta2) * delta2;
  }

  protected override stepSize(round: number): number {
    return (this.eta * Math.sqrt(1 - this.beta2 ** (round + 1))) / (1 - this.beta1 ** (round + 1));
  }
}
