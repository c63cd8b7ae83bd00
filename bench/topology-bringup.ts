// Bring-up and teardown time of the seed topology (about 60 hosts, 8–9 switches), shaped, without
// node programs, on the netns backend (target: up in < 5 s) and, where a Docker engine answers and
// the project image exists, on the docker backend (targets: up < 10 s, down < 5 s for the 60
// containers), and there the memory of the 60 idle containers (cgroup peak and resident set, summed
// and the largest). Needs root; writes bench/results/topology-bringup.json (netns figures at the top
// level as before, each backend's under `backends`). Run: `npx tsx bench/topology-bringup.ts`.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TopologySpec } from '../common/topology-spec/topology-spec.ts';
import { docker as dockerCli, engineProblem, imageExists } from '../topology/src/docker/engine.ts';
import { cleanDockerRun } from '../topology/src/docker/clean.ts';
import { PROJECT_IMAGE } from '../topology/src/docker/images.ts';
import { startDockerNetwork } from '../topology/src/docker/network.ts';
import { seedTopology } from '../topology/src/generators/seed.ts';
import type { EmulatedNetwork } from '../topology/src/network.ts';
import { cleanRun } from '../topology/src/netns/clean.ts';
import { startNetwork } from '../topology/src/netns/network.ts';
import type { StartOptions } from '../topology/src/netns/start-options.ts';
import { containerMemory, containerMemoryReadable } from './container-memory.ts';

const TARGET_UP_S = 5;
const DOCKER_TARGETS = { upSeconds: 10, downSeconds: 5 };

interface Bench {
  start(spec: TopologySpec, opts: StartOptions): Promise<EmulatedNetwork>;
  clean(runId: string, runDir: string): Promise<unknown>;
}

const BENCHES: Record<'netns' | 'docker', Bench> = {
  netns: { start: startNetwork, clean: (runId) => cleanRun(runId) },
  docker: { start: startDockerNetwork, clean: (runId, runDir) => cleanDockerRun(runId, runDir) },
};

export async function run(rounds = 3): Promise<Record<string, unknown>> {
  if (process.getuid?.() !== 0)
    throw new Error('topology-bringup needs root (network namespaces, bridges, cgroups)');
  const netns = await measure('netns', rounds);
  const problem =
    engineProblem() ?? (imageExists(PROJECT_IMAGE) ? null : `no image ${PROJECT_IMAGE} (npm run image)`);
  const docker = problem === null ? await measure('docker', rounds) : { skipped: problem };
  if (problem !== null) console.log(`topology-bringup docker: skipped (${problem})`);
  const out = { ...netns, backends: { netns, docker } };
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('topology-bringup.json', dir), `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

async function measure(backend: 'netns' | 'docker', rounds: number): Promise<Record<string, unknown>> {
  const bench = BENCHES[backend];
  // The seed experiment's shape: 5 cohorts → 3 + 5 + 2 + 50 = 60 hosts, 8 switches, 500 Mbit/s links, 2 CPUs per FL node.
  // In a /16 of its own, so a run of the tests on this machine at the same time does not share its subnet.
  const seed = seedTopology({ cohorts: 5 });
  const octet = 200 + (process.pid % 50);
  const spec = {
    ...seed,
    hosts: seed.hosts.map((h) => ({ ...h, ip: h.ip.replace(/^10\.0\./, `10.${octet}.`) })),
  };
  const ups: number[] = [];
  const downs: number[] = [];
  let pingLoss: number | undefined;
  let memory: Record<string, number> | undefined;
  for (let i = 0; i < rounds; i++) {
    const runId = `bench${process.pid}${backend}r${i}`;
    const runDir = mkdtempSync(join(tmpdir(), `mlfo-bench-${runId}-`));
    try {
      const t0 = performance.now();
      // This kernel may lack sch_netem; the seed's 12 ms links then run without delay (recorded in the state).
      const net = await bench.start(spec, { runId, runDir, linksWithoutDelay: true, log: () => undefined });
      ups.push((performance.now() - t0) / 1000);
      if (i === 0) pingLoss = (await net.pingAll({ count: 1, timeoutMs: 2000 })).lossPercent;
      if (i === 0 && backend === 'docker' && containerMemoryReadable()) memory = idleMemory(runId);
      const t1 = performance.now();
      await net.stop();
      downs.push((performance.now() - t1) / 1000);
    } finally {
      await bench.clean(runId, runDir).catch(() => undefined);
      rmSync(runDir, { recursive: true, force: true });
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const docker = backend === 'docker';
  const out = {
    backend,
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
    ...(memory ? { idleContainersMemory: memory } : {}),
    targetUpSeconds: docker ? DOCKER_TARGETS.upSeconds : TARGET_UP_S,
    ...(docker ? { targetDownSeconds: DOCKER_TARGETS.downSeconds } : {}),
    meetsTarget: docker
      ? median(ups) < DOCKER_TARGETS.upSeconds && median(downs) < DOCKER_TARGETS.downSeconds && pingLoss === 0
      : median(ups) < TARGET_UP_S && pingLoss === 0,
  };
  console.log(
    `topology-bringup ${backend}: ${out.hosts} hosts, ${out.switches} switches, ${out.links} links: up ${out.upMedianSeconds} s ` +
      `(median of ${rounds}; target < ${out.targetUpSeconds} s), down ${out.downMedianSeconds} s, pingall loss ${pingLoss}%`,
  );
  if (memory) {
    console.log(
      `topology-bringup docker: ${memory.containers} idle containers: peak ${memory.totalPeakMb} MB in all ` +
        `(largest ${memory.maxPeakMb} MB, cgroup incl. page cache), resident ${memory.totalRssMb} MB`,
    );
  }
  return out;
}

/** The run's idle containers (keeper only, no node programs): their cgroups' peaks and resident sets. */
function idleMemory(runId: string): Record<string, number> {
  const ids = dockerCli(['ps', '-q', '--no-trunc', '--filter', `label=mlfo.run=${runId}`])
    .stdout.split('\n')
    .filter(Boolean);
  const m = ids.map((id) => containerMemory(id));
  const sum = (xs: number[]) => +xs.reduce((a, b) => a + b, 0).toFixed(1);
  return {
    containers: ids.length,
    totalPeakMb: sum(m.map((x) => x.peakMb)),
    maxPeakMb: Math.max(...m.map((x) => x.peakMb)),
    totalRssMb: sum(m.map((x) => x.rssMb)),
    maxRssMb: Math.max(...m.map((x) => x.rssMb)),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
