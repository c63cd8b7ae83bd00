// FedAvgM (Hsu et al. 2019) with Flower's semantics (flwr/server/strategy/fedavgm.py): FedAvg's
// mean, then a server step on the pseudo-gradient g = w − mean, with momentum
// v ← server_momentum·v + g (v = g in the first aggregated round) and w ← w − server_learning_rate·v.
// With server_learning_rate 1 and server_momentum 0 it is FedAvg exactly, as in Flower.
// Run state: the server weights w (starting from the round's global parameters, i.e. the initial
// ones in round 1) and the momentum v, in float64.

import { parametersToArrays } from '../npy.ts';
import { type WeightedUpdate, toFloat32Arrays, toFloat64, weightedAverage } from './aggregate.ts';
import { type Combined, FedAvg, type FedAvgOptions } from './fedavg.ts';
import { ownParamsOrThrow } from './own-params.ts';
import type { StrategyContext } from './strategy.ts';
import { FEDAVGM_PARAMS } from '../../../../common/strategy-params.ts';

export { FEDAVGM_PARAMS };

export interface ServerOptState {
  /** The server's weights after the last aggregated round (before any DP noise). */
  weights?: Float64Array[];
  momentum?: Float64Array[];
}

/** The weights a server optimizer steps from: its own from the last round, else the round's global model. */
export function serverWeights(
  state: ServerOptState | undefined,
  ctx: StrategyContext<unknown> | undefined,
  who: string,
): Float64Array[] {
  if (state?.weights !== undefined) return state.weights;
  if (ctx?.parameters === undefined) {
    throw new Error(`${who}: no global parameters to step from (the server passes them in the context)`);
  }
  return toFloat64(parametersToArrays(ctx.parameters));
}

export class FedAvgM extends FedAvg<ServerOptState> {
  override readonly name: string = 'FedAvgM';
  readonly serverLearningRate: number;
  readonly serverMomentum: number;

  constructor(opts: FedAvgOptions = {}, own: Readonly<Record<string, number>> = {}) {
    super(opts);
    const o = ownParamsOrThrow('FedAvgM', FEDAVGM_PARAMS, own, {
      minFitClients: this.minFitClients,
      minAvailableClients: this.minAvailableClients,
      hasEvaluateFn: opts.evaluateFn !== undefined,
    });
    this.serverLearningRate = o['server_learning_rate']!;
    this.serverMomentum = o['server_momentum']!;
  }

  override createState(): ServerOptState {
    return {};
  }

  protected override async combine(
    _round: number,
    updates: WeightedUpdate[],
    ctx: StrategyContext<ServerOptState> | undefined,
  ): Promise<Combined<ServerOptState>> {
    const mean = weightedAverage(updates);
    if (this.serverMomentum === 0 && this.serverLearningRate === 1) return { arrays: mean };
    const w = serverWeights(ctx?.state, ctx, this.name);
    const avg = toFloat64(mean);
    const prev = ctx?.state?.momentum;
    const momentum = w.map((wk, k) => {
      const out = new Float64Array(wk.length);
      const a = avg[k]!;
      const p = prev?.[k];
      for (let i = 0; i < out.length; i++) {
        const g = wk[i]! - a[i]!;
        out[i] = this.serverMomentum > 0 && p !== undefined ? this.serverMomentum * p[i]! + g : g;
      }
      return out;
    });
    const lr = this.serverLearningRate;
    const weights = w.map((wk, k) => wk.map((x, i) => x - lr * momentum[k]![i]!));
    const state: ServerOptState = { weights, ...(this.serverMomentum > 0 ? { momentum } : {}) };
    return { arrays: toFloat32Arrays(mean, weights), state };
  }
}
