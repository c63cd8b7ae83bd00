// Peak memory of real flower-adapter processes during a real FL session: one server node and
// four client nodes on loopback, each client on 1/4 of the digits, a few rounds of `simple` and
// `complex`. Reads each process's VmHWM (peak resident set) from /proc after the session ended.
// Target: ≤ 150 MB per client process, so 50 clients fit in a few GB.
// Where a Docker engine answers and the project image exists (as root), the same session of
// `complex` once more with every node a container of a docker run (star of 5, node programs from
// the image): per FL client container its cgroup's peak (page cache included) and resident set,
// and the adapter process's VmHWM inside.
// Writes bench/results/adapter-memory.json. Run: npx tsx bench/adapter-memory.ts

import { readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnAdapter, type StartedAdapter } from '../flower-adapter/test/support/spawn-adapter.ts';
import type { SessionStatus } from '../flower-adapter/src/sessions/session.ts';
import { isEnded } from '../common/ended-states.ts';
import { type ContainerMemory, containerMemory, containerMemoryReadable } from './container-memory.ts';
import { postForm } from './post-form.ts';

const TARGET_MB = 150;

function vmHwmMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** An FL node of the session: its REST address and its peak resident set. */
interface MemNode {
  url: string;
  peakMb(): number;
}

async function session(model: 'simple' | 'complex', net: string): Promise<Record<string, unknown>> {
  const logDir = mkdtempSync(join(tmpdir(), 'mlfo-bench-mem-'));
  const nodes: StartedAdapter[] = [];
  try {
    for (const i of [1, 10, 11, 12, 13]) {
      nodes.push(
        await spawnAdapter({ host: `${net}.${i}`, nodeId: `n${i}`, logFile: join(logDir, `n${i}.log`) }),
      );
    }
    const [srv, ...clis] = nodes.map((n) => ({ url: n.url, peakMb: () => vmHwmMb(n.pid) }));
    return await train(model, srv as MemNode, clis);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(logDir, { recursive: true, force: true });
  }
}

/** One server, its clients on 1/4 of the digits each, 3 rounds; the peaks once it ended. */
async function train(model: string, srv: MemNode, clis: MemNode[]): Promise<Record<string, unknown>> {
  const s = await postForm(`${srv.url}/serv`, {
    minfit: '4',
    minav: '4',
    numround: '3',
    model,
    source: 'handmnist',
    session: 'mem',
  });
  await Promise.all(
    clis.map((c, part) =>
      postForm(`${c.url}/cli`, {
        source: 'handmnist',
        model,
        server: String(s['address']),
        cohsize: '4',
        part: String(part),
        session: 'mem',
      }),
    ),
  );
  const t0 = Date.now();
  for (;;) {
    const st = (await (await fetch(`${srv.url}/sessions/mem`)).json()) as SessionStatus;
    if (isEnded(st.state)) {
      if (st.state !== 'completed') throw new Error(`session ${st.state}: ${st.errors.join('; ')}`);
      break;
    }
    if (Date.now() - t0 > 600_000) throw new Error('session did not end in 10 minutes');
    await new Promise((r) => setTimeout(r, 200));
  }
  const clientPeaks = clis.map((c) => c.peakMb());
  return {
    model,
    serverPeakMb: Math.round(srv.peakMb()),
    clientPeakMb: clientPeaks.map((x) => Math.round(x)),
    clientPeakMaxMb: Math.round(Math.max(...clientPeaks)),
    sessionSeconds: (Date.now() - t0) / 1000,
  };
}

/** Why the docker session cannot run here, or undefined. */
async function dockerProblem(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root';
  const { engineProblem, imageExists } = await import('../topology/src/docker/engine.ts');
  const { PROJECT_IMAGE } = await import('../topology/src/docker/images.ts');
  const problem =
    engineProblem() ?? (imageExists(PROJECT_IMAGE) ? undefined : `no image ${PROJECT_IMAGE} (npm run image)`);
  if (problem) return problem;
  return containerMemoryReadable() ? undefined : 'no cgroup v1 memory hierarchy of the engine';
}

/** The `complex` session with every FL node a container of a docker run. */
async function dockerSession(): Promise<Record<string, unknown>> {
  const { startDockerNetwork } = await import('../topology/src/docker/network.ts');
  const { cleanDockerRun } = await import('../topology/src/docker/clean.ts');
  const { starTopology } = await import('../topology/src/generators/star.ts');
  const { startNodePrograms } = await import('../topology/src/nodes/index.ts');
  const { docker } = await import('../topology/src/docker/engine.ts');
  const octet = 250 + (process.pid % 5);
  const star = starTopology(5, { fl: true, name: 'adapter-memory' });
  const spec = {
    ...star,
    hosts: star.hosts.map((h) => ({ ...h, ip: h.ip.replace(/^10\.0\./, `10.${octet}.`) })),
  };
  const runId = `benchmem${process.pid}`;
  const runDir = mkdtempSync(join(tmpdir(), 'mlfo-bench-mem-docker-'));
  try {
    const net = await startDockerNetwork(spec, { runId, runDir, log: () => undefined });
    try {
      await startNodePrograms(net, { log: () => undefined });
      const node = (h: string): MemNode & { container(): ContainerMemory } => {
        const id = docker(['inspect', '-f', '{{.Id}}', `mlfo-${runId}.${h}`]).stdout.trim();
        const container = () => containerMemory(id, /flower-adapter\.mjs/);
        return {
          url: `http://${net.ip(h)}:5000`,
          peakMb: () => container().processPeakMb ?? Number.NaN,
          container,
        };
      };
      const [srv, ...clis] = ['h1', 'h2', 'h3', 'h4', 'h5'].map(node);
      const r = await train('complex', srv as MemNode, clis);
      const mem = clis.map((c) => c.container());
      return {
        ...r,
        clientContainerPeakMb: mem.map((m) => Math.round(m.peakMb)),
        clientContainerRssMb: mem.map((m) => Math.round(m.rssMb)),
        clientContainerPeakMaxMb: Math.round(Math.max(...mem.map((m) => m.peakMb))),
      };
    } finally {
      await net.stop();
    }
  } finally {
    await cleanDockerRun(runId, runDir).catch(() => undefined);
    rmSync(runDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const net = `127.${100 + (process.pid % 150)}.${(process.pid >> 8) % 250}`;
  const results = [await session('simple', net), await session('complex', net)];
  const { distIsFresh } = await import('../bin/launch.mjs');
  const problem = await dockerProblem();
  const docker = problem === undefined ? await dockerSession() : { skipped: problem };
  const out = {
    targetClientMb: TARGET_MB,
    runsCompiledBuild: distIsFresh(),
    results,
    docker,
  };
  if (problem !== undefined) console.log(`adapter memory, docker: skipped (${problem})`);
  else
    console.log(
      `adapter memory, docker (complex): per FL client container peak ${docker['clientContainerPeakMaxMb']} MB ` +
        `(cgroup, page cache included; resident ${JSON.stringify(docker['clientContainerRssMb'])} MB), ` +
        `adapter process peak RSS ${docker['clientPeakMaxMb']} MB`,
    );
  for (const r of results) {
    console.log(
      `adapter memory, ${r['model']}: client peak RSS ${r['clientPeakMaxMb']} MB (target ≤ ${TARGET_MB}), server ${r['serverPeakMb']} MB`,
    );
  }
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('adapter-memory.json', dir), `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
