// Flower's strategy family, numerically: each strategy's aggregation on fixed small inputs against
// arrays computed from Flower 1.19's formulas (a numpy re-implementation of
// flwr/server/strategy/*.py and aggregate.py, float64 on the float32 inputs; the values are written
// out below), relative tolerance 1e-6, three rounds for the strategies with run state (FedAvgM,
// FedOpt). Also: what each strategy sends and records, and its settings checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arraysToParameters, float32Array, parametersToArrays } from '../src/runtime/npy.ts';
import { Bulyan } from '../src/runtime/strategy/bulyan.ts';
import { DpServerSideFixedClipping } from '../src/runtime/strategy/dp-server-fixed-clipping.ts';
import { FaultTolerantFedAvg } from '../src/runtime/strategy/faulttolerantfedavg.ts';
import { FedAdagrad } from '../src/runtime/strategy/fedadagrad.ts';
import { FedAdam } from '../src/runtime/strategy/fedadam.ts';
import { FedAvg } from '../src/runtime/strategy/fedavg.ts';
import { FedAvgM } from '../src/runtime/strategy/fedavgm.ts';
import { FedMedian } from '../src/runtime/strategy/fedmedian.ts';
import { FedProx } from '../src/runtime/strategy/fedprox.ts';
import { FedTrimmedAvg } from '../src/runtime/strategy/fedtrimmedavg.ts';
import { FedYogi } from '../src/runtime/strategy/fedyogi.ts';
import { Krum } from '../src/runtime/strategy/krum.ts';
import { QFedAvg } from '../src/runtime/strategy/qfedavg.ts';
import { createStrategy, strategyEntry } from '../src/runtime/strategy/registry.ts';
import type { AnyStrategy, StrategySettings } from '../src/runtime/strategy/strategy.ts';
import {
  type ClientManager,
  type ClientProxy,
  Code,
  type EvaluateRes,
  type FitRes,
  type NDArray,
  type Parameters,
} from '../src/runtime/types.ts';

const EXPECTED: Record<string, number[][]> = {
  fedavgm_m09_r1: [
    [1.13333333333, 2.0866666158, 2.86666661898, 4.01333332062],
    [0.513333332539, -1.08666665554, 2.03333331744],
  ],
  fedavgm_m09_r2: [
    [1.13666667064, 2.18033324162, 2.72333318551, 3.76466676394],
    [0.52559999903, -1.19639997562, 2.09399995645],
  ],
  fedavgm_m09_r3: [
    [1.08299999086, 2.02229988726, 2.51099983994, 3.44820012569],
    [0.524906672756, -1.24889331174, 2.14926661507],
  ],
  fedavgm_lr07_r1: [
    [1.12333334049, 2.03066662391, 2.8766666619, 4.03933329582],
    [0.509333332777, -1.06066665888, 2.02333332221],
  ],
  fedavgm_lr07_r2: [
    [1.11166668661, 2.01783327333, 2.79033331855, 3.90166667144],
    [0.512319999655, -1.10107998761, 2.05179997619],
  ],
  fedavgm_lr07_r3: [
    [1.08949999708, 1.96194992882, 2.68509994661, 3.74090002012],
    [0.513402670936, -1.13541732285, 2.08180664083],
  ],
  fedadagrad_r1: [
    [1.20000002084, 1.99999997562, 2.80000009837, 3.99999990579],
    [0.5999999925, -1.09999999885, 2.099999997],
  ],
  fedadagrad_r2: [
    [1.10582582354, 2.00659272202, 2.71862680146, 3.91240967397],
    [0.501169887297, -1.12076786339, 2.02662389025],
  ],
  fedadagrad_r3: [
    [1.08060940883, 1.97216764114, 2.63783432683, 3.83230055169],
    [0.515542531854, -1.15222925297, 2.10773686055],
  ],
  fedadam_r1: [
    [1.17424598041, 1.97424595102, 2.8257541388, 4.02575393436],
    [0.574245923156, -1.07424597027, 2.07424595657],
  ],
  fedadam_r2: [
    [1.14249991074, 2.0433714564, 2.74398366015, 3.94371158591],
    [0.524413634396, -1.15443103164, 2.11043535766],
  ],
  fedadam_r3: [
    [1.08550698834, 2.0647705349, 2.65738068457, 3.85723160212],
    [0.474369395893, -1.21762719217, 2.11349090321],
  ],
  fedyogi_r1: [
    [1.10769233026, 1.90949150151, 2.89230778006, 4.09103438828],
    [0.505714285568, -1.00896551712, 2.00769230685],
  ],
  fedyogi_r2: [
    [1.11438115637, 1.92163024593, 2.8812576322, 4.07908191141],
    [0.513515445178, -1.02149490282, 2.01913372203],
  ],
  fedyogi_r3: [
    [1.1129463222, 1.93332177266, 2.86771355491, 4.06491487741],
    [0.520675393926, -1.03637413422, 2.03307019682],
  ],
  fedadam_custom_r1: [
    [1.12357841301, 1.93929065892, 2.87642164872, 4.06633622846],
    [0.513627165789, -1.0336636836, 2.02357839191],
  ],
  fedadam_custom_r2: [
    [1.12340760778, 1.97435345254, 2.83500410255, 4.01981094591],
    [0.520680974477, -1.07390437389, 2.05595090909],
  ],
  fedadam_custom_r3: [
    [1.09859988883, 1.98502886236, 2.78479487155, 3.96649723412],
    [0.516876416638, -1.11541174078, 2.09140046743],
  ],
  median7: [
    [1.10000002384, 2, 3, 4],
    [0.5, -1, 2],
  ],
  median6: [
    [1.15000003576, 1.89999997616, 3.04999995232, 3.95000004768],
    [0.550000011921, -0.949999988079, 2.04999995232],
  ],
  trim02: [
    [1.14000000954, 1.95999999046, 2.97999997139, 3.97999997139],
    [0.50000000596, -1.00000001192, 1.99999997616],
  ],
  trim03: [
    [1.10000002384, 1.96666661898, 2.96666661898, 4],
    [0.500000009934, -1, 1.99999996026],
  ],
  trim0: [
    [2.2142857228, 0.728571414948, 3.62857140814, 2.61428570747],
    [1.10000000468, -0.185714287417, 1.04285711902],
  ],
  krum_f1: [
    [1, 2, 3, 4],
    [0.5, -1, 2],
  ],
  krum_f2: [
    [1, 2, 3, 4],
    [0.5, -1, 2],
  ],
  multikrum_f1_k3: [
    [0.986046533252, 2.11860463786, 2.80465116612, 4.18139534218],
    [0.304651168197, -1.11860467944, 1.95116273747],
  ],
  bulyan_f1: [
    [1.10000002384, 1.96666661898, 2.96666661898, 4.03333330154],
    [0.500000009934, -1, 2.09999998411],
  ],
  qfedavg_default: [
    [1.12836880895, 1.98510634838, 2.87163122572, 4.08581555435],
    [0.48581560322, -1.02836879356, 2.02836878511],
  ],
  qfedavg_q1: [
    [1.1057971236, 1.9173912789, 2.89420297833, 4.09710136339],
    [0.497101449255, -1.00579710149, 2.00579709976],
  ],
  dp_clipped_c4: [
    [1.50801411688, 1.44033852941, 3.16340159434, 3.57836163714],
    [0.732413091673, -0.69011587777, 1.63846852406],
  ],
  dp_clipped_c0: [
    [1, 2, 3, 4],
    [0.5, -1, 2],
  ],
  dp_fedavg_nonoise: [
    [1.22700352922, 1.92508459421, 2.94085036282, 3.90459039975],
    [0.568103272322, -0.987528961098, 1.9346171191],
  ],
  dp_fedavg_noise1: [
    [1.32700352922, 2.02508459421, 3.04085036282, 4.00459039975],
    [0.668103272322, -0.887528961098, 2.0346171191],
  ],
};

/** The clients' models ([W 2×2, b 3], num_examples); client 4 is far from the others. */
const CLIENTS: Array<[number[], number[], number]> = [
  [[1, 2, 3, 4], [0.5, -1, 2], 10],
  [[1.5, 1.8, 2.5, 4.2], [0.4, -0.8, 2.2], 20],
  [[0.9, 2.3, 3.1, 3.7], [0.7, -1.3, 1.9], 30],
  [[1.2, 2.1, 2.8, 4.4], [0.3, -1.1, 2.1], 15],
  [[9, -7, 8, -6], [5, 5, -5], 25],
  [[1.1, 1.7, 3.3, 3.9], [0.6, -0.9, 2.3], 12],
  [[0.8, 2.2, 2.7, 4.1], [0.2, -1.2, 1.8], 18],
];
/** The global model the rounds start from. */
const W0: [number[], number[]] = [
  [1.1, 1.9, 2.9, 4.1],
  [0.5, -1, 2],
];

const arrays = (w: number[], b: number[]): NDArray[] => [float32Array([2, 2], w), float32Array([3], b)];
const params = (w: number[], b: number[]): Parameters => arraysToParameters(arrays(w, b));
const ok = { code: Code.OK, message: 'Success' };

function client(i: number): ClientProxy {
  const fail = (): Promise<never> => Promise.reject(new Error('stub'));
  return {
    cid: `c${i}`,
    peer: `ipv4:127.0.0.1:${5000 + i}`,
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

/** Round r's results of the clients `which`: round 1 as listed, later rounds a fixed transform of it. */
function results(which: number[], round = 1): Array<[ClientProxy, FitRes]> {
  const r = round - 1;
  return which.map((i) => {
    const [w, b, n] = CLIENTS[i]!;
    const ws = w.map((x) => Math.fround(x) * (1 - 0.05 * r) + 0.03 * r);
    const bs = b.map((x) => Math.fround(x) * (1 + 0.02 * r) - 0.01 * r);
    return [client(i), { status: ok, parameters: params(ws, bs), numExamples: n, metrics: { loss: i } }];
  });
}

const ctxOf = <S>(state: S, parameters: Parameters = params(...W0)) => ({
  state,
  parameters,
  waitForClientsTimeoutMs: 1000,
});

function assertArrays(actual: Parameters | undefined, name: string): void {
  const expected = EXPECTED[name]!;
  assert.ok(actual, `${name}: the round produced parameters`);
  const got = parametersToArrays(actual);
  assert.equal(got.length, expected.length, name);
  got.forEach((a, k) => {
    const e = expected[k]!;
    assert.equal(a.data.length, e.length, `${name} array ${k}`);
    for (let i = 0; i < e.length; i++) {
      const x = Number(a.data[i]);
      assert.ok(
        Math.abs(x - e[i]!) <= 1e-6 * Math.abs(e[i]!) + 1e-12,
        `${name} array ${k}[${i}]: ${x}, expected ${e[i]} (relative tolerance 1e-6)`,
      );
    }
  });
}

/** Runs `rounds` rounds of aggregateFit on the four benign clients, carrying state and parameters. */
async function runRounds(s: AnyStrategy, prefix: string, rounds = 3): Promise<void> {
  let ctx = ctxOf(s.createState());
  for (let r = 1; r <= rounds; r++) {
    const agg = await s.aggregateFit(r, results([0, 1, 2, 3], r), [], ctx);
    assertArrays(agg.parameters, `${prefix}_r${r}`);
    ctx = ctxOf('state' in agg ? agg.state : ctx.state, agg.parameters);
  }
}

describe('FedAvgM', () => {
  it('server_momentum 0.9: three rounds with the momentum carried in the run state', async () => {
    await runRounds(new FedAvgM({}, { server_momentum: 0.9 }), 'fedavgm_m09');
  });
  it('server_learning_rate 0.7 without momentum', async () => {
    await runRounds(new FedAvgM({}, { server_learning_rate: 0.7 }), 'fedavgm_lr07');
  });
  it("with Flower's defaults (lr 1, momentum 0) it is FedAvg", async () => {
    const m = await new FedAvgM().aggregateFit(1, results([0, 1, 2, 3]), [], ctxOf({}));
    const a = await new FedAvg().aggregateFit(1, results([0, 1, 2, 3]), []);
    assert.deepEqual(parametersToArrays(m.parameters!), parametersToArrays(a.parameters!));
  });
  it('one instance serves two runs: the state lives in the context', async () => {
    const s = new FedAvgM({}, { server_momentum: 0.9 });
    const a = await s.aggregateFit(1, results([0, 1, 2, 3]), [], ctxOf(s.createState()));
    const b = await s.aggregateFit(1, results([0, 1, 2, 3]), [], ctxOf(s.createState()));
    assert.deepEqual(parametersToArrays(a.parameters!), parametersToArrays(b.parameters!));
  });
});

describe('FedOpt family (three rounds, m and v in the run state, starting from the initial parameters)', () => {
  it("FedAdagrad with Flower's defaults (eta 0.1, tau 1e-9)", async () => {
    await runRounds(new FedAdagrad(), 'fedadagrad');
  });
  it("FedAdam with Flower's defaults (eta 0.1, beta_1 0.9, beta_2 0.99, tau 1e-9)", async () => {
    await runRounds(new FedAdam(), 'fedadam');
  });
  it("FedYogi with Flower's defaults (eta 0.01, beta_1 0.9, beta_2 0.99, tau 1e-3)", async () => {
    await runRounds(new FedYogi(), 'fedyogi');
  });
  it('FedAdam with eta 0.05, beta_1 0.5, beta_2 0.9, tau 0.01', async () => {
    await runRounds(new FedAdam({}, { eta: 0.05, beta_1: 0.5, beta_2: 0.9, tau: 0.01 }), 'fedadam_custom');
  });
  it("has Flower's defaults per subclass", () => {
    const y = new FedYogi();
    assert.deepEqual([y.eta, y.etaL, y.beta1, y.beta2, y.tau], [1e-2, 0.0316, 0.9, 0.99, 1e-3]);
    const g = new FedAdagrad();
    assert.deepEqual([g.eta, g.etaL, g.beta1, g.beta2, g.tau], [0.1, 0.1, 0, 0, 1e-9]);
  });
});

describe('FedMedian and FedTrimmedAvg', () => {
  it('median of 7 (odd) and of 6 (even: mean of the middle two)', async () => {
    assertArrays(
      (await new FedMedian().aggregateFit(1, results([0, 1, 2, 3, 4, 5, 6]), [])).parameters,
      'median7',
    );
    assertArrays(
      (await new FedMedian().aggregateFit(1, results([0, 1, 2, 3, 4, 5]), [])).parameters,
      'median6',
    );
  });
  it('trimmed mean with beta 0.2 (default), 0.3 and 0, and the cut noted in the selection', async () => {
    const all = results([0, 1, 2, 3, 4, 5, 6]);
    const d = await new FedTrimmedAvg().aggregateFit(1, all, []);
    assertArrays(d.parameters, 'trim02');
    assert.match(d.selection?.note ?? '', /the 1 lowest and 1 highest of 7 values were cut/);
    assert.equal(d.selection?.discarded.length, 0);
    assertArrays((await new FedTrimmedAvg({}, { beta: 0.3 }).aggregateFit(1, all, [])).parameters, 'trim03');
    assertArrays((await new FedTrimmedAvg({}, { beta: 0 }).aggregateFit(1, all, [])).parameters, 'trim0');
  });
});

describe('Krum, MultiKrum, Bulyan', () => {
  const opts = { minFitClients: 7, minAvailableClients: 7 };
  it('Krum (f 1 and 2) picks client 0 and discards the rest, naming them', async () => {
    for (const f of [1, 2]) {
      const agg = await new Krum(opts, { num_malicious_clients: f }).aggregateFit(
        1,
        results([0, 1, 2, 3, 4, 5, 6]),
        [],
      );
      assertArrays(agg.parameters, `krum_f${f}`);
      assert.deepEqual(
        agg.selection?.kept.map((c) => c.peer),
        ['ipv4:127.0.0.1:5000'],
      );
      assert.equal(agg.selection?.discarded.length, 6);
      assert.ok(agg.selection?.discarded.some((c) => c.cid === 'c4'));
    }
  });
  it('MultiKrum (f 1, keep 3) averages clients 0, 3 and 6 weighted by num_examples', async () => {
    const agg = await new Krum(opts, { num_malicious_clients: 1, num_clients_to_keep: 3 }, true).aggregateFit(
      1,
      results([0, 1, 2, 3, 4, 5, 6]),
      [],
    );
    assertArrays(agg.parameters, 'multikrum_f1_k3');
    assert.deepEqual(agg.selection?.kept.map((c) => c.cid).sort(), ['c0', 'c3', 'c6']);
  });
  it('Bulyan (f 1, 7 clients) picks 5 by repeated Krum, discards the outlier and one more', async () => {
    const agg = await new Bulyan(opts, { num_malicious_clients: 1 }).aggregateFit(
      1,
      results([0, 1, 2, 3, 4, 5, 6]),
      [],
    );
    assertArrays(agg.parameters, 'bulyan_f1');
    assert.deepEqual(agg.selection?.kept.map((c) => c.cid).sort(), ['c0', 'c1', 'c2', 'c3', 'c5']);
    assert.deepEqual(agg.selection?.discarded.map((c) => c.cid).sort(), ['c4', 'c6']);
  });
  it('Bulyan with too few results in a round says why', async () => {
    await assert.rejects(
      new Bulyan(opts, { num_malicious_clients: 1 }).aggregateFit(1, results([0, 1, 2, 3, 5, 6]), []),
      /6 updates with num_malicious_clients 1; needs at least 4·1\+3 = 7/,
    );
  });
});

describe('QFedAvg', () => {
  const calls: Array<[number, number]> = [];
  const evaluateFn = async (round: number, a: NDArray[]) => {
    calls.push([round, Number(a[0]!.data[0])]);
    return { loss: 0.8, metrics: {} };
  };
  it("q 0.2, learning rate 0.1 (Flower's defaults), the loss from evaluating the round's starting model", async () => {
    const agg = await new QFedAvg({ evaluateFn }).aggregateFit(
      2,
      results([0, 1, 2, 3]),
      [],
      ctxOf(undefined),
    );
    assertArrays(agg.parameters, 'qfedavg_default');
    assert.deepEqual(calls, [[2, Math.fround(1.1)]]);
  });
  it('q 1, learning rate 0.05', async () => {
    const s = new QFedAvg({ evaluateFn }, { q_param: 1, qffl_learning_rate: 0.05 });
    assertArrays(
      (await s.aggregateFit(1, results([0, 1, 2, 3]), [], ctxOf(undefined))).parameters,
      'qfedavg_q1',
    );
  });
  it('needs a server-side evaluation', () => {
    assert.throws(() => new QFedAvg(), /qfedavg takes its loss from the server-side evaluation/);
  });
});

describe('FedProx and FaultTolerantFedAvg', () => {
  const manager = (n: number): ClientManager => ({
    numAvailable: () => n,
    all: () => Array.from({ length: n }, (_, i) => client(i)),
    waitFor: async () => true,
    sample: async (k: number) => Array.from({ length: Math.min(k, n) }, (_, i) => client(i)),
    onChange: () => () => {},
  });
  it('FedProx adds proximal_mu to the fit config and aggregates like FedAvg', async () => {
    const s = new FedProx({ onFitConfig: (r) => ({ server_round: r, epochs: 2 }) }, { proximal_mu: 0.01 });
    const ins = await s.configureFit(1, params(...W0), manager(3), ctxOf(undefined));
    assert.equal(ins.length, 3);
    for (const [, fit] of ins)
      assert.deepEqual(fit.config, { server_round: 1, epochs: 2, proximal_mu: 0.01 });
    const a = await s.aggregateFit(1, results([0, 1]), []);
    const b = await new FedAvg().aggregateFit(1, results([0, 1]), []);
    assert.deepEqual(parametersToArrays(a.parameters!), parametersToArrays(b.parameters!));
    assert.throws(() => new FedProx(), /proximal_mu: missing \(required, no default\)/);
  });
  it('FaultTolerantFedAvg aggregates only when the completion rate reaches its minimum', async () => {
    const s = new FaultTolerantFedAvg(
      {},
      { min_completion_rate_fit: 0.6, min_completion_rate_evaluate: 0.75 },
    );
    const fail = [new Error('timeout'), new Error('timeout')];
    assert.equal((await s.aggregateFit(1, results([0, 1]), fail)).parameters, undefined); // 2/4 < 0.6
    const three = await s.aggregateFit(1, results([0, 1, 2]), fail); // 3/5 = 0.6
    const avg = await new FedAvg().aggregateFit(1, results([0, 1, 2]), []);
    assert.deepEqual(parametersToArrays(three.parameters!), parametersToArrays(avg.parameters!));
    const ev = (loss: number): [ClientProxy, EvaluateRes] => [
      client(0),
      { status: ok, loss, numExamples: 1, metrics: {} },
    ];
    assert.equal((await s.aggregateEvaluate(1, [ev(1), ev(3)], [new Error('x')])).loss, undefined); // 2/3 < 0.75
    assert.equal((await s.aggregateEvaluate(1, [ev(1), ev(3), ev(2)], [new Error('x')])).loss, 2); // 3/4
  });
});

describe('central DP, server-side fixed clipping', () => {
  const dp = (z: number, inner: AnyStrategy = new FedAvg()) =>
    new DpServerSideFixedClipping(
      inner,
      { clippingNorm: 1, noiseMultiplier: z, numSampledClients: 5 },
      () => 1,
    );
  it('clips each update to norm 1 around the round model, aggregates, and adds noise of std z·C/m', async () => {
    assertArrays(
      (await dp(0).aggregateFit(1, results([0, 1, 2, 3, 4]), [], ctxOf(undefined))).parameters,
      'dp_fedavg_nonoise',
    );
    // a noise source that always draws 1 adds exactly the std, 0.5·1/5 = 0.1, to every coordinate
    assertArrays(
      (await dp(0.5).aggregateFit(1, results([0, 1, 2, 3, 4]), [], ctxOf(undefined))).parameters,
      'dp_fedavg_noise1',
    );
  });
  it('wraps any strategy (Krum here: the selection passes through) and skips rounds with failures', async () => {
    const s = dp(0, new Krum({ minFitClients: 5, minAvailableClients: 5 }, { num_malicious_clients: 1 }));
    assert.equal(s.name, 'DifferentialPrivacyServerSideFixedClipping(Krum)');
    const agg = await s.aggregateFit(1, results([0, 1, 2, 3, 4]), [], ctxOf(undefined));
    assert.equal(agg.selection?.kept.length, 1);
    assert.equal(
      (await s.aggregateFit(1, results([0, 1]), [new Error('x')], ctxOf(undefined))).parameters,
      undefined,
    );
  });
  it('the noise is Gaussian with the right spread (default source)', async () => {
    const s = new DpServerSideFixedClipping(new FedAvg(), {
      clippingNorm: 1,
      noiseMultiplier: 5,
      numSampledClients: 1,
    });
    const same = results([0, 0]).map(
      ([c, r]) => [c, { ...r, parameters: params(...W0) }] as [ClientProxy, FitRes],
    );
    const xs: number[] = [];
    for (let i = 0; i < 300; i++) {
      const agg = await s.aggregateFit(1, same, [], ctxOf(undefined));
      const a = parametersToArrays(agg.parameters!);
      xs.push(Number(a[1]!.data[0]) - 0.5);
    }
    const mean = xs.reduce((p, q) => p + q, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((p, q) => p + (q - mean) ** 2, 0) / xs.length);
    assert.ok(Math.abs(mean) < 1.5, `mean ${mean}`); // std of the mean: 5/√300 ≈ 0.29
    assert.ok(sd > 4 && sd < 6, `sd ${sd}`);
  });
  it('rejects bad settings', () => {
    assert.throws(
      () =>
        new DpServerSideFixedClipping(new FedAvg(), {
          clippingNorm: 0,
          noiseMultiplier: -1,
          numSampledClients: 0,
        }),
      /noise_multiplier is -1; allowed: a number ≥ 0; clipping_norm is 0; allowed: a number > 0; num_sampled_clients is 0/,
    );
  });
});

describe('strategy settings checks', () => {
  const bad: Array<[string, () => unknown, RegExp]> = [
    [
      'momentum 1',
      () => new FedAvgM({}, { server_momentum: 1 }),
      /server_momentum: got 1; allowed: a number in \[0, 1\)/,
    ],
    [
      'lr 0',
      () => new FedAvgM({}, { server_learning_rate: 0 }),
      /server_learning_rate: got 0; allowed: a number in \(0, 1000\]/,
    ],
    [
      'beta 0.5',
      () => new FedTrimmedAvg({}, { beta: 0.5 }),
      /beta: got 0.5; allowed: a number in \[0, 0.5\)/,
    ],
    ['adam beta_2 1', () => new FedAdam({}, { beta_2: 1 }), /beta_2: got 1/],
    [
      'adagrad beta_1',
      () => new FedAdagrad({}, { beta_1: 0.9 }),
      /beta_1: not a setting of this strategy; allowed: eta, eta_l, tau/,
    ],
    ['yogi tau 0', () => new FedYogi({}, { tau: 0 }), /tau: got 0; allowed: a number in \(0, 1000\]/],
    [
      'krum with 4 clients and f 1',
      () => new Krum({ minFitClients: 4, minAvailableClients: 4 }, { num_malicious_clients: 1 }),
      /needs more than 2·1\+2 = 4 clients per round, but minfit is 4/,
    ],
    [
      'multikrum keeping too many',
      () =>
        new Krum(
          { minFitClients: 5, minAvailableClients: 5 },
          { num_malicious_clients: 1, num_clients_to_keep: 5 },
          true,
        ),
      /num_clients_to_keep: 5 is more than minfit − num_malicious_clients = 4/,
    ],
    ['multikrum without keep', () => new Krum({}, {}, true), /num_clients_to_keep: missing/],
    [
      'bulyan with 6 clients and f 1',
      () => new Bulyan({ minFitClients: 6, minAvailableClients: 6 }, { num_malicious_clients: 1 }),
      /needs at least 4·1\+3 = 7 clients per round, but minfit is 6/,
    ],
    [
      'completion rate 1.5',
      () => new FaultTolerantFedAvg({}, { min_completion_rate_fit: 1.5 }),
      /min_completion_rate_fit: got 1.5/,
    ],
    [
      'qfedavg lr 0',
      () => new QFedAvg({ evaluateFn: async () => undefined }, { qffl_learning_rate: 0 }),
      /qffl_learning_rate: got 0/,
    ],
  ];
  for (const [name, make, message] of bad) {
    it(`rejects ${name}`, () => assert.throws(make, message));
  }
});

describe('strategy table', () => {
  const settings: StrategySettings = {
    fractionFit: 1,
    fractionEvaluate: 1,
    minFitClients: 7,
    minEvaluateClients: 2,
    minAvailableClients: 7,
    acceptFailures: true,
    onFitConfig: () => ({}),
    onEvaluateConfig: () => ({}),
    evaluateFn: async () => ({ loss: 1, metrics: {} }),
    own: {},
  };
  it("accepts Flower's class names case-insensitively", () => {
    assert.equal(strategyEntry('FedAvgM').name, 'fedavgm');
    assert.equal(strategyEntry('FAULTTOLERANTFEDAVG').name, 'faulttolerantfedavg');
    assert.equal(createStrategy('FedYogi', settings).name, 'FedYogi');
  });
  it('builds every strategy, and wraps it in central DP when asked', () => {
    const own: Record<string, Record<string, number>> = {
      fedprox: { proximal_mu: 0.1 },
      multikrum: { num_clients_to_keep: 2 },
    };
    for (const name of [
      'fedavg',
      'fedavgm',
      'fedprox',
      'fedadagrad',
      'fedadam',
      'fedyogi',
      'fedmedian',
      'fedtrimmedavg',
      'krum',
      'multikrum',
      'bulyan',
      'qfedavg',
      'faulttolerantfedavg',
    ]) {
      const s = createStrategy(name, { ...settings, own: own[name] ?? {} });
      assert.equal(s.name.toLowerCase(), name);
    }
    const d = createStrategy('bulyan', {
      ...settings,
      centralDp: { clippingNorm: 1, noiseMultiplier: 1, numSampledClients: 7 },
    });
    assert.equal(d.name, 'DifferentialPrivacyServerSideFixedClipping(Bulyan)');
  });
});
