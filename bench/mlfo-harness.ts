// Shared by the MLFO benchmarks (orchestration.ts, intake.ts): a private redis-server, a standalone
// MLFO as a child process (its compiled build when dist/ is fresh), flower-adapter processes when
// asked for, all on a loopback /24 of their own. stop() ends exactly what was started here, deletes
// every Redis key under the run's prefix and removes the temp dir.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { type StartedAdapter, spawnAdapter } from '../flower-adapter/src/spawn-adapter.ts';
import {
  type MlfoProcess,
  type NodeSpec,
  ROOT,
  startMlfoProcess,
  writeInventory,
} from '../mlfo/test/support/cluster.ts';
import { startRedis } from '../mlfo/test/support/redis.ts';

export interface BenchMlfo {
  net: string;
  prefix: string;
  redisUrl: string;
  mlfo: MlfoProcess;
  adapters: Map<string, StartedAdapter>;
  compiledBuild: boolean;
  stop(): Promise<void>;
}

export function benchNet(salt: number): string {
  return `127.${180 + ((process.pid + salt) % 60)}.${(process.pid >> 4) % 250}`;
}

export async function startBenchMlfo(opts: {
  name: string;
  net: string;
  nodes: NodeSpec[];
  /** start flower-adapters for these nodes (else the inventory lists nodes nothing listens on) */
  withAdapters: boolean;
  extraArgs?: string[];
}): Promise<BenchMlfo> {
  const dir = mkdtempSync(join(tmpdir(), `mlfo-bench-${opts.name}-`));
  const prefix = `mlfo-bench-${opts.name}-${process.pid}`;
  const redis = await startRedis();
  const adapters = new Map<string, StartedAdapter>();
  let mlfo: MlfoProcess | undefined;
  const stop = async () => {
    await mlfo?.stop();
    await Promise.all([...adapters.values()].map((a) => a.stop()));
    const r = new Redis(redis.url);
    const keys = await r.keys(`${prefix}*`);
    if (keys.length > 0) await r.del(...keys);
    r.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (opts.withAdapters) {
      // in batches: 50 adapters starting at once on 2 cores take minutes to answer /healthz
      for (let i = 0; i < opts.nodes.length; i += 6) {
        const batch = opts.nodes.slice(i, i + 6);
        const started = await Promise.allSettled(
          batch.map((n) =>
            spawnAdapter({
              host: n.address,
              nodeId: n.name,
              logFile: join(dir, `${n.name}.log`),
              readyTimeoutMs: 120_000,
            }),
          ),
        );
        started.forEach((r, j) => {
          if (r.status === 'fulfilled') adapters.set(batch[j]!.name, r.value);
        });
        const failed = started.find((r) => r.status === 'rejected');
        if (failed) throw (failed as PromiseRejectedResult).reason;
      }
    }
    const inventory = writeInventory(join(dir, 'inventory.yaml'), opts.net, opts.nodes);
    mlfo = await startMlfoProcess({
      host: `${opts.net}.1`,
      intentPort: 8000,
      logFile: join(dir, 'mlfo.log'),
      env: { MLFO_FROM_SOURCE: '0' },
      args: [
        '--role',
        'standalone',
        '--momo-port',
        '9000',
        '--redis',
        redis.url,
        '--inventory',
        inventory,
        '--catalog',
        join(ROOT, 'intents', 'catalog.digits.yaml'),
        '--prefix',
        prefix,
        ...(opts.extraArgs ?? []),
      ],
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const { distIsFresh } = await import('../bin/launch.mjs');
  return { net: opts.net, prefix, redisUrl: redis.url, mlfo, adapters, compiledBuild: distIsFresh(), stop };
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
