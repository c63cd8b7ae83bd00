// The Strategy interface (Flower's server/strategy/strategy.py): all federated-learning policy —
// which clients take part, what they are sent, how their answers are combined — lives behind these
// six calls, and the server's round loop (server.ts) only fans out and collects.
//
// Run state. A strategy object holds only its settings, so one instance can serve several runs at
// once. Whatever a strategy must remember between rounds of one run (FedAvgM's momentum, FedAdam/
// FedYogi/FedAdagrad's moments and current weights) is a value of type S that the server creates
// per run with `createState()`, passes in every call's `ctx`, and replaces with the `state` that
// `aggregateFit` returns. Strategies must treat `ctx` as read-only: state in, new state out, which
// keeps aggregation testable as plain functions. FedAvg, FedProx, FedMedian, FedTrimmedAvg and
// Krum need no state (S = undefined); FedOpt-style strategies also read `ctx.parameters`, the
// global model the round started from.

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
import type { BaseSettingsView, OwnParam, OwnParams } from '../../../../common/strategy-params.ts';

// The per-strategy settings' types live with their table in common (the MLFO validates against it too).
export type { BaseSettingsView, OwnParam, OwnParams };

/** What the server hands a strategy on every call of one run. Read-only for the strategy. */
export interface StrategyContext<S = undefined> {
  /** The strategy's per-run server state, from createState() or the last aggregateFit. */
  readonly state: S;
  /** The current global parameters (undefined only before initialization). */
  readonly parameters: Parameters | undefined;
  /** How long sampling may wait for enough connected clients before giving up. */
  readonly waitForClientsTimeoutMs: number;
}

/** A failure as Flower reports it: a non-OK reply (with its client) or an Error (see ClientCallError). */
export type FitFailure = [ClientProxy, FitRes] | Error;
export type EvaluateFailure = [ClientProxy, EvaluateRes] | Error;

export interface FitAggregate<S> {
  /** New global parameters; undefined means the round's update is skipped. */
  parameters?: Parameters;
  metrics: Metrics;
  /** Replaces ctx.state for the following calls; omit to keep it. */
  state?: S;
  /** Which clients' updates the aggregate used, for strategies that discard some (Krum, Bulyan). */
  selection?: FitSelection;
}

/** What a discarding strategy did with the round's results; the server records it per round. */
export interface FitSelection {
  kept: ClientProxy[];
  discarded: ClientProxy[];
  /** How the rest was treated, e.g. trimmed mean's per-coordinate cut. */
  note?: string;
}

export interface EvaluateAggregate {
  loss?: number;
  metrics: Metrics;
}

export interface Strategy<S = undefined> {
  /** Short name for logs and history, e.g. "FedAvg". */
  readonly name: string;
  /** Fresh server-side state for one run. */
  createState(): S;
  /** Initial global parameters, or undefined to let the server ask one client. */
  initializeParameters(
    clientManager: ClientManager,
    ctx: StrategyContext<S>,
  ): Promise<Parameters | undefined>;
  /**
   * Picks the clients for a fit round and their instructions. Throws NotEnoughClientsError when
   * sampling timed out waiting for clients.
   */
  configureFit(
    round: number,
    parameters: Parameters,
    clientManager: ClientManager,
    ctx: StrategyContext<S>,
  ): Promise<Array<[ClientProxy, FitIns]>>;
  aggregateFit(
    round: number,
    results: Array<[ClientProxy, FitRes]>,
    failures: FitFailure[],
    ctx: StrategyContext<S>,
  ): Promise<FitAggregate<S>>;
  /** Like configureFit; [] (without throwing) means no federated evaluation this round. */
  configureEvaluate(
    round: number,
    parameters: Parameters,
    clientManager: ClientManager,
    ctx: StrategyContext<S>,
  ): Promise<Array<[ClientProxy, EvaluateIns]>>;
  aggregateEvaluate(
    round: number,
    results: Array<[ClientProxy, EvaluateRes]>,
    failures: EvaluateFailure[],
    ctx: StrategyContext<S>,
  ): Promise<EvaluateAggregate>;
  /** Centralized (server-side) evaluation; undefined when the strategy has none. */
  evaluate(
    round: number,
    parameters: Parameters,
    ctx: StrategyContext<S>,
  ): Promise<{ loss: number; metrics: Metrics } | undefined>;
}

/** Centralized evaluation function as FedAvg and friends take it. */
export type EvaluateFn = (
  round: number,
  arrays: NDArray[],
) => Promise<{ loss: number; metrics: Metrics } | undefined>;

/** Sampling gave up: fewer clients were connected than the strategy needs. The server ends the run. */
export class NotEnoughClientsError extends Error {
  override readonly name = 'NotEnoughClientsError';
  constructor(
    readonly round: number,
    readonly phase: 'fit' | 'evaluate',
    readonly connected: number,
    readonly needed: number,
    readonly waitedMs: number,
  ) {
    super(
      `round ${round} (${phase}): only ${connected} client(s) connected after waiting ${waitedMs} ms, ` +
        `${needed} needed (minAvailableClients)`,
    );
  }
}

/** A client call that rejected (timeout, broken stream, wrong reply kind), as a fit/evaluate failure. */
export class ClientCallError extends Error {
  override readonly name = 'ClientCallError';
  constructor(
    readonly client: ClientProxy,
    readonly phase: 'fit' | 'evaluate' | 'getParameters' | 'reconnect',
    override readonly cause: unknown,
  ) {
    super(
      `client ${client.cid} (${client.peer}) ${phase} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

/**
 * What a server session hands a strategy factory (registry.ts): the settings every strategy
 * shares, in Flower's names, plus `own` — the strategy's own settings (e.g. FedProx's proximal
 * mu), already validated, for its factory to read; empty for FedAvg.
 */
export interface StrategySettings {
  fractionFit: number;
  fractionEvaluate: number;
  minFitClients: number;
  minEvaluateClients: number;
  minAvailableClients: number;
  acceptFailures: boolean;
  /** Global model to start from; without it the server asks one client. */
  initialParameters?: Parameters;
  /** Centralized evaluation of the global model, when the server has a test split. */
  evaluateFn?: EvaluateFn;
  /** Config sent with FitIns in each round (epochs, batch size, learning rate). */
  onFitConfig: (round: number) => Config;
  /** Config sent with EvaluateIns in each round. */
  onEvaluateConfig: (round: number) => Config;
  readonly own: Readonly<Record<string, number>>;
  /** Server-side central DP with fixed clipping around the strategy (Flower's DifferentialPrivacyServerSideFixedClipping). */
  centralDp?: CentralDpSettings;
}

export interface CentralDpSettings {
  clippingNorm: number;
  noiseMultiplier: number;
  numSampledClients: number;
}

/** Builds one strategy from a session's settings; throws (RangeError, TypeError) on bad ones. */
export type StrategyFactory = (settings: StrategySettings) => AnyStrategy;

/** A strategy of whatever run-state type: the server is generic over it, the caller need not know it. */
// biome-ignore lint/suspicious/noExplicitAny: Strategy<S> is invariant in S; unknown would reject every concrete S
export type AnyStrategy = Strategy<any>;
