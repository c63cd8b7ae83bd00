// FedAvg policy: Flower's sampling formula, settings validation, and what acceptFailures does to
// fit and evaluate aggregation. Clients are stubs; the round loop is tested in server-loop.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arraysToParameters, float32Array, parametersToArrays } from '../src/runtime/npy.ts';
import { FedAvg, type FedAvgOptions } from '../src/runtime/strategy/fedavg.ts';
import { NotEnoughClientsError } from '../src/runtime/strategy/strategy.ts';
import {
  type ClientManager,
  type ClientProxy,
  Code,
  type EvaluateRes,
  type FitRes,
  type NDArray,
  type Parameters,
} from '../src/runtime/types.ts';

function stubClient(cid: string): ClientProxy {
  const fail = (): Promise<never> => Promise.reject(new Error('stub'));
  return {
    cid,
    peer: `ipv4:127.0.0.1:${cid}`,
    closed: false,
    bytes: { sent: 0, received: 0 },
    getProperties: fail,
    getParameters: fail,
    fit: fail,
    evaluate: fail,
    reconnect: fail,
    close: () => {},
  };
}

/** Records sample() calls; returns the first min(n, available) clients, or [] when available < min. */
class RecordingManager implements ClientManager {
  readonly calls: Array<{ numClients: number; minNumClients: number; timeoutMs: number }> = [];
  readonly clients: ClientProxy[];
  constructor(available: number) {
    this.clients = Array.from({ length: available }, (_, i) => stubClient(`c${i}`));
  }
  numAvailable(): number {
    return this.clients.length;
  }
  all(): ClientProxy[] {
    return [...this.clients];
  }
  async waitFor(n: number): Promise<boolean> {
    return this.clients.length >= n;
  }
  async sample(numClients: number, minNumClients: number, timeoutMs: number): Promise<ClientProxy[]> {
    this.calls.push({ numClients, minNumClients, timeoutMs });
    if (this.clients.length < minNumClients) return [];
    return this.clients.slice(0, numClients);
  }
  onChange(): () => void {
    return () => {};
  }
}

const params = (values: number[]): Parameters => arraysToParameters([float32Array([values.length], values)]);
const ok = { code: Code.OK, message: 'Success' };
const fitRes = (values: number[], numExamples: number, metrics = {}): FitRes => ({
  status: ok,
  parameters: params(values),
  numExamples,
  metrics,
});
const evalRes = (loss: number, numExamples: number, metrics = {}): EvaluateRes => ({
  status: ok,
  loss,
  numExamples,
  metrics,
});
const ctx = { state: undefined, parameters: undefined, waitForClientsTimeoutMs: 1234 };
const values = (p: Parameters | undefined): number[] => [...parametersToArrays(p!)[0]!.data].map(Number);

describe('FedAvg settings', () => {
  it("uses Flower's defaults", () => {
    const s = new FedAvg();
    assert.equal(s.fractionFit, 1);
    assert.equal(s.fractionEvaluate, 1);
    assert.equal(s.minFitClients, 2);
    assert.equal(s.minEvaluateClients, 2);
    assert.equal(s.minAvailableClients, 2);
    assert.equal(s.acceptFailures, true);
  });

  const bad: Array<[FedAvgOptions, RegExp]> = [
    [{ fractionFit: 0 }, /fractionFit is 0; allowed: a number in \(0, 1\]/],
    [{ fractionFit: 1.5 }, /fractionFit is 1.5/],
    [{ fractionFit: Number.NaN }, /fractionFit is NaN/],
    [{ fractionEvaluate: -0.1 }, /fractionEvaluate is -0.1; allowed: a number in \[0, 1\]/],
    [{ fractionEvaluate: 1.01 }, /fractionEvaluate is 1.01/],
    [{ minFitClients: 0 }, /minFitClients is 0; allowed: an integer >= 1/],
    [{ minEvaluateClients: 1.5 }, /minEvaluateClients is 1.5/],
    [{ minAvailableClients: -1 }, /minAvailableClients is -1/],
    [{ minFitClients: 3, minAvailableClients: 2 }, /minFitClients \(3\) > minAvailableClients \(2\)/],
    [
      { minEvaluateClients: 5, minAvailableClients: 4, minFitClients: 1 },
      /minEvaluateClients \(5\) > minAvailableClients \(4\)/,
    ],
    [{ fractionFit: 0.5, fractoinEvaluate: 0.5 } as FedAvgOptions, /unknown option 'fractoinEvaluate'/],
    [{ onFitConfig: 42 } as unknown as FedAvgOptions, /onFitConfig must be a function/],
    [{ acceptFailures: 'yes' } as unknown as FedAvgOptions, /acceptFailures must be a boolean/],
  ];
  for (const [opts, message] of bad) {
    it(`rejects ${JSON.stringify(opts)}`, () => {
      assert.throws(() => new FedAvg(opts), message);
    });
  }

  it('accepts fractionEvaluate 0 with minEvaluateClients above minAvailableClients (evaluation is off)', () => {
    assert.doesNotThrow(
      () => new FedAvg({ fractionEvaluate: 0, minEvaluateClients: 9, minAvailableClients: 2 }),
    );
  });
});

describe('FedAvg sampling', () => {
  it("computes max(floor(available × fraction), minClients) like Flower's num_fit_clients", () => {
    const s = new FedAvg({
      fractionFit: 0.5,
      fractionEvaluate: 0.3,
      minFitClients: 2,
      minEvaluateClients: 1,
      minAvailableClients: 3,
    });
    assert.deepEqual(s.numFitClients(10), { sampleSize: 5, minNumClients: 3 });
    assert.deepEqual(s.numFitClients(3), { sampleSize: 2, minNumClients: 3 }); // floor(1.5)=1 < 2
    assert.deepEqual(s.numFitClients(0), { sampleSize: 2, minNumClients: 3 });
    assert.deepEqual(s.numFitClients(7), { sampleSize: 3, minNumClients: 3 }); // floor(3.5)
    assert.deepEqual(s.numEvaluationClients(10), { sampleSize: 3, minNumClients: 3 });
    assert.deepEqual(s.numEvaluationClients(2), { sampleSize: 1, minNumClients: 3 });
    const f = new FedAvg({ fractionFit: 0.1, minFitClients: 3, minAvailableClients: 3 });
    assert.equal(f.numFitClients(100).sampleSize, 10);
    assert.equal(f.numFitClients(29).sampleSize, 3);
  });

  it('configureFit samples that many clients, waiting with the context timeout, and sends parameters and config', async () => {
    const s = new FedAvg({
      fractionFit: 0.5,
      minAvailableClients: 2,
      onFitConfig: (r) => ({ server_round: r, epochs: 2 }),
    });
    const cm = new RecordingManager(10);
    const p = params([1, 2]);
    const ins = await s.configureFit(3, p, cm, ctx);
    assert.equal(ins.length, 5);
    assert.deepEqual(cm.calls, [{ numClients: 5, minNumClients: 2, timeoutMs: 1234 }]);
    for (const [, fit] of ins) {
      assert.equal(fit.parameters, p);
      assert.deepEqual(fit.config, { server_round: 3, epochs: 2 });
    }
  });

  it('configureFit throws NotEnoughClientsError naming round, connected and needed when sampling times out', async () => {
    const s = new FedAvg({ minAvailableClients: 3 });
    await assert.rejects(
      s.configureFit(4, params([0]), new RecordingManager(2), ctx),
      (e: Error) =>
        e instanceof NotEnoughClientsError &&
        /round 4 \(fit\): only 2 client\(s\) connected after waiting 1234 ms, 3 needed/.test(e.message),
    );
  });

  it('configureEvaluate returns [] without sampling when fractionEvaluate is 0', async () => {
    const cm = new RecordingManager(5);
    const ins = await new FedAvg({ fractionEvaluate: 0 }).configureEvaluate(1, params([0]), cm, ctx);
    assert.deepEqual(ins, []);
    assert.equal(cm.calls.length, 0);
  });

  it('configureEvaluate samples with fractionEvaluate and the evaluate config', async () => {
    const s = new FedAvg({
      fractionEvaluate: 0.4,
      minEvaluateClients: 1,
      onEvaluateConfig: async (r) => ({ r }),
    });
    const cm = new RecordingManager(5);
    const ins = await s.configureEvaluate(2, params([0]), cm, ctx);
    assert.equal(ins.length, 2);
    assert.deepEqual(ins[0]![1].config, { r: 2 });
  });
});

describe('FedAvg aggregation', () => {
  const [a, b, c] = ['a', 'b', 'c'].map(stubClient) as [ClientProxy, ClientProxy, ClientProxy];

  it('averages fit results weighted by numExamples, and their metrics', async () => {
    const out = await new FedAvg().aggregateFit(
      1,
      [
        [a, fitRes([1, 2], 1, { acc: 0.5 })],
        [b, fitRes([5, 6], 3, { acc: 0.9 })],
      ],
      [],
    );
    assert.deepEqual(values(out.parameters), [4, 5]);
    assert.ok(Math.abs((out.metrics['acc'] as number) - 0.8) < 1e-12);
  });

  it('acceptFailures true: aggregates the results despite failures', async () => {
    const failure: [ClientProxy, FitRes] = [
      c,
      { ...fitRes([100, 100], 5), status: { code: Code.FIT_NOT_IMPLEMENTED, message: 'no' } },
    ];
    const out = await new FedAvg({ acceptFailures: true }).aggregateFit(
      1,
      [
        [a, fitRes([1, 1], 1)],
        [b, fitRes([3, 3], 1)],
      ],
      [failure, new Error('timeout')],
    );
    assert.deepEqual(values(out.parameters), [2, 2]);
  });

  it('acceptFailures false: any failure means no new parameters (round skipped)', async () => {
    const out = await new FedAvg({ acceptFailures: false }).aggregateFit(
      1,
      [[a, fitRes([1, 1], 1)]],
      [new Error('x')],
    );
    assert.equal(out.parameters, undefined);
    assert.deepEqual(out.metrics, {});
    const clean = await new FedAvg({ acceptFailures: false }).aggregateFit(1, [[a, fitRes([1, 1], 1)]], []);
    assert.deepEqual(values(clean.parameters), [1, 1]);
  });

  it('no results: no parameters', async () => {
    const out = await new FedAvg().aggregateFit(1, [], [new Error('all failed')]);
    assert.equal(out.parameters, undefined);
  });

  it('rejects mismatched updates naming the client cid', async () => {
    await assert.rejects(
      new FedAvg().aggregateFit(
        1,
        [
          [a, fitRes([1, 2], 1)],
          [b, fitRes([1, 2, 3], 1)],
        ],
        [],
      ),
      /client 1 \(b\) array 0 has shape \[3\], client 0 \(a\) has \[2\]/,
    );
  });

  it('uses a custom fitMetricsAggregation', async () => {
    const s = new FedAvg({ fitMetricsAggregation: (r) => ({ clients: r.length }) });
    const out = await s.aggregateFit(1, [[a, fitRes([1], 1)]], []);
    assert.deepEqual(out.metrics, { clients: 1 });
  });

  it('averages evaluate losses and metrics; acceptFailures false drops them on failure', async () => {
    const results: Array<[ClientProxy, EvaluateRes]> = [
      [a, evalRes(0.5, 1, { accuracy: 1 })],
      [b, evalRes(1.0, 3, { accuracy: 0 })],
    ];
    const out = await new FedAvg().aggregateEvaluate(1, results, [new Error('late')]);
    assert.equal(out.loss, 0.875);
    assert.equal(out.metrics['accuracy'], 0.25);
    const strict = await new FedAvg({ acceptFailures: false }).aggregateEvaluate(1, results, [
      new Error('late'),
    ]);
    assert.equal(strict.loss, undefined);
    assert.deepEqual(await new FedAvg().aggregateEvaluate(1, [], []), { metrics: {} });
  });

  it('evaluate calls evaluateFn with decoded arrays, or returns undefined without one', async () => {
    let seen: NDArray[] = [];
    const s = new FedAvg({
      evaluateFn: async (round, arrays) => {
        seen = arrays;
        return { loss: round, metrics: { n: arrays.length } };
      },
    });
    assert.deepEqual(await s.evaluate(7, params([3, 4])), { loss: 7, metrics: { n: 1 } });
    assert.deepEqual([...seen[0]!.data], [3, 4]);
    assert.equal(await new FedAvg().evaluate(1, params([1])), undefined);
  });

  it('initializeParameters returns initialParameters every time (the instance keeps no run state)', async () => {
    const p = params([9]);
    const s = new FedAvg({ initialParameters: p });
    const cm = new RecordingManager(0);
    assert.equal(await s.initializeParameters(cm), p);
    assert.equal(await s.initializeParameters(cm), p);
    assert.equal(await new FedAvg().initializeParameters(cm), undefined);
  });
});
