// FedProx (Li et al. 2018) as Flower has it (flwr/server/strategy/fedprox.py): FedAvg on the
// server; every FitIns config also carries `proximal_mu`, and the client adds
// (proximal_mu/2)·‖w − w_global‖² to its training loss (our client: ml/tf-client.ts).

import type { ClientManager, ClientProxy, FitIns, Parameters } from '../types.ts';
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import { ownParamsOrThrow } from './own-params.ts';
import type { StrategyContext } from './strategy.ts';
import { FEDPROX_PARAMS } from '../../../../common/strategy-params.ts';

export { FEDPROX_PARAMS };

export class FedProx extends FedAvg {
  override readonly name: string = 'FedProx';
  readonly proximalMu: number;

  constructor(opts: FedAvgOptions = {}, own: Readonly<Record<string, number>> = {}) {
    super(opts);
    const o = ownParamsOrThrow('FedProx', FEDPROX_PARAMS, own, {
      minFitClients: this.minFitClients,
      minAvailableClients: this.minAvailableClients,
      hasEvaluateFn: opts.evaluateFn !== undefined,
    });
    this.proximalMu = o['proximal_mu']!;
  }

  override async configureFit(
    round: number,
    parameters: Parameters,
    clientManager: ClientManager,
    ctx?: StrategyContext<undefined>,
  ): Promise<Array<[ClientProxy, FitIns]>> {
    const ins = await super.configureFit(round, parameters, clientManager, ctx);
    return ins.map(([c, fit]) => [
      c,
      { parameters: fit.parameters, config: { ...fit.config, proximal_mu: this.proximalMu } },
    ]);
  }
}
