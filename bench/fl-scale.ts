// Scale of the emulation: (1) bring-up and teardown of 251 hosts (one FL server, 250 client hosts
// on a switch) without node programs; (2) 250 FL clients joining one FedAvg round over the
// emulated network, with the peak memory of the whole run (every node program's RSS summed, sampled
// every 250 ms). A flower-adapter process takes ~110–130 MB, so 250 of them would not fit in this
// machine's 24 GB; the clients run as 5 client sessions per adapter on 50 client hosts, each
// session its own Flower gRPC client with its own connection, partition and model.
// netns as root, local otherwise. Env: BENCH_FL_CLIENTS (250), BENCH_CLIENTS_PER_HOST (5).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BackendName, cleanEmulation, defaultBackend, startEmulation } from '../topology/src/backend.ts';
import type { EmulatedNetwork } from '../topology/src/network.ts';
import { starTopology } from '../topology/src/generators/star.ts';
import { startNodePrograms } from '../topology/src/nodes/index.ts';
import { isEnded } from '../common/ended-states.ts';
import { postForm } from './post-form.ts';

const TARGET_CLIENTS = 250;

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const clients = Number(process.env.BENCH_FL_CLIENTS ?? TARGET_CLIENTS);
  const perHost = Number(process.env.BENCH_CLIENTS_PER_HOST ?? 5);
  const clientHosts = Math.ceil(clients / perHost);
  const { backend, reason } = defaultBackend();
  console.log(`backend ${backend} (${reason})`);
  const runsDir = mkdtempSync(join(tmpdir(), 'mlfo-bench-scale-'));
  const result: Record<string, unknown> = { backend, clients, clientHosts, clientsPerHost: perHost };
  try {
    result.hosts251 = await upAndDown251(backend, runsDir);
    Object.assign(result, await oneRound(backend, runsDir, clients, perHost, clientHosts));
  } finally {
    for (const id of [`scaleup${process.pid}`, `scalefl${process.pid}`]) {
      await cleanEmulation(id, runsDir).catch(() => undefined);
    }
    rmSync(runsDir, { recursive: true, force: true });
  }
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('fl-scale.json', dir), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** (1) 251 hosts, no programs */
async function upAndDown251(backend: BackendName, runsDir: string): Promise<{ upS: number; downS: number }> {
  const runId = `scaleup${process.pid}`;
  const spec = starTopology(TARGET_CLIENTS + 1, { fl: true, name: 'scale251' });
  const t0 = performance.now();
  const net = await startEmulation(spec, {
    backend,
    runId,
    runDir: join(runsDir, runId),
    publish: false,
  });
  const up = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await net.stop();
  const down = (performance.now() - t1) / 1000;
  console.log(`251 hosts: up ${up.toFixed(2)} s, down ${down.toFixed(2)} s`);
  return { upS: +up.toFixed(2), downS: +down.toFixed(2) };
}

/** (2) 250 FL clients in one round, with the peak RSS of all node programs */
async function oneRound(
  backend: BackendName,
  runsDir: string,
  clients: number,
  perHost: number,
  clientHosts: number,
): Promise<Record<string, unknown>> {
  const runId = `scalefl${process.pid}`;
  const runDir = join(runsDir, runId);
  const spec = starTopology(clientHosts + 1, { fl: true, name: 'scalefl' });
  const t0 = performance.now();
  const net = await startEmulation(spec, { backend, runId, runDir, publish: false });
  let peakKb = 0;
  let pids: number[] = [];
  const sampler = setInterval(() => {
    const kb = pids.reduce((s, p) => s + rssKb(p), 0);
    if (kb > peakKb) peakKb = kb;
  }, 250);
  try {
    const programs = await startNodePrograms(net, {
      roles: ['fl-server', 'fl-client'],
      readyTimeoutMs: 300_000,
      onProgress: (m) => console.log(`  … ${m}`),
    });
    pids = programs.programs.map((p) => p.pid);
    const programsS = (performance.now() - t0) / 1000;
    console.log(`${programs.programs.length} adapters ready ${programsS.toFixed(1)} s after start`);
    const server = `http://${net.ip('h1')}:5000`;
    const tJoin = await joinClients(net, server, clients, perHost);
    const { status, connectedS } = await waitRound(server, clients, tJoin);
    const rounds = (status.rounds as { fitResults?: number; durationMs?: number }[] | undefined) ?? [];
    const r1 = rounds[0];
    const result = {
      state: status.state,
      errors: status.errors,
      programsReadyS: +programsS.toFixed(1),
      allConnectedS: connectedS !== undefined ? +connectedS.toFixed(1) : null,
      roundFitResults: r1?.fitResults ?? 0,
      roundDurationS: r1?.durationMs !== undefined ? +(r1.durationMs / 1000).toFixed(1) : null,
      accuracy: status.accuracy,
      peakRssMb: Math.round(peakKb / 1024),
      target: `${TARGET_CLIENTS} clients join one round`,
      met: status.state === 'completed' && (r1?.fitResults ?? 0) >= clients && clients >= TARGET_CLIENTS,
    };
    console.log(
      `round 1: ${r1?.fitResults ?? 0}/${clients} fit results, ${result.roundDurationS} s; state ${status.state}; ` +
        `peak RSS of all node programs ${result.peakRssMb} MB`,
    );
    await programs.stop();
    return result;
  } finally {
    clearInterval(sampler);
    await net.stop();
  }
}

/** The server session, then `clients` client sessions, `perHost` on each client host; returns when the first /cli went. */
async function joinClients(
  net: EmulatedNetwork,
  server: string,
  clients: number,
  perHost: number,
): Promise<number> {
  const serv = await postForm(`${server}/serv`, {
    algo: 'fedavg',
    fracfit: '1',
    minfit: String(clients),
    minav: String(clients),
    numround: '1',
    fraceval: '0',
    model: 'simple',
    source: 'handmnist',
    session: 'scale',
    waittimeout: '1200',
    roundtimeout: '1200',
  });
  const tJoin = performance.now();
  const posts: Promise<unknown>[] = [];
  for (let part = 0; part < clients; part++) {
    const host = `h${2 + Math.floor(part / perHost)}`;
    posts.push(
      postForm(`http://${net.ip(host)}:5000/cli`, {
        source: 'handmnist',
        model: 'simple',
        server: String(serv.address),
        cohsize: String(clients),
        part: String(part),
        session: `scale-c${part}`,
      }),
    );
  }
  await Promise.all(posts);
  return tJoin;
}

/** Polls the server session until it ends; notes when every client was connected. */
async function waitRound(
  server: string,
  clients: number,
  tJoin: number,
): Promise<{ status: Record<string, unknown>; connectedS: number | undefined }> {
  let connectedS: number | undefined;
  let status: Record<string, unknown> = {};
  for (;;) {
    status = (await (await fetch(`${server}/sessions/scale`)).json()) as Record<string, unknown>;
    if (connectedS === undefined && Number(status.clientsConnected) >= clients) {
      connectedS = (performance.now() - tJoin) / 1000;
      console.log(`all ${clients} clients connected ${connectedS.toFixed(1)} s after the first /cli`);
    }
    if (isEnded(String(status.state))) break;
    if (performance.now() - tJoin > 1_200_000)
      throw new Error(`round not done after 20 min: ${JSON.stringify(status.state)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return { status, connectedS };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await run(), null, 2));
}
