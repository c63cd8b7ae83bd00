// Benchmark: FedAvg aggregation throughput. 50 client updates of ~1M float32 parameters, as one
// [1000,1000] array and as a realistic multi-array CNN; figure = bytes of all updates / time
// (median of several runs). Also times FedAvg.aggregateFit end to end (npy decode + average +
// npy encode), which is what a round really pays. Run: npx tsx bench/aggregation.ts

import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { arraysToParameters } from '../flower-adapter/src/runtime/npy.ts';
import { weightedAverage } from '../flower-adapter/src/runtime/strategy/aggregate.ts';
import { FedAvg } from '../flower-adapter/src/runtime/strategy/fedavg.ts';
import { type ClientProxy, Code, type FitRes, type NDArray } from '../flower-adapter/src/runtime/types.ts';

const CLIENTS = 50;
const RUNS = 7;

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

async function time(fn: () => unknown | Promise<unknown>): Promise<number[]> {
  await fn(); // warm-up (JIT)
  const ms: number[] = [];
  for (let r = 0; r < RUNS; r++) {
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

async function caseFor(name: string, shapes: number[][]): Promise<Record<string, unknown>> {
  const updates = Array.from({ length: CLIENTS }, (_, c) => ({
    arrays: model(shapes, c),
    numExamples: 100 + c,
  }));
  const params = updates[0]!.arrays.reduce((s, a) => s + a.data.length, 0);
  const bytes = CLIENTS * params * 4;
  const avgMs = await time(() => weightedAverage(updates));

  const fedavg = new FedAvg();
  const results: Array<[ClientProxy, FitRes]> = updates.map((u, c) => [
    stubClient(`c${c}`),
    {
      status: { code: Code.OK, message: 'Success' },
      parameters: arraysToParameters(u.arrays),
      numExamples: u.numExamples,
      metrics: {},
    },
  ]);
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

export async function run(): Promise<Record<string, unknown>> {
  const cases = [await caseFor('dense-1000x1000', [[1000, 1000]]), await caseFor('cnn-8-arrays', CNN_SHAPES)];
  const result = {
    bench: 'aggregation',
    node: process.version,
    runs: RUNS,
    targetGbPerS: 1,
    cases,
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
