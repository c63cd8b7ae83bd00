// Client training benchmark: throughput (samples/s) of `simple` and `complex` on handmnist on
// the wasm backend (and the cpu backend for comparison), and the peak RSS of one client process
// that holds one partition (1/4 of the train split) while it trains. Every measurement runs in
// a fresh child process, so one backend or model does not inflate another's memory figures.
// Writes bench/results/training.json. Run: npx tsx bench/training.ts

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const RSS_TARGET_MB = 150;

interface ChildJob {
  backend: 'wasm' | 'cpu';
  model: 'simple' | 'complex';
  /** samples to train on (taken from partition 0 of 4) */
  samples: number;
  epochs: number;
}

interface ChildResult extends ChildJob {
  backendActual: string;
  samplesPerSec: number;
  trainSeconds: number;
  finalLoss: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  vmHwmMb: number;
  partitionBytes: number;
}

const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;

function vmHwmBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

async function child(job: ChildJob): Promise<ChildResult> {
  const { loadPartition } = await import('../flower-adapter/src/ml/datasets/registry.ts');
  const { TfClient } = await import('../flower-adapter/src/ml/tf-client.ts');
  const { initTf } = await import('../flower-adapter/src/ml/tf.ts');
  const { backend } = await initTf();
  const dataDir = join(here, '..', '.cache');
  const train = await loadPartition('handmnist', { dataDir, part: 0, cohsize: 4, seed: 0, split: 'train' });
  const test = await loadPartition('handmnist', { dataDir, part: 0, cohsize: 4, seed: 0, split: 'test' });
  const n = Math.min(job.samples, train.count);
  const part = { ...train, x: train.x.subarray(0, n * 784), y: train.y.subarray(0, n), count: n };
  const client = new TfClient(job.model, part, test, { seed: 0 });
  let peak = process.memoryUsage().rss;
  const rssBefore = peak;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  let weights = await client.getParameters({});
  // one warm-up batch: kernel setup and first allocations are not throughput
  const warm = { ...part, x: part.x.subarray(0, 32 * 784), y: part.y.subarray(0, 32), count: 32 };
  await new TfClient(job.model, warm, test, { seed: 0 }).fit(weights, {});
  const t0 = performance.now();
  let loss = Number.NaN;
  for (let e = 0; e < job.epochs; e++) {
    const r = await client.fit(weights, { epochs: 1 });
    weights = r.parameters;
    loss = Number(r.metrics['loss']);
  }
  const seconds = (performance.now() - t0) / 1000;
  await client.evaluate(weights, {});
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  return {
    ...job,
    samples: n,
    backendActual: backend,
    samplesPerSec: Math.round((n * job.epochs) / seconds),
    trainSeconds: Math.round(seconds * 100) / 100,
    finalLoss: Math.round(loss * 1000) / 1000,
    rssBeforeMb: mb(rssBefore),
    rssPeakMb: mb(peak),
    vmHwmMb: mb(vmHwmBytes()),
    partitionBytes: train.x.byteLength + train.y.byteLength + test.x.byteLength + test.y.byteLength,
  };
}

function runChild(job: ChildJob): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify(job)],
      {
        env: { ...process.env, MLFO_TF_BACKEND: job.backend },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line)
        reject(new Error(`bench child ${JSON.stringify(job)} exited ${code}: ${out.slice(-2000)}`));
      else resolve(JSON.parse(line.slice(7)) as ChildResult);
    });
  });
}

export async function run(): Promise<Record<string, unknown>> {
  const jobs: ChildJob[] = [
    { backend: 'wasm', model: 'simple', samples: 2000, epochs: 3 },
    { backend: 'wasm', model: 'complex', samples: 2000, epochs: 1 },
    { backend: 'cpu', model: 'simple', samples: 2000, epochs: 1 },
    // the cpu backend's conv gradients take seconds per batch; a few batches show the rate
    { backend: 'cpu', model: 'complex', samples: 64, epochs: 1 },
  ];
  const results: ChildResult[] = [];
  for (const job of jobs) {
    const r = await runChild(job);
    console.log(
      `${r.backendActual.padEnd(4)} ${r.model.padEnd(7)} ${String(r.samplesPerSec).padStart(6)} samples/s ` +
        `(${r.samples} samples × ${r.epochs} epochs in ${r.trainSeconds} s, loss ${r.finalLoss}); ` +
        `RSS ${r.rssBeforeMb} MB before training, peak ${r.rssPeakMb} MB, VmHWM ${r.vmHwmMb} MB`,
    );
    results.push(r);
  }
  const wasm = results.filter((r) => r.backendActual === 'wasm');
  const peakMb = Math.max(...wasm.map((r) => Math.max(r.rssPeakMb, r.vmHwmMb)));
  const summary = {
    bench: 'training',
    date: new Date().toISOString(),
    node: process.version,
    dataset: 'handmnist, partition 0 of 4 (2,000 train / 500 test samples)',
    results,
    clientPeakRssMb: peakMb,
    rssTargetMb: RSS_TARGET_MB,
    rssWithinTarget: peakMb <= RSS_TARGET_MB,
  };
  console.log(
    `peak RSS of this benchmark's wasm child (run through tsx, default V8 flags): ${peakMb} MB; the per-node target (≤ ${RSS_TARGET_MB} MB) is measured on real adapter processes by bench/adapter-memory.ts`,
  );
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'training.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

const childArg = process.argv.indexOf('--child');
if (childArg >= 0) {
  const r = await child(JSON.parse(process.argv[childArg + 1]!) as ChildJob);
  console.log(`RESULT ${JSON.stringify(r)}`);
  process.exit(0);
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await run();
}
