// Bring-up and teardown time of the seed topology (about 60 hosts, 8–9 switches) on the netns
// backend, without node programs (target: up in < 5 s). Needs root; writes
// bench/results/topology-bringup.json. Run: `npx tsx bench/topology-bringup.ts`.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { seedTopology } from '../topology/src/generators/seed.ts';
import { cleanRun } from '../topology/src/netns/clean.ts';
import { startNetwork } from '../topology/src/netns/network.ts';

const TARGET_UP_S = 5;

export async function run(rounds = 3): Promise<Record<string, unknown>> {
  if (process.getuid?.() !== 0)
    throw new Error('topology-bringup needs root (network namespaces, bridges, cgroups)');
  // The seed experiment's shape: 5 cohorts → 3 + 5 + 2 + 50 = 60 hosts, 8 switches, 500 Mbit/s links, 2 CPUs per FL node.
  const spec = seedTopology({ cohorts: 5 });
  const ups: number[] = [];
  const downs: number[] = [];
  let pingLoss: number | undefined;
  for (let i = 0; i < rounds; i++) {
    const runId = `bench${process.pid}r${i}`;
    const runDir = mkdtempSync(join(tmpdir(), `mlfo-bench-${runId}-`));
    try {
      const t0 = performance.now();
      // This kernel may lack sch_netem; the seed's 12 ms links then run without delay (recorded in the state).
      const net = await startNetwork(spec, { runId, runDir, linksWithoutDelay: true, log: () => undefined });
      ups.push((performance.now() - t0) / 1000);
      if (i === 0) pingLoss = (await net.pingAll({ count: 1, timeoutMs: 2000 })).lossPercent;
      const t1 = performance.now();
      await net.stop();
      downs.push((performance.now() - t1) / 1000);
    } finally {
      await cleanRun(runId).catch(() => undefined);
      rmSync(runDir, { recursive: true, force: true });
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const out = {
    topology: spec.name,
    hosts: spec.hosts.length,
    switches: spec.switches.length,
    links: spec.links.length,
    rounds,
    upSeconds: ups.map((s) => +s.toFixed(3)),
    downSeconds: downs.map((s) => +s.toFixed(3)),
    upMedianSeconds: +median(ups).toFixed(3),
    downMedianSeconds: +median(downs).toFixed(3),
    pingAllLossPercent: pingLoss,
    targetUpSeconds: TARGET_UP_S,
    meetsTarget: median(ups) < TARGET_UP_S && pingLoss === 0,
  };
  console.log(
    `topology-bringup: ${out.hosts} hosts, ${out.switches} switches, ${out.links} links: up ${out.upMedianSeconds} s ` +
      `(median of ${rounds}; target < ${TARGET_UP_S} s), down ${out.downMedianSeconds} s, pingall loss ${pingLoss}%`,
  );
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('topology-bringup.json', dir), `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
