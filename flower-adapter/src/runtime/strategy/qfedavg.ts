// q-FedAvg (Li et al. 2019, q-FFL; flwr/server/strategy/qfedavg.py). As in Flower, the loss F is
// the server-side evaluation of the round's starting model w (so it needs evaluateFn), and each
// client k contributes Δ_k = F^q·(w − w_k)/lr and h_k = q·F^(q−1)·‖(w − w_k)/lr‖² + F^q/lr
// (F + 1e-10 in every power); the new model is w − ΣΔ_k / Σh_k. num_examples play no part.

import { parametersToArrays } from '../npy.ts';
import type { NDArray } from '../types.ts';
import { toFloat32Arrays, toFloat64, validateUpdates, type WeightedUpdate } from './aggregate.ts';
import { type Combined, FedAvg, type FedAvgOptions } from './fedavg.ts';
import { ownParamsOrThrow } from './own-params.ts';
import type { StrategyContext } from './strategy.ts';
import { QFEDAVG_PARAMS } from '../../../../common/strategy-params.ts';

export { QFEDAVG_PARAMS };

/** q-FFL's aggregate from the round's starting weights, the clients' weights and the loss F. */
export function qfflAggregate(
  before: NDArray[],
  clients: NDArray[][],
  loss: number,
  q: number,
  lr: number,
): NDArray[] {
  const w = toFloat64(before);
  const fq = (loss + 1e-10) ** q;
  const fq1 = (loss + 1e-10) ** (q - 1);
  const sumDelta = w.map((a) => new Float64Array(a.length));
  let sumH = 0;
  for (const c of clients) {
    const wk = toFloat64(c);
    let norm2 = 0;
    w.forEach((a, k) => {
      const b = wk[k]!;
      const s = sumDelta[k]!;
      for (let i = 0; i < a.length; i++) {
        const g = (a[i]! - b[i]!) / lr;
        norm2 += g * g;
        s[i]! += fq * g;
      }
    });
    sumH += q * fq1 * norm2 + fq / lr;
  }
  return toFloat32Arrays(
    before,
    w.map((a, k) => a.map((x, i) => x - sumDelta[k]![i]! / sumH)),
  );
}

export class QFedAvg extends FedAvg {
  override readonly name: string = 'QFedAvg';
  readonly qParam: number;
  readonly learningRate: number;

  constructor(opts: FedAvgOptions = {}, own: Readonly<Record<string, number>> = {}) {
    super(opts);
    const o = ownParamsOrThrow('QFedAvg', QFEDAVG_PARAMS, own, {
      minFitClients: this.minFitClients,
      minAvailableClients: this.minAvailableClients,
      hasEvaluateFn: opts.evaluateFn !== undefined,
    });
    this.qParam = o['q_param']!;
    this.learningRate = o['qffl_learning_rate']!;
  }

  protected override async combine(
    round: number,
    updates: WeightedUpdate[],
    ctx: StrategyContext<undefined> | undefined,
  ): Promise<Combined<undefined>> {
    validateUpdates(updates, 'qfedavg');
    if (ctx?.parameters === undefined) throw new Error('QFedAvg: no global parameters in the context');
    const before = parametersToArrays(ctx.parameters);
    const ev = await this.opts.evaluateFn!(round, before);
    if (ev === undefined) throw new Error('QFedAvg: the server-side evaluation gave no loss');
    return {
      arrays: qfflAggregate(
        before,
        updates.map((u) => u.arrays),
        ev.loss,
        this.qParam,
        this.learningRate,
      ),
    };
  }
}
