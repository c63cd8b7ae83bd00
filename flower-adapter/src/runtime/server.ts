// The federated-learning round loop (Flower's server/server.py Server): FlServer runs one run —
// wait for clients, initialize, then per round a fit round and an evaluate round — and keeps its
// history; runFlServer is the one-call form. The strategy decides everything (who, what, how to
// combine); the loop only fans instructions out (client-calls.ts), collects results *and*
// failures, and hands both back. Unlike Flower it never blocks without a bound: every client
// call has roundTimeoutMs, every wait for clients has waitForClientsTimeoutMs, and a run that
// cannot get enough clients ends as 'failed' with a reason instead of waiting for a day.

import { failureText, fanOut, guardedCall } from './client-calls.ts';
import { NotEnoughClientsError, type Strategy, type StrategyContext } from './strategy/strategy.ts';
import type {
  ClientManager,
  ClientProxy,
  EvaluateIns,
  EvaluateRes,
  FitIns,
  FitRes,
  Metrics,
  Parameters,
} from './types.ts';
import { Code } from './types.ts';

export interface RunFlServerOptions<S> {
  clientManager: ClientManager;
  strategy: Strategy<S>;
  /** Rounds of fit + evaluate, an integer >= 1. */
  numRounds: number;
  /** Deadline for each client call (fit, evaluate, get-parameters). A late client is closed and counted as failed. */
  roundTimeoutMs: number;
  /** How long sampling (and the start of the run) may wait for enough connected clients. */
  waitForClientsTimeoutMs: number;
  /** When set, the run starts only once this many clients are connected (else it fails). */
  minAvailableClients?: number;
  /** Time allowed for each client's DisconnectRes at the end of the run. Default 1000 ms. */
  disconnectTimeoutMs?: number;
  signal?: AbortSignal;
  onEvent?: (e: ServerEvent) => void;
}

/** What the server records of one round (its entry in ServerHistory.rounds). */
export interface ServerRoundRecord {
  round: number;
  /** Clients sampled for fit. */
  fitClients: number;
  fitResults: number;
  fitFailures: number;
  /** One line per failure: client, and status or error. */
  fitFailureReasons: string[];
  /** Aggregated fit metrics (strategy's fitMetricsAggregation). */
  metricsFit: Metrics;
  /** Peers whose updates the aggregate used, where the strategy discards some (Krum, Bulyan). */
  fitKept?: string[];
  /** Peers whose updates the strategy discarded this round. */
  fitDiscarded?: string[];
  /** The strategy's note on what it cut (e.g. trimmed mean's per-coordinate cut). */
  fitSelection?: string;
  evaluateResults: number;
  evaluateFailures: number;
  lossDistributed?: number;
  metricsDistributed: Metrics;
  lossCentralized?: number;
  metricsCentralized: Metrics;
  durationMs: number;
  /** True when the global model was not updated (no results, or failures with acceptFailures false). */
  skipped: boolean;
  /** Set on the round during which the run failed or was aborted. */
  error?: string;
}

export type RunStatus = 'completed' | 'failed' | 'aborted';

export interface ServerHistory {
  status: RunStatus;
  /** Why the run failed or was aborted. */
  reason?: string;
  rounds: ServerRoundRecord[];
  /** Centralized evaluation of the initial model (Flower's round 0). */
  initialEvaluation?: { loss: number; metrics: Metrics };
  /** The final global parameters (as far as the run got). */
  parameters?: Parameters;
  durationMs: number;
}

export type ServerEvent =
  | { type: 'round-start'; round: number }
  | { type: 'fit-done'; round: number; clients: number; results: number; failures: number; ms: number }
  | {
      type: 'evaluate-done';
      round: number;
      loss: number | undefined;
      metrics: Metrics;
      /** true: centralized (strategy.evaluate); false: aggregated from clients. */
      central: boolean;
      results?: number;
      failures?: number;
      ms: number;
    }
  | { type: 'round-end'; round: number; ms: number; skipped: boolean; record: ServerRoundRecord }
  | { type: 'done'; rounds: number; durationMs: number }
  | { type: 'failed'; reason: string }
  | { type: 'aborted'; reason: string };

const DEFAULT_DISCONNECT_TIMEOUT_MS = 1000;

/** Ends the run as failed with this reason. */
class RunFailure extends Error {}
class RunAborted extends Error {}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function validate(opts: RunFlServerOptions<unknown>): void {
  const where = 'runFlServer';
  if (!Number.isSafeInteger(opts.numRounds) || opts.numRounds < 1) {
    throw new RangeError(`${where}: numRounds is ${String(opts.numRounds)}; allowed: an integer >= 1`);
  }
  for (const key of ['roundTimeoutMs', 'waitForClientsTimeoutMs'] as const) {
    const v = opts[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new RangeError(`${where}: ${key} is ${String(v)}; allowed: a finite number of milliseconds > 0`);
    }
  }
  const d = opts.disconnectTimeoutMs;
  if (d !== undefined && (!Number.isFinite(d) || d <= 0)) {
    throw new RangeError(`${where}: disconnectTimeoutMs is ${String(d)}; allowed: a finite number > 0`);
  }
  const m = opts.minAvailableClients;
  if (m !== undefined && (!Number.isSafeInteger(m) || m < 1)) {
    throw new RangeError(`${where}: minAvailableClients is ${String(m)}; allowed: an integer >= 1`);
  }
  if (opts.strategy === undefined || typeof opts.strategy.configureFit !== 'function') {
    throw new TypeError(`${where}: strategy must implement the Strategy interface`);
  }
}

/** Rejects `p` as soon as the signal fires; the losing promise's outcome is ignored. */
function makeAbortRace(signal: AbortSignal | undefined): {
  race<T>(p: Promise<T>): Promise<T>;
  /** Throws at once if the signal has already fired. */
  check(): void;
  dispose(): void;
} {
  if (signal === undefined) return { race: (p) => p, check: () => {}, dispose: () => {} };
  let fire: (e: Error) => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    fire = reject;
  });
  aborted.catch(() => {});
  const abortError = (): RunAborted => {
    const r: unknown = signal.reason;
    return new RunAborted(r instanceof Error ? r.message : r === undefined ? 'aborted' : String(r));
  };
  const onAbort = (): void => fire(abortError());
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return {
    race: (p) => Promise.race([p, aborted]),
    check: () => {
      if (signal.aborted) throw abortError();
    },
    dispose: () => signal.removeEventListener('abort', onAbort),
  };
}

function newRoundRecord(round: number): ServerRoundRecord {
  return {
    round,
    fitClients: 0,
    fitResults: 0,
    fitFailures: 0,
    fitFailureReasons: [],
    metricsFit: {},
    evaluateResults: 0,
    evaluateFailures: 0,
    metricsDistributed: {},
    metricsCentralized: {},
    durationMs: 0,
    skipped: true,
  };
}

/**
 * One run of federated learning (Flower's Server): the clients, the strategy and its run state,
 * the current global parameters and the history. Nothing starts before run(); one run per object.
 */
export class FlServer<S> {
  readonly history: ServerHistory = { status: 'completed', rounds: [], durationMs: 0 };
  private readonly cm: ClientManager;
  private readonly strategy: Strategy<S>;
  private readonly roundTimeoutMs: number;
  private readonly waitForClientsTimeoutMs: number;
  private readonly disconnectTimeoutMs: number;
  private abort = makeAbortRace(undefined);
  private state!: S;
  private parameters: Parameters | undefined;
  private started = false;

  constructor(private readonly opts: RunFlServerOptions<S>) {
    validate(opts as RunFlServerOptions<unknown>);
    this.cm = opts.clientManager;
    this.strategy = opts.strategy;
    this.roundTimeoutMs = opts.roundTimeoutMs;
    this.waitForClientsTimeoutMs = opts.waitForClientsTimeoutMs;
    this.disconnectTimeoutMs = opts.disconnectTimeoutMs ?? DEFAULT_DISCONNECT_TIMEOUT_MS;
  }

  /** Runs `numRounds` rounds; resolves (never rejects on client trouble) with the history. */
  async run(): Promise<ServerHistory> {
    if (this.started) throw new Error('FlServer.run: this server has run already; create one per run');
    this.started = true;
    this.abort = makeAbortRace(this.opts.signal);
    const t0 = performance.now();
    this.state = this.strategy.createState();
    try {
      await this.runRounds();
      this.history.status = 'completed';
    } catch (e) {
      this.recordEnd(e);
    } finally {
      this.abort.dispose();
    }
    await this.releaseClients();
    this.history.parameters = this.parameters;
    this.history.durationMs = performance.now() - t0;
    if (this.history.status === 'completed')
      this.emit({ type: 'done', rounds: this.history.rounds.length, durationMs: this.history.durationMs });
    else this.emit({ type: this.history.status, reason: this.history.reason ?? '' });
    return this.history;
  }

  /** The loop: start, initialize, round 0's centralized evaluation, then each round. */
  private async runRounds(): Promise<void> {
    this.abort.check();
    await this.waitForStart();
    await this.initialize();
    await this.evaluateInitial();
    for (let round = 1; round <= this.opts.numRounds; round++) {
      const rec = newRoundRecord(round);
      // pushed first so a round that fails half-way still shows what it did (e.g. fit but no evaluate)
      this.history.rounds.push(rec);
      await this.runRound(rec);
      this.emit({ type: 'round-end', round, ms: rec.durationMs, skipped: rec.skipped, record: rec });
    }
  }

  /** Why the run ended early, into the history. */
  private recordEnd(e: unknown): void {
    if (e instanceof RunAborted) {
      this.history.status = 'aborted';
      this.history.reason = e.message;
    } else {
      this.history.status = 'failed';
      this.history.reason = e instanceof RunFailure ? e.message : `unexpected error: ${errorText(e)}`;
    }
  }

  /** An aborted run closes its clients at once; any other run says goodbye to them. */
  private async releaseClients(): Promise<void> {
    if (this.history.status === 'aborted') {
      for (const c of this.cm.all()) if (!c.closed) c.close(`run aborted: ${this.history.reason}`);
    } else {
      await this.disconnectAll();
    }
  }

  private emit(e: ServerEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch {
      // a broken listener must not break the run
    }
  }

  private ctx(): StrategyContext<S> {
    return {
      state: this.state,
      parameters: this.parameters,
      waitForClientsTimeoutMs: this.waitForClientsTimeoutMs,
    };
  }

  /** Runs one step; strategy errors become a run failure naming the round and step. */
  private async step<T>(where: string, p: () => Promise<T>): Promise<T> {
    try {
      return await this.abort.race(p());
    } catch (e) {
      if (e instanceof RunAborted || e instanceof RunFailure) throw e;
      if (e instanceof NotEnoughClientsError) throw new RunFailure(e.message);
      throw new RunFailure(`${where} failed: ${errorText(e)}`);
    }
  }

  /** With minAvailableClients set, the run starts only once that many clients are connected. */
  private async waitForStart(): Promise<void> {
    if (this.opts.minAvailableClients === undefined) return;
    const needed = this.opts.minAvailableClients;
    const wait = this.waitForClientsTimeoutMs;
    const ok = await this.step('waiting for clients', () => this.cm.waitFor(needed, wait));
    if (!ok) {
      throw new RunFailure(
        `start of run: only ${this.cm.numAvailable()} client(s) connected after waiting ${wait} ms, ${needed} needed (minAvailableClients)`,
      );
    }
  }

  /** The initial global model: the strategy's, else one client's. */
  private async initialize(): Promise<void> {
    this.parameters = await this.step('initialization (strategy.initializeParameters)', () =>
      this.strategy.initializeParameters(this.cm, this.ctx()),
    );
    if (this.parameters === undefined) this.parameters = await this.abort.race(this.parametersFromClient());
    this.history.parameters = this.parameters;
  }

  private async parametersFromClient(): Promise<Parameters> {
    const { cm, waitForClientsTimeoutMs: wait, roundTimeoutMs: timeout } = this;
    const ok = await this.step('initialization (waiting for a client)', () => cm.waitFor(1, wait));
    const pool = cm.all().filter((c) => !c.closed);
    if (!ok || pool.length === 0) {
      throw new RunFailure(
        `initialization: no client connected within ${wait} ms to provide initial parameters (connected ${cm.numAvailable()}, needed 1)`,
      );
    }
    const client = pool[Math.floor(Math.random() * pool.length)]!;
    let res: Awaited<ReturnType<ClientProxy['getParameters']>>;
    try {
      res = await this.abort.race(
        guardedCall(client, 'getParameters', () => client.getParameters({ config: {} }, timeout), timeout),
      );
    } catch (e) {
      if (e instanceof RunAborted) throw e;
      throw new RunFailure(`initialization: ${errorText(e)}`);
    }
    if (res.status.code !== Code.OK || res.parameters.tensors.length === 0) {
      throw new RunFailure(
        `initialization: client ${client.cid} (${client.peer}) gave no initial parameters ` +
          `(status ${Code[res.status.code] ?? res.status.code} "${res.status.message}", ${res.parameters.tensors.length} tensors); ` +
          'set the strategy initialParameters or implement getParameters on the client',
      );
    }
    return res.parameters;
  }

  /** Flower's round 0: centralized evaluation of the initial model. */
  private async evaluateInitial(): Promise<void> {
    const t0 = performance.now();
    const central0 = await this.step('round 0 (centralized evaluation)', () =>
      this.strategy.evaluate(0, this.parameters!, this.ctx()),
    );
    if (central0 !== undefined) {
      this.history.initialEvaluation = central0;
      this.emit({ type: 'evaluate-done', round: 0, ...central0, central: true, ms: performance.now() - t0 });
    }
  }

  private async runRound(rec: ServerRoundRecord): Promise<void> {
    const tr = performance.now();
    this.emit({ type: 'round-start', round: rec.round });
    try {
      await this.fitRound(rec);
      await this.evaluateCentralized(rec);
      await this.evaluateRound(rec);
    } catch (e) {
      rec.error = errorText(e);
      throw e;
    } finally {
      rec.durationMs = performance.now() - tr;
    }
  }

  /** Flower's fit_round: configure, fan out, aggregate into the new global model. */
  private async fitRound(rec: ServerRoundRecord): Promise<void> {
    const round = rec.round;
    const fitIns = await this.step(`round ${round} (configureFit)`, () =>
      this.strategy.configureFit(round, this.parameters!, this.cm, this.ctx()),
    );
    this.checkNotEmpty(round, 'fit', fitIns.length);
    if (fitIns.length === 0) return;
    const t0 = performance.now();
    rec.fitClients = fitIns.length;
    const timeout = this.roundTimeoutMs;
    const { results, failures } = await this.abort.race(
      fanOut<FitIns, FitRes>(fitIns, 'fit', (c, ins) => c.fit(ins, timeout), timeout),
    );
    rec.fitResults = results.length;
    rec.fitFailures = failures.length;
    rec.fitFailureReasons = failures.map(failureText);
    this.emit({
      type: 'fit-done',
      round,
      clients: fitIns.length,
      results: results.length,
      failures: failures.length,
      ms: performance.now() - t0,
    });
    const agg = await this.step(`round ${round} (aggregateFit)`, () =>
      this.strategy.aggregateFit(round, results, failures, this.ctx()),
    );
    if ('state' in agg) this.state = agg.state as S;
    rec.metricsFit = agg.metrics;
    if (agg.selection !== undefined) {
      rec.fitKept = agg.selection.kept.map((c) => c.peer);
      rec.fitDiscarded = agg.selection.discarded.map((c) => c.peer);
      if (agg.selection.note !== undefined) rec.fitSelection = agg.selection.note;
    }
    if (agg.parameters !== undefined) {
      this.parameters = agg.parameters;
      rec.skipped = false;
    }
  }

  /** The strategy's server-side evaluation of the round's global model. */
  private async evaluateCentralized(rec: ServerRoundRecord): Promise<void> {
    const round = rec.round;
    const t0 = performance.now();
    const central = await this.step(`round ${round} (centralized evaluation)`, () =>
      this.strategy.evaluate(round, this.parameters!, this.ctx()),
    );
    if (central === undefined) return;
    rec.lossCentralized = central.loss;
    rec.metricsCentralized = central.metrics;
    this.emit({ type: 'evaluate-done', round, ...central, central: true, ms: performance.now() - t0 });
  }

  /** Flower's evaluate_round: the clients evaluate the global model; [] from the strategy skips it. */
  private async evaluateRound(rec: ServerRoundRecord): Promise<void> {
    const round = rec.round;
    const evalIns = await this.step(`round ${round} (configureEvaluate)`, () =>
      this.strategy.configureEvaluate(round, this.parameters!, this.cm, this.ctx()),
    );
    if (evalIns.length === 0) return;
    const t0 = performance.now();
    const timeout = this.roundTimeoutMs;
    const { results, failures } = await this.abort.race(
      fanOut<EvaluateIns, EvaluateRes>(evalIns, 'evaluate', (c, ins) => c.evaluate(ins, timeout), timeout),
    );
    rec.evaluateResults = results.length;
    rec.evaluateFailures = failures.length;
    const agg = await this.step(`round ${round} (aggregateEvaluate)`, () =>
      this.strategy.aggregateEvaluate(round, results, failures, this.ctx()),
    );
    rec.lossDistributed = agg.loss;
    rec.metricsDistributed = agg.metrics;
    this.emit({
      type: 'evaluate-done',
      round,
      loss: agg.loss,
      metrics: agg.metrics,
      central: false,
      results: results.length,
      failures: failures.length,
      ms: performance.now() - t0,
    });
  }

  /** A strategy that returns [] without throwing: fail if clients are short, else the step is just empty. */
  private checkNotEmpty(round: number, phase: 'fit', count: number): void {
    const needed = this.opts.minAvailableClients ?? 1;
    if (count === 0 && this.cm.numAvailable() < needed) {
      throw new RunFailure(
        `round ${round} (${phase}): no clients sampled; ${this.cm.numAvailable()} connected, ${needed} needed (minAvailableClients)`,
      );
    }
  }

  /** Flower's end of session: ReconnectIns (seconds unset) to everyone; DisconnectRes or a closed stream both count as done. */
  private async disconnectAll(): Promise<void> {
    const timeout = this.disconnectTimeoutMs;
    const clients = this.cm.all().filter((c) => !c.closed);
    await Promise.allSettled(
      clients.map(async (c) => {
        try {
          await guardedCall(c, 'reconnect', () => c.reconnect({}, timeout), timeout);
        } catch {
          if (!c.closed) c.close('no DisconnectRes at end of run');
        }
      }),
    );
  }
}

/** Runs `numRounds` rounds of federated learning; resolves (never rejects on client trouble) with the history. */
export async function runFlServer<S>(opts: RunFlServerOptions<S>): Promise<ServerHistory> {
  return new FlServer(opts).run();
}
