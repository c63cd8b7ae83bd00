// FedYogi (flwr/server/strategy/fedyogi.py): FedOpt with v ← v − (1 − β2)·Δ²·sign(v − Δ²).
// Flower's defaults: eta 0.01, eta_l 0.0316, beta_1 0.9, beta_2 0.99, tau 1e-3.

import type { FedAvgOptions } from './fedavg.ts';
import { FedOpt } from './fedopt.ts';
import { FEDYOGI_PARAMS } from '../../../../common/strategy-params.ts';

export { FEDYOGI_PARAMS };

export class FedYogi extends FedOpt {
  override readonly name: string = 'FedYogi';

  constructor(opts: FedAvgOptions = {}, own: Readonly<Record<string, number>> = {}) {
    super('FedYogi', FEDYOGI_PARAMS, opts, own);
  }

  protected secondMoment(v: number, delta2: number): number {
    return v - (1 - this.beta2) * delta2 * Math.sign(v - delta2);
  }
}
