// FedAdagrad (flwr/server/strategy/fedadagrad.py): FedOpt with β1 = 0 (m = Δ) and v ← v + Δ².
// Flower's defaults: eta 0.1, eta_l 0.1, tau 1e-9; it has no beta_1/beta_2 to set.

import type { FedAvgOptions } from './fedavg.ts';
import { FedOpt } from './fedopt.ts';
import { FEDADAGRAD_PARAMS } from '../../../../common/strategy-params.ts';

export { FEDADAGRAD_PARAMS };

export class FedAdagrad extends FedOpt {
  override readonly name: string = 'FedAdagrad';

  constructor(opts: FedAvgOptions = {}, own: Readonly<Record<string, number>> = {}) {
    super('FedAdagrad', FEDADAGRAD_PARAMS, opts, own);
  }

  protected secondMoment(v: number, delta2: number): number {
    return v + delta2;
  }
}
