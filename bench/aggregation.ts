// Benchmark: FedAvg aggregation throughput. 50 client updates of ~1M float32 parameters, as one
// [1000,1000] array and as a realistic multi-array CNN; figure = bytes of all updates / time
// (median of several runs). Also times FedAvg.aggregateFit end to end (npy decode + average +
// npy encode), which is what a round really pays. Then the same aggregateFit for every strategy
// of the table (and central DP around FedAvg) on the dense case, beside FedAvg's: the robust ones
// (median, trimmed mean, Krum's pairwise distances, Bulyan's repeated Krum) cost more per byte.
// Run: npx tsx bench/aggregation.ts, or npm run bench -- aggregation

import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { arraysToParameters } from '../flower-adapter/src/runtime/npy.ts';
import { STRATEGY_NAMES, type StrategyName } from '../common/strategies.ts';
import { weightedAverage } from '../flower-adapter/src/runtime/strategy/aggregate.ts';
import { FedAvg } from '../flower-adapter/src/runtime/strategy/fedavg.ts';
import { createStrategy } from '../flower-adapter/src/runtime/strategy/registry.ts';
import type { CentralDpSettings } from '../flower-adapter/src/runtime/strategy/strategy.ts';
import { type ClientProxy, Code, type FitRes, type NDArray } from '../flower-adapter/src/runtime/types.ts';

const CLIENTS = 50;
const RUNS = 7;
/** runs per strategy in the per-strategy table (the robust ones take seconds each) */
const STRATEGY_RUNS = 3;

/** conv 5x5x1x32, conv 5x5x32x64, dense 3136x300, dense 300x10, with biases: 996,206 params in 8 arrays. */
const CNN_SHAPES = [[5, 5, 1, 32], [32], [5, 5, 32, 64], [64], [3136, 300], [300], [300, 10], [10]];

function model(shapes: number[][], seed: number): NDArray[] {
  return shapes.map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.001 + seed * 7.1 + k);
    return { dtype: 'f4', shape, data };
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function time(fn: () => unknown | Promise<unknown>, runs = RUNS): Promise<number[]> {
  await fn(); // warm-up (JIT)
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return ms;
}

function stubClient(cid: string): ClientProxy {
  const no = (): Promise<never> => Promise.reject(new Error('bench stub'));
  return {
    cid,
    peer: 'bench',
    closed: false,
    bytes: { sent: 0, received: 0 },
    getProperties: no,
    getParameters: no,
    fit: no,
    evaluate: no,
    reconnect: no,
    close: () => {},
  };
}

function updatesFor(shapes: number[][]) {
  return Array.from({ length: CLIENTS }, (_, c) => ({ arrays: model(shapes, c), numExamples: 100 + c }));
}

function fitResults(updates: ReturnType<typeof updatesFor>): Array<[ClientProxy, FitRes]> {
  return updates.map((u, c) => [
    stubClient(`c${c}`),
    {
      status: { code: Code.OK, message: 'Success' },
      parameters: arraysToParameters(u.arrays),
      numExamples: u.numExamples,
      metrics: {},
    },
  ]);
}

async function caseFor(name: string, shapes: number[][]): Promise<Record<string, unknown>> {
  const updates = updatesFor(shapes);
  const params = updates[0]!.arrays.reduce((s, a) => s + a.data.length, 0);
  const bytes = CLIENTS * params * 4;
  const avgMs = await time(() => weightedAverage(updates));

  const fedavg = new FedAvg();
  const results = fitResults(updates);
  const fitMs = await time(() => fedavg.aggregateFit(1, results, []));

  const out = {
    case: name,
    clients: CLIENTS,
    arrays: shapes.length,
    paramsPerClient: params,
    updateBytes: bytes,
    weightedAverage: {
      medianMs: +median(avgMs).toFixed(2),
      minMs: +Math.min(...avgMs).toFixed(2),
      gbPerS: +(bytes / (median(avgMs) / 1000) / 1e9).toFixed(3),
    },
    aggregateFitWithNpy: {
      medianMs: +median(fitMs).toFixed(2),
      gbPerS: +(bytes / (median(fitMs) / 1000) / 1e9).toFixed(3),
    },
  };
  console.log(
    `${name}: ${CLIENTS} x ${params.toLocaleString('en')} float32 params (${(bytes / 1e6).toFixed(0)} MB) — ` +
      `weightedAverage ${out.weightedAverage.medianMs} ms median = ${out.weightedAverage.gbPerS} GB/s; ` +
      `FedAvg.aggregateFit incl. npy ${out.aggregateFitWithNpy.medianMs} ms = ${out.aggregateFitWithNpy.gbPerS} GB/s`,
  );
  return out;
}

/** Settings for 50 clients a round: Flower's defaults, plus what a strategy requires or makes it cut. */
const BENCH_SETTINGS: Record<StrategyName, Record<string, number>> = {
  fedavg: {},
  fedavgm: { server_momentum: 0.9 },
  fedprox: { proximal_mu: 0.1 },
  fedadagrad: {},
  fedadam: {},
  fedyogi: {},
  fedmedian: {},
  fedtrimmedavg: {}, // beta 0.2: 10 cut at each end per coordinate
  krum: { num_malicious_clients: 5 },
  multikrum: { num_malicious_clients: 5, num_clients_to_keep: 10 },
  bulyan: { num_malicious_clients: 5 },
  qfedavg: {},
  faulttolerantfedavg: {},
};

/**
 * FitRes → new global parameters for every strategy on the dense case (npy decode, aggregate,
 * npy encode, as aggregateFit does in a round), median of STRATEGY_RUNS, beside FedAvg's.
 */
async function perStrategy(): Promise<Array<Record<string, unknown>>> {
  const shapes = [[1000, 1000]];
  const updates = updatesFor(shapes);
  const results = fitResults(updates);
  const bytes = CLIENTS * 1_000_000 * 4;
  const initial = arraysToParameters(model(shapes, 999));
  const dp: CentralDpSettings = { clippingNorm: 1000, noiseMultiplier: 0.1, numSampledClients: CLIENTS };
  const runs: Array<{
    label: string;
    algo: StrategyName;
    own: Record<string, number>;
    centralDp?: CentralDpSettings;
  }> = [
    ...STRATEGY_NAMES.map((algo) => ({ label: algo, algo, own: BENCH_SETTINGS[algo] })),
    { label: 'fedavg+centraldp', algo: 'fedavg', own: {}, centralDp: dp },
  ];
  const out: Array<Record<string, unknown>> = [];
  let fedavgMs = Number.NaN;
  for (const r of runs) {
    const strategy = createStrategy(r.algo, {
      fractionFit: 1,
      fractionEvaluate: 1,
      minFitClients: CLIENTS,
      minEvaluateClients: CLIENTS,
      minAvailableClients: CLIENTS,
      acceptFailures: true,
      initialParameters: initial,
      // qfedavg's loss of the round's starting model: a constant, so only the aggregation is timed
      evaluateFn: async () => ({ loss: 1, metrics: {} }),
      onFitConfig: () => ({}),
      onEvaluateConfig: () => ({}),
      own: r.own,
      ...(r.centralDp !== undefined ? { centralDp: r.centralDp } : {}),
    });
    // each run starts from the same state and global model (FedOpt's moments, FedAvgM's momentum)
    const ctx = { state: strategy.createState(), parameters: initial, waitForClientsTimeoutMs: 1000 };
    const ms = await time(async () => {
      const agg = await strategy.aggregateFit(1, results, [], ctx);
      if (agg.parameters === undefined) throw new Error(`${r.label}: no aggregate`);
    }, STRATEGY_RUNS);
    const med = median(ms);
    if (r.label === 'fedavg') fedavgMs = med;
    const row = {
      strategy: r.label,
      name: strategy.name,
      settings: r.centralDp !== undefined ? { ...r.own, ...r.centralDp } : r.own,
      medianMs: +med.toFixed(1),
      minMs: +Math.min(...ms).toFixed(1),
      gbPerS: +(bytes / (med / 1000) / 1e9).toFixed(3),
      bestGbPerS: +(bytes / (Math.min(...ms) / 1000) / 1e9).toFixed(3),
      timesFedAvg: +(med / fedavgMs).toFixed(2),
    };
    console.log(
      `  ${r.label.padEnd(20)} ${String(row.medianMs).padStart(8)} ms  ${row.gbPerS.toFixed(3).padStart(7)} GB/s (best ${row.bestGbPerS.toFixed(3)})  ${row.timesFedAvg}× FedAvg's time`,
    );
    out.push(row);
  }
  return out;
}

export async function run(): Promise<Record<string, unknown>> {
  const cases = [await caseFor('dense-1000x1000', [[1000, 1000]]), await caseFor('cnn-8-arrays', CNN_SHAPES)];
  console.log(
    `aggregateFit incl. npy per strategy, ${CLIENTS} x 1,000,000 float32 (median of ${STRATEGY_RUNS}):`,
  );
  const strategies = await perStrategy();
  const result = {
    bench: 'aggregation',
    node: process.version,
    runs: RUNS,
    targetGbPerS: 1,
    cases,
    strategyRuns: STRATEGY_RUNS,
    strategies,
    at: new Date().toISOString(),
  };
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('aggregation.json', dir), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
