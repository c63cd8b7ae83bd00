// The federated-learning round loop (Flower's server/server.py Server.fit). The strategy decides
// everything (who, what, how to combine); this loop only fans instructions out, collects results
// *and* failures, and hands both back. Unlike Flower it never blocks without a bound: every client
// call has roundTimeoutMs, every wait for clients has waitForClientsTimeoutMs, and a run that
// cannot get enough clients ends as 'failed' with a reason instead of waiting for a day.

import type {
  ClientManager,
  ClientProxy,
  EvaluateIns,
  EvaluateRes,
  FitIns,
  FitRes,
  Metrics,
  Parameters,
  Status,
} from './types.ts';
import { Code } from './types.ts';
import {
  ClientCallError,
  NotEnoughClientsError,
  type Strategy,
  type StrategyContext,
} from './strategy/strategy.ts';

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

export interface RoundRecord {
  round: number;
  /** Clients sampled for fit. */
  fitClients: number;
  fitResults: number;
  fitFailures: number;
  /** One line per failure: client, and status or error. */
  fitFailureReasons: string[];
  /** Aggregated fit metrics (strategy's fitMetricsAggregation). */
  metricsFit: Metrics;
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
  rounds: RoundRecord[];
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
  | { type: 'round-end'; round: number; ms: number; skipped: boolean; record: RoundRecord }
  | { type: 'done'; rounds: number; durationMs: number }
  | { type: 'failed'; reason: string }
  | { type: 'aborted'; reason: string };

const DEFAULT_DISCONNECT_TIMEOUT_MS = 1000;
/** Extra time past roundTimeoutMs before the server stops waiting for a proxy that ignores its deadline. */
const GUARD_GRACE_MS = 1000;

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

/**
 * One client call with the proxy's own deadline plus a server-side guard, so a proxy that never
 * settles cannot stall the round. A guard hit closes the client.
 */
function guardedCall<T>(
  client: ClientProxy,
  phase: ClientCallError['phase'],
  call: () => Promise<T>,
  timeoutMs: number,
) {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close(`${phase} timed out after ${timeoutMs} ms`);
      reject(new ClientCallError(client, phase, new Error(`no reply within ${timeoutMs} ms`)));
    }, timeoutMs + GUARD_GRACE_MS);
    let p: Promise<T>;
    try {
      p = call();
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof ClientCallError ? e : new ClientCallError(client, phase, e));
      },
    );
  });
}

/** Sends every instruction concurrently; splits replies into OK results and failures (Flower's fit_clients). */
async function fanOut<Ins, Res extends { status: Status }>(
  instructions: Array<[ClientProxy, Ins]>,
  phase: 'fit' | 'evaluate',
  call: (client: ClientProxy, ins: Ins) => Promise<Res>,
  timeoutMs: number,
): Promise<{ results: Array<[ClientProxy, Res]>; failures: Array<[ClientProxy, Res] | Error> }> {
  const settled = await Promise.allSettled(
    instructions.map(([client, ins]) => guardedCall(client, phase, () => call(client, ins), timeoutMs)),
  );
  const results: Array<[ClientProxy, Res]> = [];
  const failures: Array<[ClientProxy, Res] | Error> = [];
  settled.forEach((s, i) => {
    const client = instructions[i]![0];
    if (s.status === 'rejected') failures.push(s.reason as Error);
    else if (s.value.status.code === Code.OK) results.push([client, s.value]);
    else failures.push([client, s.value]);
  });
  return { results, failures };
}

function failureText(f: [ClientProxy, { status: Status }] | Error): string {
  if (f instanceof Error) return f.message;
  const [client, res] = f;
  return `client ${client.cid} (${client.peer}) replied ${Code[res.status.code] ?? res.status.code}: ${res.status.message}`;
}

/** Runs `numRounds` rounds of federated learning; resolves (never rejects on client trouble) with the history. */
export async function runFlServer<S>(opts: RunFlServerOptions<S>): Promise<ServerHistory> {
  validate(opts as RunFlServerOptions<unknown>);
  const { clientManager: cm, strategy, numRounds, roundTimeoutMs, waitForClientsTimeoutMs } = opts;
  const disconnectTimeoutMs = opts.disconnectTimeoutMs ?? DEFAULT_DISCONNECT_TIMEOUT_MS;
  const emit = (e: ServerEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      // a broken listener must not break the run
    }
  };
  const abort = makeAbortRace(opts.signal);
  const t0 = performance.now();
  const history: ServerHistory = { status: 'completed', rounds: [], durationMs: 0 };
  let state = strategy.createState();
  let parameters: Parameters | undefined;
  const ctx = (): StrategyContext<S> => ({ state, parameters, waitForClientsTimeoutMs });

  /** Runs one step; strategy errors become a run failure naming the round and step. */
  const step = async <T>(where: string, p: () => Promise<T>): Promise<T> => {
    try {
      return await abort.race(p());
    } catch (e) {
      if (e instanceof RunAborted || e instanceof RunFailure) throw e;
      if (e instanceof NotEnoughClientsError) throw new RunFailure(e.message);
      throw new RunFailure(`${where} failed: ${errorText(e)}`);
    }
  };

  try {
    abort.check();

    if (opts.minAvailableClients !== undefined) {
      const needed = opts.minAvailableClients;
      const ok = await step('waiting for clients', () => cm.waitFor(needed, waitForClientsTimeoutMs));
      if (!ok) {
        throw new RunFailure(
          `start of run: only ${cm.numAvailable()} client(s) connected after waiting ${waitForClientsTimeoutMs} ms, ${needed} needed (minAvailableClients)`,
        );
      }
    }

    parameters = await step('initialization (strategy.initializeParameters)', () =>
      strategy.initializeParameters(cm, ctx()),
    );
    if (parameters === undefined) parameters = await abort.race(parametersFromClient());
    history.parameters = parameters;

    const t00 = performance.now();
    const central0 = await step('round 0 (centralized evaluation)', () =>
      strategy.evaluate(0, parameters!, ctx()),
    );
    if (central0 !== undefined) {
      history.initialEvaluation = central0;
      emit({ type: 'evaluate-done', round: 0, ...central0, central: true, ms: performance.now() - t00 });
    }

    for (let round = 1; round <= numRounds; round++) {
      const rec = newRecord(round);
      // pushed first so a round that fails half-way still shows what it did (e.g. fit but no evaluate)
      history.rounds.push(rec);
      await runRound(rec);
      emit({ type: 'round-end', round, ms: rec.durationMs, skipped: rec.skipped, record: rec });
    }
    history.status = 'completed';
  } catch (e) {
    if (e instanceof RunAborted) {
      history.status = 'aborted';
      history.reason = e.message;
    } else {
      history.status = 'failed';
      history.reason = e instanceof RunFailure ? e.message : `unexpected error: ${errorText(e)}`;
    }
  } finally {
    abort.dispose();
  }

  if (history.status === 'aborted') {
    for (const c of cm.all()) if (!c.closed) c.close(`run aborted: ${history.reason}`);
  } else {
    await disconnectAll();
  }
  history.parameters = parameters;
  history.durationMs = performance.now() - t0;
  if (history.status === 'completed')
    emit({ type: 'done', rounds: history.rounds.length, durationMs: history.durationMs });
  else emit({ type: history.status, reason: history.reason ?? '' });
  return history;

  async function parametersFromClient(): Promise<Parameters> {
    const ok = await step('initialization (waiting for a client)', () =>
      cm.waitFor(1, waitForClientsTimeoutMs),
    );
    const pool = cm.all().filter((c) => !c.closed);
    if (!ok || pool.length === 0) {
      throw new RunFailure(
        `initialization: no client connected within ${waitForClientsTimeoutMs} ms to provide initial parameters (connected ${cm.numAvailable()}, needed 1)`,
      );
    }
    const client = pool[Math.floor(Math.random() * pool.length)]!;
    let res: Awaited<ReturnType<ClientProxy['getParameters']>>;
    try {
      res = await abort.race(
        guardedCall(
          client,
          'getParameters',
          () => client.getParameters({ config: {} }, roundTimeoutMs),
          roundTimeoutMs,
        ),
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

  function newRecord(round: number): RoundRecord {
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

  async function runRound(rec: RoundRecord): Promise<void> {
    const round = rec.round;
    const tr = performance.now();
    emit({ type: 'round-start', round });
    try {
      await fitAndEvaluate(rec);
    } catch (e) {
      rec.error = errorText(e);
      throw e;
    } finally {
      rec.durationMs = performance.now() - tr;
    }
  }

  async function fitAndEvaluate(rec: RoundRecord): Promise<void> {
    const round = rec.round;

    const fitIns = await step(`round ${round} (configureFit)`, () =>
      strategy.configureFit(round, parameters!, cm, ctx()),
    );
    checkNotEmpty(round, 'fit', fitIns.length);
    if (fitIns.length > 0) {
      const tf = performance.now();
      rec.fitClients = fitIns.length;
      const { results, failures } = await abort.race(
        fanOut<FitIns, FitRes>(fitIns, 'fit', (c, ins) => c.fit(ins, roundTimeoutMs), roundTimeoutMs),
      );
      rec.fitResults = results.length;
      rec.fitFailures = failures.length;
      rec.fitFailureReasons = failures.map(failureText);
      emit({
        type: 'fit-done',
        round,
        clients: fitIns.length,
        results: results.length,
        failures: failures.length,
        ms: performance.now() - tf,
      });
      const agg = await step(`round ${round} (aggregateFit)`, () =>
        strategy.aggregateFit(round, results, failures, ctx()),
      );
      if ('state' in agg) state = agg.state as S;
      rec.metricsFit = agg.metrics;
      if (agg.parameters !== undefined) {
        parameters = agg.parameters;
        rec.skipped = false;
      }
    }

    const tc = performance.now();
    const central = await step(`round ${round} (centralized evaluation)`, () =>
      strategy.evaluate(round, parameters!, ctx()),
    );
    if (central !== undefined) {
      rec.lossCentralized = central.loss;
      rec.metricsCentralized = central.metrics;
      emit({ type: 'evaluate-done', round, ...central, central: true, ms: performance.now() - tc });
    }

    const evalIns = await step(`round ${round} (configureEvaluate)`, () =>
      strategy.configureEvaluate(round, parameters!, cm, ctx()),
    );
    if (evalIns.length > 0) {
      const te = performance.now();
      const { results, failures } = await abort.race(
        fanOut<EvaluateIns, EvaluateRes>(
          evalIns,
          'evaluate',
          (c, ins) => c.evaluate(ins, roundTimeoutMs),
          roundTimeoutMs,
        ),
      );
      rec.evaluateResults = results.length;
      rec.evaluateFailures = failures.length;
      const agg = await step(`round ${round} (aggregateEvaluate)`, () =>
        strategy.aggregateEvaluate(round, results, failures, ctx()),
      );
      rec.lossDistributed = agg.loss;
      rec.metricsDistributed = agg.metrics;
      emit({
        type: 'evaluate-done',
        round,
        loss: agg.loss,
        metrics: agg.metrics,
        central: false,
        results: results.length,
        failures: failures.length,
        ms: performance.now() - te,
      });
    }
  }

  /** A strategy that returns [] without throwing: fail if clients are short, else the step is just empty. */
  function checkNotEmpty(round: number, phase: 'fit', count: number): void {
    const needed = opts.minAvailableClients ?? 1;
    if (count === 0 && cm.numAvailable() < needed) {
      throw new RunFailure(
        `round ${round} (${phase}): no clients sampled; ${cm.numAvailable()} connected, ${needed} needed (minAvailableClients)`,
      );
    }
  }

  /** Flower's end of session: ReconnectIns (seconds unset) to everyone; DisconnectRes or a closed stream both count as done. */
  async function disconnectAll(): Promise<void> {
    const clients = cm.all().filter((c) => !c.closed);
    await Promise.allSettled(
      clients.map(async (c) => {
        try {
          await guardedCall(c, 'reconnect', () => c.reconnect({}, disconnectTimeoutMs), disconnectTimeoutMs);
        } catch {
          if (!c.closed) c.close('no DisconnectRes at end of run');
        }
      }),
    );
  }
}
