// Benchmark: server round overhead over real gRPC on 127.0.0.1. 50 Flower clients (grpc-client.ts,
// in this same process) whose fit/evaluate return at once with an MLP-sized model
// (784*128+128+128*10+10 = 101,770 float32 params), FedAvg over 10 rounds; figure = ms per round
// (fit fan-out + aggregation + evaluate fan-out), target < 100 ms. Measured twice: clients in a
// child process (the server's event loop is its own, as in a deployment) and clients in this
// process (client-side npy/protobuf work shares the event loop: an upper bound).
// Run: npx tsx bench/round-overhead.ts

import { fork } from 'node:child_process';
import { once, setMaxListeners } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pathToFileURL } from 'node:url';
import { runFlowerClient } from '../flower-adapter/src/runtime/grpc-client.ts';
import { startFlowerGrpcServer } from '../flower-adapter/src/runtime/grpc-server.ts';
import { arraysToParameters } from '../flower-adapter/src/runtime/npy.ts';
import { runFlServer, type ServerEvent } from '../flower-adapter/src/runtime/server.ts';
import { FedAvg } from '../flower-adapter/src/runtime/strategy/fedavg.ts';
import type { NDArray, NumPyClient } from '../flower-adapter/src/runtime/types.ts';

const CLIENTS = 50;
const ROUNDS = 10;
const MLP_SHAPES = [[784, 128], [128], [128, 10], [10]];

function mlp(): NDArray[] {
  return MLP_SHAPES.map((shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.cos(i);
    return { dtype: 'f4', shape, data };
  });
}

/** Answers at once: fit echoes the global model back, evaluate reports a fixed loss. */
function instantClient(): NumPyClient {
  return {
    getParameters: async () => mlp(),
    fit: async (parameters) => ({ parameters, numExamples: 100, metrics: {} }),
    evaluate: async () => ({ loss: 0.5, numExamples: 100, metrics: { accuracy: 0.9 } }),
  };
}

function stats(xs: number[]): { medianMs: number; meanMs: number; minMs: number; maxMs: number } {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const med = s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  const r = (x: number): number => +x.toFixed(2);
  return {
    medianMs: r(med),
    meanMs: r(xs.reduce((a, b) => a + b, 0) / xs.length),
    minMs: r(s[0]!),
    maxMs: r(s.at(-1)!),
  };
}

function startClients(address: string, signal: AbortSignal): Promise<unknown> {
  setMaxListeners(CLIENTS + 10, signal);
  return Promise.all(
    Array.from({ length: CLIENTS }, () =>
      runFlowerClient({ server: address, client: instantClient(), signal }).catch((e: Error) => e),
    ),
  );
}

/** Clients in a forked copy of this file (inherits tsx through execArgv). */
async function startChildClients(address: string): Promise<{ done: Promise<unknown>; kill(): void }> {
  const child = fork(fileURLToPath(import.meta.url), ['--clients', address], { stdio: 'inherit' });
  const done = once(child, 'exit');
  return { done, kill: () => child.kill() };
}

async function measure(where: 'child-process' | 'same-process'): Promise<Record<string, unknown>> {
  const server = await startFlowerGrpcServer({ host: '127.0.0.1', port: 0 });
  const abort = new AbortController();
  const child = where === 'child-process' ? await startChildClients(server.address) : undefined;
  const clients = child?.done ?? startClients(server.address, abort.signal);
  const fitMs: number[] = [];
  const evalMs: number[] = [];
  const roundMs: number[] = [];
  const params = mlp().reduce((s, a) => s + a.data.length, 0);
  try {
    const history = await runFlServer({
      clientManager: server.clientManager,
      strategy: new FedAvg({
        minFitClients: CLIENTS,
        minEvaluateClients: CLIENTS,
        minAvailableClients: CLIENTS,
        initialParameters: arraysToParameters(mlp()),
      }),
      numRounds: ROUNDS,
      roundTimeoutMs: 30_000,
      waitForClientsTimeoutMs: 30_000,
      minAvailableClients: CLIENTS,
      onEvent: (e: ServerEvent) => {
        if (e.type === 'fit-done') fitMs.push(e.ms);
        else if (e.type === 'evaluate-done' && !e.central) evalMs.push(e.ms);
        else if (e.type === 'round-end') roundMs.push(e.ms);
      },
    });
    if (history.status !== 'completed') throw new Error(`run ${history.status}: ${history.reason}`);
    const failures = history.rounds.reduce((s, r) => s + r.fitFailures + r.evaluateFailures, 0);
    await clients;
    const result = {
      clients: where,
      failures,
      round: stats(roundMs),
      firstRoundMs: +roundMs[0]!.toFixed(2),
      roundExcludingFirst: stats(roundMs.slice(1)),
      fitPhase: stats(fitMs),
      evaluatePhase: stats(evalMs),
      aggregateAndRest: stats(roundMs.map((r, i) => r - fitMs[i]! - evalMs[i]!)),
    };
    console.log(
      `round overhead, ${CLIENTS} clients (${where}) x ${params.toLocaleString('en')} float32 params over gRPC: ` +
        `median ${result.round.medianMs} ms/round (first ${result.firstRoundMs}, max ${result.round.maxMs}); ` +
        `fit fan-out ${result.fitPhase.medianMs} ms, evaluate fan-out ${result.evaluatePhase.medianMs} ms, ` +
        `aggregation+rest ${result.aggregateAndRest.medianMs} ms; failures ${failures}`,
    );
    return result;
  } finally {
    abort.abort();
    child?.kill();
    await server.stop(500);
    await clients;
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const params = mlp().reduce((s, a) => s + a.data.length, 0);
  const result = {
    bench: 'round-overhead',
    node: process.version,
    transport: 'grpc-bidi over 127.0.0.1',
    clients: CLIENTS,
    rounds: ROUNDS,
    paramsPerClient: params,
    modelBytes: params * 4,
    targetMsPerRound: 100,
    runs: [await measure('child-process'), await measure('same-process')],
    at: new Date().toISOString(),
  };
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('round-overhead.json', dir), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--clients');
  if (i > 0) await startClients(process.argv[i + 1]!, new AbortController().signal);
  else await run();
}
