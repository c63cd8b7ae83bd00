// FedOpt (Reddi et al. 2020, "Adaptive Federated Optimization"), the base of FedAdagrad, FedAdam
// and FedYogi as in Flower (flwr/server/strategy/fedopt.py and its subclasses): FedAvg's mean
// gives the round's pseudo-gradient Δ = mean − w; the first moment is m ← β1·m + (1 − β1)·Δ
// (m starts at 0), the second moment v is each subclass's rule, and the step is
// w ← w + η_t·m / (√v + τ). The subclasses differ only in `secondMoment` and `stepSize`.
// Run state: w (starting from the global parameters of round 1 — the model's own or a client's),
// m and v, in float64. eta_l is accepted and reported like Flower's, which does not use it either.

import { toFloat32Arrays, toFloat64, type WeightedUpdate, weightedAverage } from './aggregate.ts';
import { type Combined, FedAvg, type FedAvgOptions } from './fedavg.ts';
import { serverWeights } from './fedavgm.ts';
import { ownParamsOrThrow } from './own-params.ts';
import type { OwnParams, StrategyContext } from './strategy.ts';

export interface FedOptState {
  weights?: Float64Array[];
  m?: Float64Array[];
  v?: Float64Array[];
}

export abstract class FedOpt extends FedAvg<FedOptState> {
  readonly eta: number;
  readonly etaL: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly tau: number;

  constructor(name: string, spec: OwnParams, opts: FedAvgOptions, own: Readonly<Record<string, number>>) {
    super(opts);
    const o = ownParamsOrThrow(name, spec, own, {
      minFitClients: this.minFitClients,
      minAvailableClients: this.minAvailableClients,
      hasEvaluateFn: opts.evaluateFn !== undefined,
    });
    this.eta = o['eta']!;
    this.etaL = o['eta_l']!;
    this.beta1 = o['beta_1'] ?? 0;
    this.beta2 = o['beta_2'] ?? 0;
    this.tau = o['tau']!;
  }

  /** The new second moment of one coordinate from the old one and Δ². */
  protected abstract secondMoment(v: number, delta2: number): number;

  /** η_t of round `round` (FedAdam corrects the bias; the others use η). */
  protected stepSize(_round: number): number {
    return this.eta;
  }

  override createState(): FedOptState {
    return {};
  }

  protected override async combine(
    round: number,
    updates: WeightedUpdate[],
    ctx: StrategyContext<FedOptState> | undefined,
  ): Promise<Combined<FedOptState>> {
    const mean = weightedAverage(updates);
    const avg = toFloat64(mean);
    const w = serverWeights(ctx?.state, ctx, this.name);
    const state = ctx?.state;
    const b1 = this.beta1;
    const eta = this.stepSize(round);
    const m: Float64Array[] = [];
    const v: Float64Array[] = [];
    const weights: Float64Array[] = [];
    w.forEach((wk, k) => {
      const a = avg[k]!;
      const mOld = state?.m?.[k];
      const vOld = state?.v?.[k];
      const mk = new Float64Array(wk.length);
      const vk = new Float64Array(wk.length);
      const nk = new Float64Array(wk.length);
      for (let i = 0; i < wk.length; i++) {
        const d = a[i]! - wk[i]!;
        mk[i] = b1 * (mOld?.[i] ?? 0) + (1 - b1) * d;
        vk[i] = this.secondMoment(vOld?.[i] ?? 0, d * d);
        nk[i] = wk[i]! + (eta * mk[i]!) / (Math.sqrt(vk[i]!) + this.tau);
      }
      m.push(mk);
      v.push(vk);
      weights.push(nk);
    });
    return { arrays: toFloat32Arrays(mean, weights), state: { weights, m, v } };
  }
}
