// FedAvg (McMahan et al. 2017) with Flower's options and defaults (flwr/server/strategy/fedavg.py):
// sample max(floor(available × fraction), minClients) clients, send them the global model, and
// average what comes back weighted by num_examples. Settings are checked in the constructor and
// bad ones throw (Flower only warns). The instance holds settings only, so one FedAvg can serve
// several runs at once; its per-run state type is `undefined` (see strategy.ts).
//
// The strategies built on FedAvg override one hook each, as Flower's do: `combine` (how the
// round's updates become the new global model: FedAvgM, FedOpt, FedMedian, Krum, …),
// `acceptsRound` (which rounds are aggregated at all: FaultTolerantFedAvg) or configureFit
// (FedProx).

import { parametersToArrays, arraysToParameters } from '../npy.ts';
import type {
  ClientManager,
  ClientProxy,
  Config,
  EvaluateIns,
  EvaluateRes,
  FitIns,
  FitRes,
  Metrics,
  NDArray,
  Parameters,
} from '../types.ts';
import {
  type WeightedUpdate,
  weightedAverage,
  weightedLossAverage,
  weightedMetricsAverage,
} from './aggregate.ts';
import {
  type EvaluateAggregate,
  type EvaluateFailure,
  type EvaluateFn,
  type FitAggregate,
  type FitFailure,
  type FitSelection,
  NotEnoughClientsError,
  type Strategy,
  type StrategyContext,
  type StrategySettings,
} from './strategy.ts';

/** Combines the metrics of several clients; each entry carries the client's num_examples. */
export type MetricsAggregationFn = (results: Array<{ numExamples: number; metrics: Metrics }>) => Metrics;

export interface FedAvgOptions {
  /** Share of available clients sampled for fit, in (0, 1]. Default 1.0. */
  fractionFit?: number;
  /** Share of available clients sampled for evaluate, in [0, 1]; 0 disables federated evaluation. Default 1.0. */
  fractionEvaluate?: number;
  /** Fewest clients used in a fit round. Default 2. */
  minFitClients?: number;
  /** Fewest clients used in an evaluate round. Default 2. */
  minEvaluateClients?: number;
  /** Sampling waits until this many clients are connected. Default 2. */
  minAvailableClients?: number;
  /** Aggregate the successful results of a round that also had failures. Default true. */
  acceptFailures?: boolean;
  /** Global model to start from; without it the server asks one client. */
  initialParameters?: Parameters;
  /** Centralized evaluation of the global model, run by the server after each round (and round 0). */
  evaluateFn?: EvaluateFn;
  /** Config sent with FitIns in each round (Flower's on_fit_config_fn). */
  onFitConfig?: (round: number) => Config | Promise<Config>;
  /** Config sent with EvaluateIns in each round (Flower's on_evaluate_config_fn). */
  onEvaluateConfig?: (round: number) => Config | Promise<Config>;
  /** Default: example-weighted mean of numeric metrics. */
  fitMetricsAggregation?: MetricsAggregationFn;
  /** Default: example-weighted mean of numeric metrics. */
  evaluateMetricsAggregation?: MetricsAggregationFn;
}

/** FedAvg's options from a session's settings; the strategies built on FedAvg start from these too. */
export function fedAvgOptions(s: StrategySettings): FedAvgOptions {
  return {
    fractionFit: s.fractionFit,
    fractionEvaluate: s.fractionEvaluate,
    minFitClients: s.minFitClients,
    minEvaluateClients: s.minEvaluateClients,
    minAvailableClients: s.minAvailableClients,
    acceptFailures: s.acceptFailures,
    initialParameters: s.initialParameters,
    onFitConfig: s.onFitConfig,
    onEvaluateConfig: s.onEvaluateConfig,
    evaluateFn: s.evaluateFn,
  };
}

/** What `combine` makes of a round's updates: the new global arrays, and optionally new run state and which updates it used (indices into the updates). */
export interface Combined<S> {
  arrays: NDArray[];
  state?: S;
  kept?: number[];
  note?: string;
}

/** Used only when a caller passes no context (the server always passes one). */
const DEFAULT_WAIT_FOR_CLIENTS_MS = 60_000;

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'fractionFit',
  'fractionEvaluate',
  'minFitClients',
  'minEvaluateClients',
  'minAvailableClients',
  'acceptFailures',
  'initialParameters',
  'evaluateFn',
  'onFitConfig',
  'onEvaluateConfig',
  'fitMetricsAggregation',
  'evaluateMetricsAggregation',
]);

function checkFraction(name: string, v: number, allowZero: boolean): void {
  const ok = typeof v === 'number' && Number.isFinite(v) && v <= 1 && (allowZero ? v >= 0 : v > 0);
  if (!ok) {
    throw new RangeError(
      `FedAvg: ${name} is ${String(v)}; allowed: a number in ${allowZero ? '[0, 1]' : '(0, 1]'}`,
    );
  }
}

function checkMinClients(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`FedAvg: ${name} is ${String(v)}; allowed: an integer >= 1`);
  }
}

function checkFunction(name: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'function') {
    throw new TypeError(`FedAvg: ${name} must be a function, got ${typeof v}`);
  }
}

export class FedAvg<S = undefined> implements Strategy<S> {
  readonly name: string = 'FedAvg';
  readonly fractionFit: number;
  readonly fractionEvaluate: number;
  readonly minFitClients: number;
  readonly minEvaluateClients: number;
  readonly minAvailableClients: number;
  readonly acceptFailures: boolean;
  protected readonly opts: FedAvgOptions;

  constructor(opts: FedAvgOptions = {}) {
    for (const key of Object.keys(opts)) {
      if (!KNOWN_OPTIONS.has(key)) {
        throw new TypeError(`FedAvg: unknown option '${key}'; allowed: ${[...KNOWN_OPTIONS].join(', ')}`);
      }
    }
    this.fractionFit = opts.fractionFit ?? 1.0;
    this.fractionEvaluate = opts.fractionEvaluate ?? 1.0;
    this.minFitClients = opts.minFitClients ?? 2;
    this.minEvaluateClients = opts.minEvaluateClients ?? 2;
    this.minAvailableClients = opts.minAvailableClients ?? 2;
    this.acceptFailures = opts.acceptFailures ?? true;
    checkFraction('fractionFit', this.fractionFit, false);
    checkFraction('fractionEvaluate', this.fractionEvaluate, true);
    checkMinClients('minFitClients', this.minFitClients);
    checkMinClients('minEvaluateClients', this.minEvaluateClients);
    checkMinClients('minAvailableClients', this.minAvailableClients);
    if (this.minFitClients > this.minAvailableClients) {
      throw new RangeError(
        `FedAvg: minFitClients (${this.minFitClients}) > minAvailableClients (${this.minAvailableClients}); ` +
          'minAvailableClients must be at least minFitClients',
      );
    }
    if (this.fractionEvaluate > 0 && this.minEvaluateClients > this.minAvailableClients) {
      throw new RangeError(
        `FedAvg: minEvaluateClients (${this.minEvaluateClients}) > minAvailableClients (${this.minAvailableClients}); ` +
          'minAvailableClients must be at least minEvaluateClients',
      );
    }
    if (typeof this.acceptFailures !== 'boolean') {
      throw new TypeError(`FedAvg: acceptFailures must be a boolean, got ${typeof this.acceptFailures}`);
    }
    const p = opts.initialParameters;
    if (p !== undefined && (!Array.isArray(p.tensors) || p.tensors.some((t) => !(t instanceof Uint8Array)))) {
      throw new TypeError('FedAvg: initialParameters.tensors must be an array of Uint8Array (.npy bytes)');
    }
    checkFunction('evaluateFn', opts.evaluateFn);
    checkFunction('onFitConfig', opts.onFitConfig);
    checkFunction('onEvaluateConfig', opts.onEvaluateConfig);
    checkFunction('fitMetricsAggregation', opts.fitMetricsAggregation);
    checkFunction('evaluateMetricsAggregation', opts.evaluateMetricsAggregation);
    this.opts = { ...opts };
  }

  createState(): S {
    return undefined as S;
  }

  /** Flower's num_fit_clients: how many to sample, and how many must be connected first. */
  numFitClients(numAvailable: number): { sampleSize: number; minNumClients: number } {
    return {
      sampleSize: Math.max(Math.floor(numAvailable * this.fractionFit), this.minFitClients),
      minNumClients: this.minAvailableClients,
    };
  }

  /** Flower's num_evaluation_clients. */
  numEvaluationClients(numAvailable: number): { sampleSize: number; minNumClients: number } {
    return {
      sampleSize: Math.max(Math.floor(numAvailable * this.fractionEvaluate), this.minEvaluateClients),
      minNumClients: this.minAvailableClients,
    };
  }

  async initializeParameters(_clientManager: ClientManager): Promise<Parameters | undefined> {
    return this.opts.initialParameters;
  }

  async configureFit(
    round: number,
    parameters: Parameters,
    clientManager: ClientManager,
    ctx?: StrategyContext<S>,
  ): Promise<Array<[ClientProxy, FitIns]>> {
    const config = (await this.opts.onFitConfig?.(round)) ?? {};
    const { sampleSize, minNumClients } = this.numFitClients(clientManager.numAvailable());
    const clients = await this.sample(round, 'fit', clientManager, sampleSize, minNumClients, ctx);
    return clients.map((c) => [c, { parameters, config }]);
  }

  async configureEvaluate(
    round: number,
    parameters: Parameters,
    clientManager: ClientManager,
    ctx?: StrategyContext<S>,
  ): Promise<Array<[ClientProxy, EvaluateIns]>> {
    if (this.fractionEvaluate === 0) return [];
    const config = (await this.opts.onEvaluateConfig?.(round)) ?? {};
    const { sampleSize, minNumClients } = this.numEvaluationClients(clientManager.numAvailable());
    const clients = await this.sample(round, 'evaluate', clientManager, sampleSize, minNumClients, ctx);
    return clients.map((c) => [c, { parameters, config }]);
  }

  /** Whether a round with these results and failures is aggregated (Flower: results, and failures only with acceptFailures). */
  protected acceptsRound(_phase: 'fit' | 'evaluate', results: number, failures: number): boolean {
    return results > 0 && (failures === 0 || this.acceptFailures);
  }

  /** The new global arrays from the round's updates; FedAvg's is the example-weighted mean. */
  protected async combine(
    _round: number,
    updates: WeightedUpdate[],
    _ctx: StrategyContext<S> | undefined,
  ): Promise<Combined<S>> {
    return { arrays: weightedAverage(updates) };
  }

  async aggregateFit(
    round: number,
    results: Array<[ClientProxy, FitRes]>,
    failures: FitFailure[],
    ctx?: StrategyContext<S>,
  ): Promise<FitAggregate<S>> {
    if (!this.acceptsRound('fit', results.length, failures.length)) return { metrics: {} };
    const updates = results.map(([client, res]) => ({
      arrays: parametersToArrays(res.parameters),
      numExamples: res.numExamples,
      id: client.cid,
    }));
    const combined = await this.combine(round, updates, ctx);
    const metricsIn = results.map(([, res]) => ({ numExamples: res.numExamples, metrics: res.metrics }));
    const metrics = (this.opts.fitMetricsAggregation ?? weightedMetricsAverage)(metricsIn);
    const out: FitAggregate<S> = { parameters: arraysToParameters(combined.arrays), metrics };
    if ('state' in combined) out.state = combined.state as S;
    if (combined.kept !== undefined || combined.note !== undefined) {
      out.selection = selectionOf(results, combined.kept, combined.note);
    }
    return out;
  }

  async aggregateEvaluate(
    _round: number,
    results: Array<[ClientProxy, EvaluateRes]>,
    failures: EvaluateFailure[],
  ): Promise<EvaluateAggregate> {
    if (!this.acceptsRound('evaluate', results.length, failures.length)) return { metrics: {} };
    const loss = weightedLossAverage(results.map(([, r]) => r));
    const metricsIn = results.map(([, res]) => ({ numExamples: res.numExamples, metrics: res.metrics }));
    const metrics = (this.opts.evaluateMetricsAggregation ?? weightedMetricsAverage)(metricsIn);
    return { loss, metrics };
  }

  async evaluate(
    round: number,
    parameters: Parameters,
  ): Promise<{ loss: number; metrics: Metrics } | undefined> {
    if (this.opts.evaluateFn === undefined) return undefined;
    return this.opts.evaluateFn(round, parametersToArrays(parameters));
  }

  private async sample(
    round: number,
    phase: 'fit' | 'evaluate',
    clientManager: ClientManager,
    sampleSize: number,
    minNumClients: number,
    ctx: StrategyContext<S> | undefined,
  ): Promise<ClientProxy[]> {
    const timeoutMs = ctx?.waitForClientsTimeoutMs ?? DEFAULT_WAIT_FOR_CLIENTS_MS;
    const clients = await clientManager.sample(sampleSize, minNumClients, timeoutMs);
    if (clients.length === 0) {
      throw new NotEnoughClientsError(round, phase, clientManager.numAvailable(), minNumClients, timeoutMs);
    }
    return clients;
  }
}

/** Kept and discarded clients from the indices a combine used (all of them when it names none). */
function selectionOf(
  results: Array<[ClientProxy, FitRes]>,
  kept: number[] | undefined,
  note: string | undefined,
): FitSelection {
  const keep = new Set(kept ?? results.map((_, i) => i));
  const sel: FitSelection = {
    kept: results.filter((_, i) => keep.has(i)).map(([c]) => c),
    discarded: results.filter((_, i) => !keep.has(i)).map(([c]) => c),
  };
  if (note !== undefined) sel.note = note;
  return sel;
}
