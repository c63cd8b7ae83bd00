// Central differential privacy with server-side fixed clipping around any strategy (Flower's
// DifferentialPrivacyServerSideFixedClipping, flwr/server/strategy/dp_fixed_clipping.py, with
// flwr/common/differential_privacy.py): each client's update u = w_k − w is scaled by
// min(1, clipping_norm/‖u‖₂) (‖·‖ over all arrays together), the wrapped strategy aggregates the
// clipped models, and Gaussian noise of std noise_multiplier·clipping_norm/num_sampled_clients is
// added to every coordinate of the result. A round with any failure is not aggregated, as in
// Flower. Everything else is the wrapped strategy's, including its run state.

import { getRandomValues } from 'node:crypto';
import { arraysToParameters, parametersToArrays } from '../npy.ts';
import type { ClientManager, ClientProxy, EvaluateRes, FitRes, NDArray, Parameters } from '../types.ts';
import { toFloat32Arrays, toFloat64 } from './aggregate.ts';
import type {
  CentralDpSettings,
  EvaluateFailure,
  FitAggregate,
  FitFailure,
  Strategy,
  StrategyContext,
} from './strategy.ts';

/** Flower's compute_stdv: noise_multiplier · clipping_norm / num_sampled_clients. */
export function noiseStdDev(s: CentralDpSettings): number {
  return (s.noiseMultiplier * s.clippingNorm) / s.numSampledClients;
}

/** Flower's compute_clip_model_update: reference + (arrays − reference)·min(1, clippingNorm/‖arrays − reference‖). */
export function clipToReference(arrays: NDArray[], reference: NDArray[], clippingNorm: number): NDArray[] {
  const x = toFloat64(arrays);
  const r = toFloat64(reference);
  let norm2 = 0;
  x.forEach((a, k) => {
    const b = r[k]!;
    for (let i = 0; i < a.length; i++) norm2 += (a[i]! - b[i]!) ** 2;
  });
  const scale = Math.min(1, clippingNorm / Math.sqrt(norm2));
  return toFloat32Arrays(
    arrays,
    x.map((a, k) => a.map((v, i) => r[k]![i]! + (v - r[k]![i]!) * scale)),
  );
}

/** Standard normal samples (Box–Muller) from the system's cryptographic random source. */
export function gaussianSource(): () => number {
  const buf = new Uint32Array(2048);
  let pos = buf.length;
  let spare: number | undefined;
  const uniform = (): number => {
    if (pos >= buf.length) {
      getRandomValues(buf);
      pos = 0;
    }
    return (buf[pos++]! + 0.5) / 2 ** 32;
  };
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const t = 2 * Math.PI * uniform();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

function checkDp(s: CentralDpSettings): void {
  const bad: string[] = [];
  if (!(Number.isFinite(s.noiseMultiplier) && s.noiseMultiplier >= 0))
    bad.push(`noise_multiplier is ${s.noiseMultiplier}; allowed: a number ≥ 0`);
  if (!(Number.isFinite(s.clippingNorm) && s.clippingNorm > 0))
    bad.push(`clipping_norm is ${s.clippingNorm}; allowed: a number > 0`);
  if (!(Number.isSafeInteger(s.numSampledClients) && s.numSampledClients > 0)) {
    bad.push(`num_sampled_clients is ${s.numSampledClients}; allowed: an integer ≥ 1`);
  }
  if (bad.length > 0) throw new RangeError(`DifferentialPrivacyServerSideFixedClipping: ${bad.join('; ')}`);
}

export class DpServerSideFixedClipping<S> implements Strategy<S> {
  readonly name: string;
  readonly settings: CentralDpSettings;
  private readonly gaussian: () => number;

  /** `gaussian` (standard normal samples) is for tests; the default draws from the crypto source. */
  constructor(
    readonly inner: Strategy<S>,
    settings: CentralDpSettings,
    gaussian?: () => number,
  ) {
    checkDp(settings);
    this.settings = { ...settings };
    this.gaussian = gaussian ?? gaussianSource();
    this.name = `DifferentialPrivacyServerSideFixedClipping(${inner.name})`;
  }

  createState(): S {
    return this.inner.createState();
  }

  initializeParameters(cm: ClientManager, ctx: StrategyContext<S>) {
    return this.inner.initializeParameters(cm, ctx);
  }

  configureFit(round: number, parameters: Parameters, cm: ClientManager, ctx: StrategyContext<S>) {
    return this.inner.configureFit(round, parameters, cm, ctx);
  }

  configureEvaluate(round: number, parameters: Parameters, cm: ClientManager, ctx: StrategyContext<S>) {
    return this.inner.configureEvaluate(round, parameters, cm, ctx);
  }

  async aggregateFit(
    round: number,
    results: Array<[ClientProxy, FitRes]>,
    failures: FitFailure[],
    ctx: StrategyContext<S>,
  ): Promise<FitAggregate<S>> {
    if (failures.length > 0) return { metrics: {} };
    if (ctx.parameters === undefined) throw new Error(`${this.name}: no global parameters to clip against`);
    const reference = parametersToArrays(ctx.parameters);
    const clipped = results.map(([c, res]): [ClientProxy, FitRes] => [
      c,
      {
        ...res,
        parameters: arraysToParameters(
          clipToReference(parametersToArrays(res.parameters), reference, this.settings.clippingNorm),
        ),
      },
    ]);
    const agg = await this.inner.aggregateFit(round, clipped, failures, ctx);
    if (agg.parameters === undefined) return agg;
    const std = noiseStdDev(this.settings);
    const arrays = parametersToArrays(agg.parameters);
    const noisy = toFloat64(arrays).map((a) => a.map((v) => v + std * this.gaussian()));
    return { ...agg, parameters: arraysToParameters(toFloat32Arrays(arrays, noisy)) };
  }

  aggregateEvaluate(
    round: number,
    results: Array<[ClientProxy, EvaluateRes]>,
    failures: EvaluateFailure[],
    ctx: StrategyContext<S>,
  ) {
    return this.inner.aggregateEvaluate(round, results, failures, ctx);
  }

  evaluate(round: number, parameters: Parameters, ctx: StrategyContext<S>) {
    return this.inner.evaluate(round, parameters, ctx);
  }
}
