// Benchmark: server round overhead over real gRPC on 127.0.0.1. 50 Flower clients (grpc-client.ts)
// whose fit/evaluate return at once with an MLP-sized model (784*128+128+128*10+10 = 101,770
// float32 params, ~407 KB per message), FedAvg over 10 rounds; figure = ms per round (fit fan-out +
// aggregation + evaluate fan-out), target < 100 ms.
// Scenarios: clients in a child process (the server's event loop is its own, as in a deployment)
// and clients in this process (client-side npy/protobuf work shares the event loop: an upper
// bound), each with federated evaluation on (fractionEvaluate 1) and off (fractionEvaluate 0).
// Besides wall time, each run reports CPU per round of the server process and of the client
// process (child-process runs) and the server's GC pause time, so a slow figure can be told apart
// into "server busy", "clients busy" and "waiting" (2 cores: server and clients compete for them).
// Run: npx tsx bench/round-overhead.ts            (all four scenarios)
//      npx tsx bench/round-overhead.ts --rounds 20 --only child   (subset; 'child' or 'same')

import { type ChildProcess, fork } from 'node:child_process';
import { once, setMaxListeners } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runFlowerClient } from '../flower-adapter/src/runtime/grpc-client.ts';
import { startFlowerGrpcServer } from '../flower-adapter/src/runtime/grpc-server.ts';
import { arraysToParameters } from '../flower-adapter/src/runtime/npy.ts';
import { runFlServer, type ServerEvent } from '../flower-adapter/src/runtime/server.ts';
import { FedAvg } from '../flower-adapter/src/runtime/strategy/fedavg.ts';
import type { NDArray, NumPyClient } from '../flower-adapter/src/runtime/types.ts';

const CLIENTS = 50;
const MLP_SHAPES = [[784, 128], [128], [128, 10], [10]];

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const ROUNDS = Number(argValue('--rounds') ?? 10);

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

type Stats = { medianMs: number; meanMs: number; minMs: number; maxMs: number };

function stats(xs: number[]): Stats {
  if (xs.length === 0) return { medianMs: 0, meanMs: 0, minMs: 0, maxMs: 0 };
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

/** CPU time (user + system) in ms. */
function cpuMs(u: NodeJS.CpuUsage = process.cpuUsage()): number {
  return (u.user + u.system) / 1000;
}

/** Clients in a forked copy of this file (inherits tsx through execArgv); answers CPU queries over IPC. */
function startChildClients(address: string): {
  done: Promise<unknown>;
  cpu(): Promise<number>;
  kill(): void;
} {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--clients', address], {
    stdio: 'inherit',
  });
  const done = once(child, 'exit');
  return {
    done,
    cpu: () =>
      new Promise<number>((resolve) => {
        child.once('message', (m: { cpuMs: number }) => resolve(m.cpuMs));
        child.send('cpu');
      }),
    kill: () => child.kill(),
  };
}

/** Total GC pause time seen by this process while `gcMs()` is being observed. */
function gcMeter(): { read(): number; stop(): void } {
  let total = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) total += e.duration;
  });
  obs.observe({ entryTypes: ['gc'] });
  return { read: () => total, stop: () => obs.disconnect() };
}

async function measure(
  where: 'child-process' | 'same-process',
  evaluate: boolean,
): Promise<Record<string, unknown>> {
  const server = await startFlowerGrpcServer({ host: '127.0.0.1', port: 0 });
  const abort = new AbortController();
  const child = where === 'child-process' ? startChildClients(server.address) : undefined;
  const clients = child?.done ?? startClients(server.address, abort.signal);
  const fitMs: number[] = [];
  const evalMs: number[] = [];
  const roundMs: number[] = [];
  const gc = gcMeter();
  // CPU and GC are sampled from the start of round 2 (round 1 warms up JIT and connections) to the end.
  let from: { cpu: number; gc: number; child: Promise<number> | undefined } | undefined;
  let to: { cpu: number; gc: number; child: Promise<number> | undefined } | undefined;
  const sample = () => ({ cpu: cpuMs(), gc: gc.read(), child: child?.cpu() });
  const params = mlp().reduce((s, a) => s + a.data.length, 0);
  try {
    const history = await runFlServer({
      clientManager: server.clientManager,
      strategy: new FedAvg({
        fractionEvaluate: evaluate ? 1 : 0,
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
        if (e.type === 'round-start' && e.round === 2) from = sample();
        if (e.type === 'fit-done') fitMs.push(e.ms);
        else if (e.type === 'evaluate-done' && !e.central) evalMs.push(e.ms);
        else if (e.type === 'round-end') {
          roundMs.push(e.ms);
          if (e.round === ROUNDS) to = sample();
        }
      },
    });
    if (history.status !== 'completed') throw new Error(`run ${history.status}: ${history.reason}`);
    const failures = history.rounds.reduce((s, r) => s + r.fitFailures + r.evaluateFailures, 0);
    await clients;
    const n = ROUNDS - 1;
    const per = (x: number): number => +(x / n).toFixed(2);
    const serverCpu = per(to!.cpu - from!.cpu);
    const clientCpu = child ? per((await to!.child!) - (await from!.child!)) : undefined;
    const rest = roundMs.map((r, i) => r - fitMs[i]! - (evalMs[i] ?? 0));
    const result = {
      clients: where,
      evaluate,
      failures,
      round: stats(roundMs),
      firstRoundMs: +roundMs[0]!.toFixed(2),
      roundExcludingFirst: stats(roundMs.slice(1)),
      fitPhase: stats(fitMs.slice(1)),
      evaluatePhase: stats(evalMs.slice(1)),
      aggregateAndRest: stats(rest.slice(1)),
      // per round, rounds 2..N
      serverCpuMsPerRound: serverCpu,
      serverGcMsPerRound: per(to!.gc - from!.gc),
      ...(clientCpu !== undefined ? { clientProcessCpuMsPerRound: clientCpu } : {}),
    };
    const cpuText =
      where === 'child-process'
        ? `CPU/round: server ${serverCpu} ms (GC ${result.serverGcMsPerRound}), client process ${clientCpu} ms`
        : `CPU/round: server+clients ${serverCpu} ms (GC ${result.serverGcMsPerRound})`;
    console.log(
      `${CLIENTS} clients (${where}, evaluate ${evaluate ? 'on' : 'off'}) x ${params.toLocaleString('en')} f32: ` +
        `median ${result.roundExcludingFirst.medianMs} ms/round (first ${result.firstRoundMs}, ` +
        `min ${result.roundExcludingFirst.minMs}, max ${result.roundExcludingFirst.maxMs}); ` +
        `fit ${result.fitPhase.medianMs}, evaluate ${result.evaluatePhase.medianMs}, ` +
        `aggregation+rest ${result.aggregateAndRest.medianMs}; ${cpuText}; failures ${failures}`,
    );
    return result;
  } finally {
    gc.stop();
    abort.abort();
    child?.kill();
    await server.stop(500);
    await clients;
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const params = mlp().reduce((s, a) => s + a.data.length, 0);
  const only = argValue('--only');
  const runs: Record<string, unknown>[] = [];
  for (const where of ['child-process', 'same-process'] as const) {
    if (only !== undefined && !where.startsWith(only)) continue;
    for (const evaluate of [true, false]) runs.push(await measure(where, evaluate));
  }
  const result = {
    bench: 'round-overhead',
    node: process.version,
    transport: 'grpc-bidi over 127.0.0.1',
    clients: CLIENTS,
    rounds: ROUNDS,
    paramsPerClient: params,
    modelBytes: params * 4,
    targetMsPerRound: 100,
    note: 'phase and CPU figures cover rounds 2..N; round.* includes round 1',
    runs,
    at: new Date().toISOString(),
  };
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('round-overhead.json', dir), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const address = argValue('--clients');
  if (address !== undefined) {
    process.on('message', () => process.send?.({ cpuMs: cpuMs() }));
    await startClients(address, new AbortController().signal);
    process.disconnect?.();
  } else await run();
}
