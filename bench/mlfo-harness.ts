// Shared by the MLFO benchmarks (orchestration.ts, intake.ts): a private redis-server, a standalone
// MLFO as a child process (its compiled build when dist/ is fresh), flower-adapter processes when
// asked for, all on a loopback /24 of their own. stop() ends exactly what was started here, deletes
// every Redis key under the run's prefix and removes the temp dir.

import type { StartedAdapter } from '../flower-adapter/test/support/spawn-adapter.ts';
import { type MlfoProcess, type NodeSpec, startStandaloneCluster } from '../mlfo/test/support/cluster.ts';

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
  const cluster = await startStandaloneCluster({
    tmpName: `mlfo-bench-${opts.name}`,
    prefix: `mlfo-bench-${opts.name}-${process.pid}`,
    keepDir: false,
    net: opts.net,
    // in batches: 50 adapters starting at once on 2 cores take minutes to answer /healthz
    adapterNodes: opts.withAdapters ? opts.nodes : [],
    adapterBatchSize: 6,
    adapterReadyTimeoutMs: 120_000,
    inventoryNodes: opts.nodes,
    mlfoEnv: { MLFO_FROM_SOURCE: '0' },
    mlfoArgs: opts.extraArgs ?? [],
  });
  const { distIsFresh } = await import('../bin/launch.mjs');
  return {
    net: opts.net,
    prefix: cluster.prefix,
    redisUrl: cluster.redis.url,
    mlfo: cluster.mlfo,
    adapters: cluster.adapters,
    compiledBuild: distIsFresh(),
    stop: cluster.stop,
  };
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
