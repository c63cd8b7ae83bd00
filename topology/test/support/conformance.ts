// The conformance suite of the EmulatedNetwork interface (topology/src/network.ts): the same
// node:test tests, run against every emulation backend on a three-host linear topology with real
// processes and sockets. A test file calls conformanceSuite(name, backend) once.
//
// Two tests need a separate process that starts the network (the "starter"): the suite re-runs
// the calling test file with MLFO_CONFORMANCE_STARTER set, and in that process conformanceSuite
// starts the network as told instead of registering tests.

import { pidExists, procStat } from '../../src/proc.ts';
import { waitFor as pollFor } from './wait.ts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { linearTopology } from '../../src/generators/linear.ts';
import type { EmulatedNetwork, HostProcess, TeardownReport } from '../../src/network.ts';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';

export interface ConformanceBackend {
  start(spec: TopologySpec, opts: { runId: string; runDir: string }): Promise<EmulatedNetwork>;
  attach(runDir: string): Promise<EmulatedNetwork>;
  /** `target` is a run directory or a run id; the suite keeps run directories as `<runsDir>/<runId>` */
  clean(target: string, runsDir: string): Promise<TeardownReport>;
  /** why the backend cannot run here (e.g. 'needs root'); the whole suite is then skipped with it */
  skip?: string;
}

const STARTER_ENV = 'MLFO_CONFORMANCE_STARTER';
const PORT = 7001;

/** A TCP server bound to argv[1]:argv[2] that answers every connection with argv[3]. */
export const SERVER =
  "const [host, port, token] = process.argv.slice(1); require('node:net')" +
  '.createServer((s) => s.end(token + "\\n"))' +
  ".listen(Number(port), host, () => console.log('LISTENING ' + host + ':' + port));";
/** Connects to argv[1]:argv[2] and prints what it reads; exit 1 on error. */
const CLIENT =
  "const [host, port] = process.argv.slice(1); const s = require('node:net').connect(Number(port), host); " +
  "let d = ''; s.on('data', (c) => { d += c; }); s.on('end', () => console.log('GOT ' + d.trim())); " +
  "s.on('error', (e) => { console.log('ERROR ' + e.message); process.exitCode = 1; });";
export const SLEEPER = 'setInterval(() => {}, 1 << 30);';

interface StarterJob {
  mode: 'exit' | 'hang';
  spec: TopologySpec;
  runId: string;
  runDir: string;
}

/** What the starter prints once the network is up and its processes run. */
interface StarterReady {
  detached: number;
  bound?: number;
  logFile: string;
}

export function conformanceSuite(name: string, backend: ConformanceBackend): void {
  const job = process.env[STARTER_ENV];
  if (job !== undefined) {
    void runStarter(backend, JSON.parse(job) as StarterJob);
    return;
  }
  describe(`EmulatedNetwork conformance: ${name}`, backend.skip ? { skip: backend.skip } : {}, () => {
    registerTests(backend);
  });
}

/**
 * A 3-host linear topology in a /16 of its own (10.<n>.0.0/16, from this process and the run's
 * index), so that runs existing at the same time (here, or of other suites) do not share a subnet.
 */
function topology(run: number): TopologySpec {
  const spec = linearTopology(3, { name: 'conformance' });
  const octet = 150 + ((process.pid + 17 * run) % 100);
  return { ...spec, hosts: spec.hosts.map((h) => ({ ...h, ip: h.ip.replace(/^10\.0\./, `10.${octet}.`) })) };
}

async function runStarter(backend: ConformanceBackend, job: StarterJob): Promise<void> {
  try {
    const net = await backend.start(job.spec, { runId: job.runId, runDir: job.runDir });
    const logFile = join(job.runDir, 'starter-server.log');
    const server = net.exec(
      'h1',
      [process.execPath, '-e', SERVER, net.ip('h1'), String(PORT), `detached-${job.runId}`],
      { detached: true, logFile },
    );
    const ready: StarterReady = { detached: server.pid, logFile };
    if (job.mode === 'hang') ready.bound = net.exec('h2', [process.execPath, '-e', SLEEPER]).pid;
    process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
    // 'exit': nothing is left to do, so the process ends unless the network keeps it alive.
    if (job.mode === 'hang') setInterval(() => undefined, 1 << 30);
  } catch (err) {
    process.stderr.write(
      `starter failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  }
}

/** Whether the process is gone (no such pid, or a zombie waiting to be reaped). */
export function gone(pid: number): boolean {
  return process.platform === 'linux' ? procStat(pid)?.alive !== true : !pidExists(pid);
}

/** Polls a condition (every 50 ms) until it holds. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  await pollFor(what, () => (cond() ? true : undefined), timeoutMs);
}

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Starts the server program in `host` on `port` and waits until it listens. */
export async function startServer(
  net: EmulatedNetwork,
  host: string,
  token: string,
  logFile: string,
  port = PORT,
): Promise<HostProcess> {
  const p = net.exec(host, [process.execPath, '-e', SERVER, net.ip(host), String(port), token], { logFile });
  let ended = false;
  void p.exited.then(() => {
    ended = true;
  });
  await waitFor(`the server in ${host} to listen (log ${logFile})`, () => {
    if (ended) throw new Error(`the server in ${host} exited before listening: ${readText(logFile)}`);
    return readText(logFile).includes('LISTENING');
  });
  return p;
}

/** Reads what a TCP server at ip:port sends, from this process. */
export function fetchToken(ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, ip);
    let d = '';
    s.setTimeout(10_000, () => s.destroy(new Error(`no answer from ${ip}:${port} within 10 s`)));
    s.on('data', (c) => {
      d += c;
    });
    s.on('end', () => resolve(d.trim()));
    s.on('error', reject);
  });
}

function registerTests(backend: ConformanceBackend): void {
  const spec = topology(0);
  let runsDir = '';
  const runIds: string[] = [];
  /** A new run id and directory, and the topology with the run's own subnet. */
  const newRun = () => {
    const runId = `conf${process.pid.toString(36)}${Math.random().toString(36).slice(2, 7)}`;
    runIds.push(runId);
    const runDir = join(runsDir, runId);
    mkdirSync(runDir, { recursive: true });
    return { runId, runDir, spec: topology(runIds.length - 1) };
  };
  let net: EmulatedNetwork | undefined;
  const shared = (): EmulatedNetwork => {
    if (!net) throw new Error('the shared network did not start (see the first failure)');
    return net;
  };

  before(async () => {
    runsDir = mkdtempSync(join(tmpdir(), 'mlfo-conformance-'));
    const run = newRun();
    net = await backend.start(run.spec, { runId: run.runId, runDir: run.runDir });
  });

  after(async () => {
    const problems: string[] = [];
    await net?.stop().catch((err: unknown) => problems.push(`stop: ${String(err)}`));
    for (const id of runIds) {
      await backend.clean(id, runsDir).catch((err: unknown) => {
        // a run whose stop() already removed everything may have nothing left to clean
        if (!/not found|no local run|stopped/.test(String(err))) problems.push(`clean ${id}: ${String(err)}`);
      });
    }
    rmSync(runsDir, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`cleanup: ${problems.join('; ')}`);
  });

  test('a TCP server in one host is reachable from another host and from this process', async () => {
    const n = shared();
    const dir = join(n.runDir, 'tcp-test');
    mkdirSync(dir, { recursive: true });
    const server = await startServer(n, 'h1', 'hello-from-h1', join(dir, 'server.log'));
    const clientLog = join(dir, 'client.log');
    const client = n.exec('h3', [process.execPath, '-e', CLIENT, n.ip('h1'), String(PORT)], {
      logFile: clientLog,
    });
    const { code } = await client.exited;
    assert.equal(code, 0, `client in h3 failed: ${readText(clientLog)}`);
    assert.match(readText(clientLog), /GOT hello-from-h1/);
    assert.equal(await fetchToken(n.ip('h1'), PORT), 'hello-from-h1');
    server.kill();
    await server.exited;
  });

  test('pingAll reaches every pair of hosts', async () => {
    const n = shared();
    const report = await n.pingAll({ count: 2 });
    const names = spec.hosts.map((h) => h.name);
    assert.deepEqual([...report.hosts].sort(), [...names].sort());
    assert.equal(report.sent, names.length * (names.length - 1) * 2);
    assert.equal(report.received, report.sent, JSON.stringify(report.lossy));
    assert.equal(report.lossPercent, 0);
    assert.deepEqual(report.lossy, []);
    for (const a of names)
      for (const b of names) if (a !== b) assert.equal(report.matrix[a]?.[b], 2, `${a} → ${b}`);
  });

  const iperfMissing = spawnable('iperf3') ? false : 'iperf3 not installed (apt-get install iperf3)';
  test('iperf between two hosts measures a throughput', { skip: iperfMissing }, async () => {
    const r = await shared().iperf('h1', 'h3', { seconds: 1 });
    assert.equal(r.from, 'h1');
    assert.equal(r.to, 'h3');
    assert.ok(r.mbps > 0, `mbps ${r.mbps}`);
    assert.ok(r.sentMbps > 0, `sentMbps ${r.sentMbps}`);
  });

  test('status() lists the hosts, their addresses and live processes', async () => {
    const n = shared();
    const logFile = join(n.runDir, 'status-sleeper.log');
    const p = n.exec('h2', [process.execPath, '-e', SLEEPER], { logFile });
    const st = n.status();
    assert.equal(st.backend, n.backend);
    assert.equal(st.runId, n.runId);
    assert.equal(st.phase, 'up');
    assert.deepEqual(
      st.hosts.map((h) => h.name),
      spec.hosts.map((h) => h.name),
    );
    for (const h of st.hosts) {
      assert.equal(h.ip.split('/')[0], n.ip(h.name), `status address of ${h.name}`);
      assert.equal(n.spec.hosts.find((s) => s.name === h.name)?.ip, h.ip, `spec address of ${h.name}`);
    }
    const listed = st.hosts.find((h) => h.name === 'h2')?.processes.find((q) => q.pid === p.pid);
    assert.ok(listed, `pid ${p.pid} not listed under h2: ${JSON.stringify(st.hosts)}`);
    assert.equal(listed.alive, true);
    p.kill('SIGKILL');
    await p.exited;
    const after = n
      .status()
      .hosts.find((h) => h.name === 'h2')
      ?.processes.find((q) => q.pid === p.pid);
    assert.equal(after?.alive, false);
  });

  test('ip() of an unknown host throws naming the hosts', () => {
    const n = shared();
    assert.throws(
      () => n.ip('no-such-host'),
      (err: Error) =>
        /no-such-host/.test(err.message) && spec.hosts.every((h) => err.message.includes(h.name)),
    );
  });

  test('attach() from the run directory sees the same hosts and processes; its stop() ends them', async () => {
    const run = newRun();
    const first = await backend.start(run.spec, { runId: run.runId, runDir: run.runDir });
    const p1 = first.exec('h2', [process.execPath, '-e', SLEEPER], { logFile: join(run.runDir, 'p1.log') });
    const attached = await backend.attach(run.runDir);
    assert.equal(attached.runId, run.runId);
    assert.equal(attached.backend, first.backend);
    assert.deepEqual(
      attached.spec.hosts.map((h) => [h.name, h.ip]),
      first.spec.hosts.map((h) => [h.name, h.ip]),
    );
    for (const h of spec.hosts) assert.equal(attached.ip(h.name), first.ip(h.name));
    const seen = attached
      .status()
      .hosts.find((h) => h.name === 'h2')
      ?.processes.find((q) => q.pid === p1.pid);
    assert.equal(seen?.alive, true, `attached status does not show pid ${p1.pid} alive`);
    const p2 = attached.exec('h3', [process.execPath, '-e', SLEEPER], {
      logFile: join(run.runDir, 'p2.log'),
    });
    assert.ok(
      first
        .status()
        .hosts.find((h) => h.name === 'h3')
        ?.processes.some((q) => q.pid === p2.pid),
    );
    await attached.stop();
    assert.ok(gone(p1.pid), `pid ${p1.pid} (started by the first instance) survived the attached stop()`);
    assert.ok(gone(p2.pid), `pid ${p2.pid} (started by the attached instance) survived its stop()`);
    await first.stop(); // the run is already down: must not fail
  });

  /** Runs this test file again as a starter process; resolves once it printed READY. */
  const starter = (mode: StarterJob['mode'], run: { runId: string; runDir: string; spec: TopologySpec }) => {
    const file = process.argv[1] as string;
    const child = spawn(
      process.execPath,
      [...process.execArgv.filter((a) => !a.startsWith('--test')), file],
      {
        env: { ...process.env, [STARTER_ENV]: JSON.stringify({ mode, ...run } satisfies StarterJob) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const ready = (async (): Promise<StarterReady> => {
      let done = false;
      void exited.then(() => {
        done = true;
      });
      await waitFor(
        'the starter to report READY',
        () => {
          if (/^READY /m.test(out)) return true;
          if (done) throw new Error(`the starter exited before READY: ${out}\n${err}`);
          return false;
        },
        60_000,
      );
      return JSON.parse(/^READY (.*)$/m.exec(out)?.[1] ?? '{}') as StarterReady;
    })();
    return { child, ready, exited, output: () => `${out}\n${err}` };
  };
  const noStarter =
    process.argv[1] && existsSync(process.argv[1])
      ? false
      : 'cannot tell which test file to run again as the starter process';

  test('a detached process outlives the process that started the network', { skip: noStarter }, async () => {
    const run = newRun();
    const s = starter('exit', run);
    const ready = await s.ready;
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      s.exited,
      new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), 30_000);
      }),
    ]);
    clearTimeout(timer);
    if (code === 'timeout') {
      s.child.kill('SIGKILL');
      assert.fail('the starter did not exit within 30 s: something it started keeps its event loop alive');
    }
    assert.equal(code, 0, s.output());
    assert.ok(!gone(ready.detached), `detached pid ${ready.detached} ended with its starter`);
    await waitFor('the detached server to listen', () => readText(ready.logFile).includes('LISTENING'));
    const attached = await backend.attach(run.runDir);
    assert.equal(await fetchToken(attached.ip('h1'), PORT), `detached-${run.runId}`);
    const seen = attached
      .status()
      .hosts.find((h) => h.name === 'h1')
      ?.processes.find((q) => q.pid === ready.detached);
    assert.equal(seen?.alive, true);
    await attached.stop();
    assert.ok(gone(ready.detached), `detached pid ${ready.detached} survived stop()`);
  });

  test('after the starter is killed (SIGKILL), clean(runId) leaves no process of the run', {
    skip: noStarter,
  }, async () => {
    const run = newRun();
    const s = starter('hang', run);
    const ready = await s.ready;
    s.child.kill('SIGKILL');
    await s.exited;
    const pids = [ready.detached, ready.bound ?? 0];
    for (const pid of pids) assert.ok(!gone(pid), `pid ${pid} ended with the killed starter, before clean`);
    await backend.clean(run.runId, runsDir);
    for (const pid of pids) assert.ok(gone(pid), `pid ${pid} survived clean(${run.runId})`);
    await assert.rejects(backend.attach(run.runDir), 'a cleaned run cannot be attached');
  });

  test('stop() twice is fine, and a stopped network starts nothing', async () => {
    const run = newRun();
    const n = await backend.start(run.spec, { runId: run.runId, runDir: run.runDir });
    const p = n.exec('h1', [process.execPath, '-e', SLEEPER], { logFile: join(n.runDir, 'sleeper.log') });
    const first = await n.stop();
    assert.ok(gone(p.pid), `pid ${p.pid} survived stop()`);
    const second = await n.stop();
    assert.deepEqual(second, first);
    assert.throws(() => n.exec('h1', [process.execPath, '-e', SLEEPER]), /stopped/);
  });
}

function spawnable(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, program)));
}
