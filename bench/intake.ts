// Benchmark: intake of a standalone MLFO, intents/s that POST /receive accepts (202) and durably
// queues. The orchestration queue is paused first (BullMQ Queue.pause() from this process: the
// MLFO's worker takes no job), so the figure is parse + resolve + Redis record + enqueue alone and
// no FL server or client is started (the inventory lists nodes nothing listens on). Each post is
// the seed's multipart upload (file = intent.yaml with a fresh intentID, ipstart/cohortsize form
// fields), sent over keep-alive HTTP by CONCURRENCY requests in flight; the bench process shares the
// machine's 2 cores with the MLFO and Redis. At the end the queue must hold one job per accepted
// intent. Target ≥ 500 intents/s. Writes bench/results/intake.json. Run: npx tsx bench/intake.ts [--n N]

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { NodeSpec } from '../mlfo/test/support/cluster.ts';
import { ROOT } from '../mlfo/test/support/cluster.ts';
import { benchNet, percentile, startBenchMlfo } from './mlfo-harness.ts';

const TARGET_PER_S = 500;
const CONCURRENCY = 32;

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function multipart(yaml: string, fields: Record<string, string>): { body: Buffer; type: string } {
  const b = `----mlfo-bench-${Math.random().toString(16).slice(2)}`;
  const parts = Object.entries(fields).map(
    ([k, v]) => `--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
  );
  parts.push(
    `--${b}\r\nContent-Disposition: form-data; name="file"; filename="intent.yaml"\r\nContent-Type: application/yaml\r\n\r\n${yaml}\r\n--${b}--\r\n`,
  );
  return { body: Buffer.from(parts.join('')), type: `multipart/form-data; boundary=${b}` };
}

function post(url: URL, agent: Agent, body: Buffer, type: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': type, 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function run(): Promise<Record<string, unknown>> {
  const n = Number(argValue('--n') ?? 3000);
  const warmup = 200;
  const net = benchNet(2);
  const nodes: NodeSpec[] = [
    { name: 'fed.1', address: `${net}.101`, role: 'fl-server' },
    { name: 'fc.10', address: `${net}.10`, role: 'fl-client' },
    { name: 'fc.11', address: `${net}.11`, role: 'fl-client' },
  ];
  const bench = await startBenchMlfo({ name: 'intake', net, nodes, withAdapters: false });
  const queueConn = new Redis(bench.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('intents', { connection: queueConn, prefix: bench.prefix });
  const template = readFileSync(join(ROOT, 'intents', 'intent.yaml'), 'utf8');
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const url = new URL(`${bench.mlfo.url}/receive`);
  let out: Record<string, unknown>;
  try {
    await queue.pause();
    const statuses = new Map<number, number>();
    const latencies: number[] = [];
    const send = async (from: number, count: number, record: boolean) => {
      let next = from;
      const end = from + count;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < end) {
            const i = next++;
            const { body, type } = multipart(
              template.replace(/intentID: \S+/, `intentID: bench-intake-${i}`),
              {
                ipstart: '10',
                cohortsize: '2',
                numround: '1',
              },
            );
            const t = performance.now();
            const status = await post(url, agent, body, type);
            if (record) {
              latencies.push(performance.now() - t);
              statuses.set(status, (statuses.get(status) ?? 0) + 1);
            }
          }
        }),
      );
    };
    await send(0, warmup, false);
    const t0 = performance.now();
    await send(warmup, n, true);
    const seconds = (performance.now() - t0) / 1000;
    const accepted = statuses.get(202) ?? 0;
    const counts = await queue.getJobCounts('wait', 'active', 'completed', 'failed', 'delayed');
    const queued = counts['wait'] ?? 0;
    out = {
      method:
        'standalone MLFO, orchestration queue paused (BullMQ Queue.pause), seed multipart uploads with fresh intentIDs, ' +
        `${CONCURRENCY} requests in flight over keep-alive HTTP from one process on the same 2-core machine; ${warmup} warm-up posts not counted`,
      runsCompiledBuild: bench.compiledBuild,
      posts: n,
      accepted,
      statuses: Object.fromEntries(statuses),
      seconds: +seconds.toFixed(2),
      intentsPerSecond: +(accepted / seconds).toFixed(0),
      latencyMs: { p50: +percentile(latencies, 50).toFixed(1), p95: +percentile(latencies, 95).toFixed(1) },
      queuedJobs: queued,
      queueCounts: counts,
      targetPerSecond: TARGET_PER_S,
      meetsTarget: accepted / seconds >= TARGET_PER_S && accepted === n && queued === n + warmup,
    };
    console.log(
      `intake: ${out['intentsPerSecond']} intents/s accepted and queued (${accepted}/${n} answered 202, ` +
        `${queued} jobs waiting in the paused queue; latency p50 ${(out['latencyMs'] as { p50: number }).p50} ms, ` +
        `p95 ${(out['latencyMs'] as { p95: number }).p95} ms; target ≥ ${TARGET_PER_S}/s)`,
    );
  } finally {
    agent.destroy();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    queueConn.disconnect();
    await bench.stop();
  }
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('intake.json', dir), `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
