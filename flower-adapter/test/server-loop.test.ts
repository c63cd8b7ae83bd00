// The round loop against an in-memory ClientManager/ClientProxy double: full runs, failures with
// and without acceptFailures, clients that never answer, too few clients, abort, and one strategy
// instance serving two concurrent runs with its per-run state threaded through the context.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arraysToParameters, float32Array, parametersToArrays } from '../src/runtime/npy.ts';
import { runFlServer, type ServerEvent } from '../src/runtime/server.ts';
import { FedAvg } from '../src/runtime/strategy/fedavg.ts';
import type { Strategy, StrategyContext } from '../src/runtime/strategy/strategy.ts';
import {
  type ClientManager,
  type ClientProxy,
  Code,
  type DisconnectRes,
  type EvaluateIns,
  type EvaluateRes,
  type FitIns,
  type FitRes,
  type GetParametersRes,
  type GetPropertiesRes,
  type Parameters,
  Reason,
} from '../src/runtime/types.ts';

const OK = { code: Code.OK, message: 'Success' };
const params = (values: number[]): Parameters => arraysToParameters([float32Array([values.length], values)]);
const values = (p: Parameters | undefined): number[] => [...parametersToArrays(p!)[0]!.data].map(Number);
const never = <T>(): Promise<T> => new Promise<T>(() => {});

interface Behaviour {
  fit?: (ins: FitIns, call: number) => FitRes | Promise<FitRes>;
  evaluate?: (ins: EvaluateIns) => EvaluateRes | Promise<EvaluateRes>;
  getParameters?: () => GetParametersRes | Promise<GetParametersRes>;
  /** false: ignores the timeout it is given (the server's own guard must fire). Default true. */
  honoursTimeout?: boolean;
}

/** A client that adds `delta` to every parameter and reports `numExamples`. */
function adder(delta: number, numExamples: number): Behaviour {
  return {
    fit: (ins) => ({
      status: OK,
      parameters: params(values(ins.parameters).map((v) => v + delta)),
      numExamples,
      metrics: { delta },
    }),
  };
}

class FakeClient implements ClientProxy {
  readonly bytes = { sent: 0, received: 0 };
  readonly peer: string;
  closed = false;
  closeReason: string | undefined;
  readonly calls: string[] = [];
  private fits = 0;
  private readonly pending = new Set<(e: Error) => void>();

  constructor(
    readonly cid: string,
    private readonly b: Behaviour,
    private readonly manager: FakeManager,
  ) {
    this.peer = `ipv4:127.0.0.1:${cid}`;
  }

  /** Mirrors the real proxy: deadline → reject and close; a rejected call leaves the proxy closed. */
  private call<T>(kind: string, fn: () => T | Promise<T>, timeoutMs?: number): Promise<T> {
    this.calls.push(kind);
    if (this.closed) return Promise.reject(new Error(`client ${this.cid} is closed`));
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const fail = (e: Error): void => {
        clearTimeout(timer);
        this.pending.delete(fail);
        reject(e);
      };
      this.pending.add(fail);
      if (timeoutMs !== undefined && this.b.honoursTimeout !== false) {
        timer = setTimeout(() => {
          fail(new Error(`DEADLINE_EXCEEDED: Timeout of ${timeoutMs} ms was exceeded`));
          this.close('deadline');
        }, timeoutMs);
      }
      Promise.resolve()
        .then(fn)
        .then(
          (v) => {
            if (!this.pending.has(fail)) return;
            clearTimeout(timer);
            this.pending.delete(fail);
            resolve(v);
          },
          (e: Error) => {
            fail(e);
            this.close('client error');
          },
        );
    });
  }

  getProperties(): Promise<GetPropertiesRes> {
    return this.call('getProperties', () => ({ status: OK, properties: {} }));
  }
  getParameters(_ins: unknown, timeoutMs?: number): Promise<GetParametersRes> {
    const fn = this.b.getParameters ?? (() => ({ status: OK, parameters: params([0, 0]) }));
    return this.call('getParameters', fn, timeoutMs);
  }
  fit(ins: FitIns, timeoutMs?: number): Promise<FitRes> {
    const n = ++this.fits;
    const fn = this.b.fit ?? adder(0, 1).fit!;
    return this.call('fit', () => fn(ins, n), timeoutMs);
  }
  evaluate(ins: EvaluateIns, timeoutMs?: number): Promise<EvaluateRes> {
    const fn =
      this.b.evaluate ??
      ((i: EvaluateIns) => ({ status: OK, loss: values(i.parameters)[0]!, numExamples: 1, metrics: {} }));
    return this.call('evaluate', () => fn(ins), timeoutMs);
  }
  async reconnect(_ins: unknown, timeoutMs?: number): Promise<DisconnectRes | undefined> {
    const res = await this.call('reconnect', () => ({ reason: Reason.RECONNECT }), timeoutMs);
    this.close('disconnected');
    return res;
  }
  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    for (const fail of [...this.pending]) fail(new Error(`stream closed: ${reason}`));
    this.manager.remove(this);
  }
}

class FakeManager implements ClientManager {
  clients: FakeClient[] = [];
  readonly sampled: number[] = [];
  add(cid: string, b: Behaviour = {}): FakeClient {
    const c = new FakeClient(cid, b, this);
    this.clients.push(c);
    return c;
  }
  remove(c: FakeClient): void {
    this.clients = this.clients.filter((x) => x !== c);
  }
  numAvailable(): number {
    return this.clients.length;
  }
  all(): ClientProxy[] {
    return [...this.clients];
  }
  async waitFor(n: number, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (this.clients.length < n) {
      if (Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }
  async sample(numClients: number, minNumClients: number, timeoutMs: number): Promise<ClientProxy[]> {
    if (!(await this.waitFor(minNumClients, timeoutMs))) return [];
    const picked = [...this.clients].sort(() => Math.random() - 0.5).slice(0, numClients);
    this.sampled.push(picked.length);
    return picked;
  }
  onChange(): () => void {
    return () => {};
  }
}

const base = { roundTimeoutMs: 2000, waitForClientsTimeoutMs: 1000 };

describe('runFlServer', () => {
  it('runs 3 rounds of FedAvg, evaluates centrally and on clients, and says goodbye to every client', async () => {
    const cm = new FakeManager();
    const clients = [cm.add('a', adder(1, 1)), cm.add('b', adder(2, 2)), cm.add('c', adder(3, 3))];
    const central: number[] = [];
    const strategy = new FedAvg({
      minAvailableClients: 3,
      initialParameters: params([0, 10]),
      onFitConfig: (r) => ({ server_round: r }),
      evaluateFn: async (round, arrays) => {
        central.push(round);
        return { loss: arrays[0]!.data[0] as number, metrics: { round } };
      },
    });
    const events: ServerEvent[] = [];
    const h = await runFlServer({
      ...base,
      clientManager: cm,
      strategy,
      numRounds: 3,
      onEvent: (e) => events.push(e),
    });

    assert.equal(h.status, 'completed', h.reason);
    assert.equal(h.rounds.length, 3);
    // each round adds Σk·k / Σk = (1 + 4 + 9) / 6 = 14/6
    const step = 14 / 6;
    assert.ok(Math.abs(values(h.parameters)[0]! - 3 * step) < 1e-5);
    assert.ok(Math.abs(values(h.parameters)[1]! - (10 + 3 * step)) < 1e-5);
    for (const [i, r] of h.rounds.entries()) {
      assert.equal(r.round, i + 1);
      assert.equal(r.skipped, false);
      assert.equal(r.fitClients, 3);
      assert.equal(r.fitResults, 3);
      assert.equal(r.fitFailures, 0);
      assert.equal(r.evaluateResults, 3);
      assert.ok(Math.abs(r.lossDistributed! - (i + 1) * step) < 1e-5);
      assert.ok(Math.abs(r.lossCentralized! - (i + 1) * step) < 1e-5);
      assert.deepEqual(r.metricsCentralized, { round: i + 1 });
      assert.ok(Math.abs((r.metricsFit['delta'] as number) - step) < 1e-9);
      assert.ok(r.durationMs >= 0);
    }
    assert.deepEqual(central, [0, 1, 2, 3]);
    assert.equal(h.initialEvaluation?.loss, 0);
    for (const c of clients) {
      assert.deepEqual(c.calls, ['fit', 'evaluate', 'fit', 'evaluate', 'fit', 'evaluate', 'reconnect']);
      assert.equal(c.closed, true);
    }
    const kinds = events.map((e) => e.type);
    assert.deepEqual(kinds.slice(0, 6), [
      'evaluate-done',
      'round-start',
      'fit-done',
      'evaluate-done',
      'evaluate-done',
      'round-end',
    ]);
    assert.equal(kinds.at(-1), 'done');
  });

  it('asks one client for the initial parameters when the strategy has none', async () => {
    const cm = new FakeManager();
    const a = cm.add('a', { ...adder(1, 1), getParameters: () => ({ status: OK, parameters: params([5]) }) });
    const h = await runFlServer({
      ...base,
      clientManager: cm,
      strategy: new FedAvg({ minFitClients: 1, minEvaluateClients: 1, minAvailableClients: 1 }),
      numRounds: 1,
    });
    assert.equal(h.status, 'completed', h.reason);
    assert.deepEqual(values(h.parameters), [6]);
    assert.equal(a.calls[0], 'getParameters');
  });

  it('fails with a reason when no client can give initial parameters', async () => {
    const cm = new FakeManager();
    const t0 = Date.now();
    const h = await runFlServer({
      ...base,
      waitForClientsTimeoutMs: 200,
      clientManager: cm,
      strategy: new FedAvg(),
      numRounds: 1,
    });
    assert.equal(h.status, 'failed');
    assert.match(h.reason!, /initialization: no client connected within 200 ms/);
    assert.ok(Date.now() - t0 < 1500);

    cm.add('x', {
      getParameters: () => ({
        status: { code: Code.GET_PARAMETERS_NOT_IMPLEMENTED, message: 'nope' },
        parameters: { tensors: [], tensorType: '' },
      }),
    });
    const h2 = await runFlServer({ ...base, clientManager: cm, strategy: new FedAvg(), numRounds: 1 });
    assert.equal(h2.status, 'failed');
    assert.match(
      h2.reason!,
      /client x .* gave no initial parameters \(status GET_PARAMETERS_NOT_IMPLEMENTED "nope"/,
    );
  });

  it('acceptFailures true: a client that throws mid-run is a failure and the round completes with the others', async () => {
    const cm = new FakeManager();
    cm.add('a', adder(1, 1));
    cm.add('b', adder(1, 1));
    cm.add('bad', {
      fit: (ins, call) => {
        if (call === 2) throw new Error('CUDA out of memory');
        return adder(1, 1).fit!(ins, call);
      },
    });
    const h = await runFlServer({
      ...base,
      clientManager: cm,
      strategy: new FedAvg({ minAvailableClients: 2, initialParameters: params([0]) }),
      numRounds: 3,
    });
    assert.equal(h.status, 'completed', h.reason);
    assert.deepEqual(
      h.rounds.map((r) => [r.fitResults, r.fitFailures, r.skipped]),
      [
        [3, 0, false],
        [2, 1, false],
        [2, 0, false],
      ],
    );
    assert.match(h.rounds[1]!.fitFailureReasons[0]!, /client bad .* fit failed: CUDA out of memory/);
    assert.deepEqual(values(h.parameters), [3]);
  });

  it('acceptFailures false: the round with a failure is skipped and the run goes on', async () => {
    const cm = new FakeManager();
    cm.add('a', adder(1, 1));
    cm.add('b', adder(1, 1));
    cm.add('bad', {
      fit: (ins, call) =>
        call === 2
          ? {
              status: { code: Code.FIT_NOT_IMPLEMENTED, message: 'not today' },
              parameters: params([]),
              numExamples: 0,
              metrics: {},
            }
          : adder(1, 1).fit!(ins, call),
    });
    const events: ServerEvent[] = [];
    const h = await runFlServer({
      ...base,
      clientManager: cm,
      strategy: new FedAvg({ minAvailableClients: 2, acceptFailures: false, initialParameters: params([0]) }),
      numRounds: 3,
      onEvent: (e) => events.push(e),
    });
    assert.equal(h.status, 'completed', h.reason);
    assert.deepEqual(
      h.rounds.map((r) => r.skipped),
      [false, true, false],
    );
    assert.match(h.rounds[1]!.fitFailureReasons[0]!, /client bad .* replied FIT_NOT_IMPLEMENTED: not today/);
    assert.deepEqual(values(h.parameters), [2]);
    const ends = events.filter((e) => e.type === 'round-end');
    assert.deepEqual(
      ends.map((e) => (e.type === 'round-end' ? e.skipped : null)),
      [false, true, false],
    );
  });

  it('a client that never answers hits the round timeout, is dropped, and the run finishes', async () => {
    const cm = new FakeManager();
    cm.add('a', adder(1, 1));
    cm.add('b', adder(1, 1));
    const mute = cm.add('mute', { fit: () => never() });
    const t0 = Date.now();
    const h = await runFlServer({
      ...base,
      roundTimeoutMs: 200,
      clientManager: cm,
      strategy: new FedAvg({ minAvailableClients: 2, initialParameters: params([0]) }),
      numRounds: 2,
    });
    const ms = Date.now() - t0;
    assert.equal(h.status, 'completed', h.reason);
    assert.equal(h.rounds[0]!.fitFailures, 1);
    assert.match(h.rounds[0]!.fitFailureReasons[0]!, /client mute .*DEADLINE_EXCEEDED/);
    assert.equal(h.rounds[1]!.fitClients, 2);
    assert.equal(mute.closed, true);
    assert.ok(ms < 1500, `took ${ms} ms`);
  });

  it("the server's own guard fires when a proxy ignores its deadline", async () => {
    const cm = new FakeManager();
    cm.add('a', adder(1, 1));
    const deaf = cm.add('deaf', { fit: () => never(), honoursTimeout: false });
    const t0 = Date.now();
    const h = await runFlServer({
      ...base,
      roundTimeoutMs: 100,
      clientManager: cm,
      strategy: new FedAvg({
        minFitClients: 1,
        minEvaluateClients: 1,
        minAvailableClients: 1,
        initialParameters: params([0]),
      }),
      numRounds: 1,
    });
    assert.equal(h.status, 'completed', h.reason);
    assert.equal(h.rounds[0]!.fitFailures, 1);
    assert.match(h.rounds[0]!.fitFailureReasons[0]!, /client deaf .*no reply within 100 ms/);
    assert.equal(deaf.closed, true);
    assert.ok(Date.now() - t0 < 3000);
  });

  it('fewer than minAvailableClients: the run fails within the wait timeout, naming round, connected and needed', async () => {
    const cm = new FakeManager();
    cm.add('a', adder(1, 1));
    cm.add('b', adder(1, 1));
    const events: ServerEvent[] = [];
    const t0 = Date.now();
    const h = await runFlServer({
      ...base,
      waitForClientsTimeoutMs: 300,
      clientManager: cm,
      strategy: new FedAvg({ minAvailableClients: 3, initialParameters: params([0]) }),
      numRounds: 2,
      onEvent: (e) => events.push(e),
    });
    const ms = Date.now() - t0;
    assert.equal(h.status, 'failed');
    assert.match(h.reason!, /round 1 \(fit\): only 2 client\(s\) connected after waiting 300 ms, 3 needed/);
    assert.ok(ms >= 290 && ms < 1500, `took ${ms} ms`);
    assert.deepEqual(events.at(-1), { type: 'failed', reason: h.reason });
    assert.equal(cm.clients.length, 0, 'connected clients were sent ReconnectIns');
  });

  it('a drop-out below the minimum fails the run at the next sampling instead of hanging', async () => {
    const cm = new FakeManager();
    cm.add('a', adder(1, 1));
    cm.add('b', adder(1, 1));
    cm.add('quitter', {
      fit: (_ins, call) => (call === 1 ? adder(1, 1).fit!(_ins, call) : Promise.reject(new Error('gone'))),
    });
    const h = await runFlServer({
      ...base,
      waitForClientsTimeoutMs: 200,
      clientManager: cm,
      strategy: new FedAvg({ minAvailableClients: 3, minFitClients: 3, initialParameters: params([0]) }),
      numRounds: 3,
    });
    assert.equal(h.status, 'failed');
    // round 2's fit went ahead with 2 of 3 (acceptFailures); its evaluate sampling then gave up
    assert.match(
      h.reason!,
      /round 2 \(evaluate\): only 2 client\(s\) connected after waiting 200 ms, 3 needed/,
    );
    assert.equal(h.rounds.length, 2);
    assert.equal(h.rounds[1]!.fitResults, 2);
    assert.equal(h.rounds[1]!.evaluateResults, 0);
    assert.deepEqual(values(h.parameters), [2]);
  });

  it('minAvailableClients on the server: the run fails at the start when too few connect', async () => {
    const cm = new FakeManager();
    cm.add('a');
    const h = await runFlServer({
      ...base,
      waitForClientsTimeoutMs: 150,
      minAvailableClients: 4,
      clientManager: cm,
      strategy: new FedAvg({ initialParameters: params([0]) }),
      numRounds: 1,
    });
    assert.equal(h.status, 'failed');
    assert.match(h.reason!, /start of run: only 1 client\(s\) connected after waiting 150 ms, 4 needed/);
  });

  it('abort ends the run promptly and closes the clients', async () => {
    const cm = new FakeManager();
    const clients = [cm.add('a', { fit: () => never() }), cm.add('b', { fit: () => never() })];
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('operator pressed stop')), 100);
    const t0 = Date.now();
    const events: ServerEvent[] = [];
    const h = await runFlServer({
      ...base,
      roundTimeoutMs: 60_000,
      clientManager: cm,
      strategy: new FedAvg({ initialParameters: params([0]) }),
      numRounds: 5,
      signal: ac.signal,
      onEvent: (e) => events.push(e),
    });
    const ms = Date.now() - t0;
    assert.equal(h.status, 'aborted');
    assert.equal(h.reason, 'operator pressed stop');
    assert.ok(ms < 500, `took ${ms} ms`);
    for (const c of clients) assert.equal(c.closed, true);
    assert.deepEqual(events.at(-1), { type: 'aborted', reason: 'operator pressed stop' });
  });

  it('an already-aborted signal ends the run before any client call', async () => {
    const cm = new FakeManager();
    const a = cm.add('a');
    const h = await runFlServer({
      ...base,
      clientManager: cm,
      strategy: new FedAvg({ initialParameters: params([0]) }),
      numRounds: 1,
      signal: AbortSignal.abort('no'),
    });
    assert.equal(h.status, 'aborted');
    assert.deepEqual(a.calls, []);
  });

  it('rejects bad options', async () => {
    const cm = new FakeManager();
    const strategy = new FedAvg();
    await assert.rejects(
      runFlServer({ ...base, clientManager: cm, strategy, numRounds: 0 }),
      /numRounds is 0; allowed: an integer >= 1/,
    );
    await assert.rejects(
      runFlServer({ ...base, roundTimeoutMs: -1, clientManager: cm, strategy, numRounds: 1 }),
      /roundTimeoutMs is -1/,
    );
  });

  it('one strategy instance serves two concurrent runs; per-run state travels in the context', async () => {
    /** FedAvg plus a per-run counter of aggregated rounds, kept only in ctx.state. */
    class CountingFedAvg implements Strategy<{ aggregated: number; seen: number[] }> {
      readonly name = 'CountingFedAvg';
      private readonly inner = new FedAvg({
        minFitClients: 1,
        minEvaluateClients: 1,
        minAvailableClients: 1,
        fractionEvaluate: 0,
      });
      createState() {
        return { aggregated: 0, seen: [] as number[] };
      }
      initializeParameters() {
        return Promise.resolve(params([0]));
      }
      configureFit(
        r: number,
        p: Parameters,
        cm: ClientManager,
        ctx: StrategyContext<{ aggregated: number; seen: number[] }>,
      ) {
        return this.inner.configureFit(r, p, cm, { ...ctx, state: undefined });
      }
      async aggregateFit(
        r: number,
        results: Array<[ClientProxy, FitRes]>,
        failures: Error[],
        ctx: StrategyContext<{ aggregated: number; seen: number[] }>,
      ) {
        const out = await this.inner.aggregateFit(r, results, failures);
        return {
          ...out,
          state: {
            aggregated: ctx.state.aggregated + 1,
            seen: [...ctx.state.seen, values(ctx.parameters)[0]!],
          },
        };
      }
      configureEvaluate() {
        return Promise.resolve([]);
      }
      aggregateEvaluate() {
        return Promise.resolve({ metrics: {} });
      }
      async evaluate(
        _r: number,
        _p: Parameters,
        ctx: StrategyContext<{ aggregated: number; seen: number[] }>,
      ) {
        return { loss: 0, metrics: { aggregated: ctx.state.aggregated, seen: ctx.state.seen.join(',') } };
      }
    }
    const strategy = new CountingFedAvg();
    const cm1 = new FakeManager();
    cm1.add('a', adder(1, 1));
    const cm2 = new FakeManager();
    cm2.add('b', adder(10, 1));
    const [h1, h2] = await Promise.all([
      runFlServer({ ...base, clientManager: cm1, strategy, numRounds: 3 }),
      runFlServer({ ...base, clientManager: cm2, strategy, numRounds: 2 }),
    ]);
    assert.equal(h1.status, 'completed', h1.reason);
    assert.equal(h2.status, 'completed', h2.reason);
    assert.deepEqual(values(h1.parameters), [3]);
    assert.deepEqual(values(h2.parameters), [20]);
    assert.deepEqual(h1.rounds.at(-1)!.metricsCentralized, { aggregated: 3, seen: '0,1,2' });
    assert.deepEqual(h2.rounds.at(-1)!.metricsCentralized, { aggregated: 2, seen: '0,10' });
  });
});
