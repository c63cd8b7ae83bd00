// The local backend's own behaviour, beyond the conformance suite: address mapping into 127.K
// blocks (collisions, blocks avoided because something listens there), two runs of one topology
// side by side, the notice and status of what is not emulated, unsupported operations, run state
// and topology.yaml, process groups and recycled pids, published ports, clean by run id, and
// Ctrl-C during start. Real processes and sockets throughout; every test removes what it made.
//
// Scenarios that need a process of their own re-run this file with MLFO_LOCAL_TEST_CHILD set.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { mlfoInventoryFromSpec } from '../../common/topology-spec/mlfo-inventory.ts';
import { seedTopology } from '../src/generators/seed.ts';
import { starTopology } from '../src/generators/star.ts';
import { claimsDirectory } from '../src/local/address-claims.ts';
import { FIRST_BLOCK } from '../src/local/address-map.ts';
import {
  attachLocalNetwork,
  cleanLocalRun,
  InterruptedError,
  listeningAddresses,
  mapAddresses,
  mappedSpec,
  readLocalState,
  startLocalNetwork,
} from '../src/local/index.ts';
import { pingAllPairs } from '../src/local/measure.ts';
import { type EmulatedNetwork, UnsupportedOperationError } from '../src/network.ts';
import { procStat } from '../src/proc.ts';
import { parseTopologyYaml } from '../../common/topology-spec/spec-yaml.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';
import { fetchToken, gone, readText, SLEEPER, startServer, waitFor } from './support/conformance.ts';

const CHILD_ENV = 'MLFO_LOCAL_TEST_CHILD';

interface ChildJob {
  scenario: 'interrupt' | 'exit-with-bound';
  runId: string;
  runDir: string;
  spec: TopologySpec;
}

const childJob = process.env[CHILD_ENV];
if (childJob !== undefined) void runChild(JSON.parse(childJob) as ChildJob);
else registerTests();

async function runChild(job: ChildJob): Promise<void> {
  if (job.scenario === 'interrupt') {
    // A real SIGINT to this process while the forwarder starts.
    try {
      await startLocalNetwork(job.spec, {
        runId: job.runId,
        runDir: job.runDir,
        log: () => undefined,
        onProgress: (step) => {
          if (step === 'published ports') process.kill(process.pid, 'SIGINT');
        },
      });
      process.stdout.write('RESULT {"error":"none"}\n');
    } catch (err) {
      const e = err as Error;
      process.stdout.write(`RESULT ${JSON.stringify({ error: e.name, message: e.message })}\n`);
    }
    return;
  }
  const net = await startLocalNetwork(job.spec, {
    runId: job.runId,
    runDir: job.runDir,
    log: () => undefined,
  });
  const bound = net.exec('h1', [process.execPath, '-e', SLEEPER]);
  const detached = net.exec('h2', [process.execPath, '-e', SLEEPER], { detached: true });
  process.stdout.write(`RESULT ${JSON.stringify({ bound: bound.pid, detached: detached.pid })}\n`);
  process.exit(0);
}

function registerTests(): void {
  const root = mkdtempSync(join(tmpdir(), 'mlfo-local-test-'));
  const runsDir = join(root, 'runs');
  const started: EmulatedNetwork[] = [];
  const runIds: string[] = [];
  const servers: Server[] = [];
  let counter = 0;

  const newRun = () => {
    const runId = `loc${process.pid.toString(36)}x${++counter}`;
    runIds.push(runId);
    return { runId, runDir: join(runsDir, runId) };
  };
  const start = async (spec: TopologySpec, opts: { publish?: boolean; log?: (m: string) => void } = {}) => {
    const run = newRun();
    const net = await startLocalNetwork(spec, { ...run, log: opts.log ?? (() => undefined), ...opts });
    started.push(net);
    return net;
  };
  const listen = (host: string, port = 0): Promise<Server> =>
    new Promise((resolve, reject) => {
      const s = createServer((c) => c.end());
      s.once('error', reject);
      s.listen(port, host, () => {
        servers.push(s);
        resolve(s);
      });
    });
  const portOf = (s: Server) => (s.address() as { port: number }).port;
  const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));
  /** A port on 127.0.0.1 that was free a moment ago. */
  const freePort = async () => {
    const s = await listen('127.0.0.1');
    const port = portOf(s);
    await close(s);
    return port;
  };

  after(async () => {
    for (const s of servers) s.close();
    for (const n of started) await n.stop().catch(() => undefined);
    for (const id of runIds) await cleanLocalRun(id, runsDir).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  test('maps every host to 127.K.c.d with its prefix; the MLFO inventory holds those addresses', () => {
    const spec = seedTopology();
    const map = mapAddresses(spec, 142);
    assert.equal(map.hosts['fc.10'], '127.142.1.10/16');
    assert.equal(map.hosts['cloud.0'], '127.142.0.1/16');
    assert.equal(map.hosts['fed.3'], '127.142.0.103/16');
    assert.deepEqual(map.fallback, []);
    const inventory = mlfoInventoryFromSpec(mappedSpec(spec, map));
    assert.equal(inventory.clientNet, '127.142.1');
    assert.ok(inventory.nodes.every((n) => n.address.startsWith('127.142.')));
    assert.throws(() => mapAddresses(spec, 99), /allowed an integer 100–199/);
  });

  test('hosts that differ only in the first two octets fall back to 127.K.250.x, skipping used addresses', () => {
    const spec: TopologySpec = {
      name: 'collide',
      hosts: [
        { name: 'a', ip: '10.0.1.5/16', role: 'plain' },
        { name: 'b', ip: '10.1.1.5/16', role: 'plain' },
        { name: 'c', ip: '10.2.1.5/16', role: 'plain' },
        { name: 'd', ip: '10.0.250.1/16', role: 'plain' },
      ],
      switches: [{ name: 's1' }, { name: 's2' }, { name: 's3' }],
      links: [
        { a: 'a', b: 's1' },
        { a: 'd', b: 's1' },
        { a: 'b', b: 's2' },
        { a: 'c', b: 's3' },
      ],
    };
    const map = mapAddresses(spec, 120);
    assert.deepEqual(map.hosts, {
      a: '127.120.1.5/16',
      d: '127.120.250.1/16',
      b: '127.120.250.2/16',
      c: '127.120.250.3/16',
    });
    assert.deepEqual(map.fallback, ['b', 'c']);
  });

  test('a started run with colliding hosts warns and serves at the fallback address', async () => {
    const spec: TopologySpec = {
      name: 'collide2',
      hosts: [
        { name: 'a', ip: '10.0.1.5/16', role: 'plain' },
        { name: 'b', ip: '10.1.1.5/16', role: 'plain' },
      ],
      switches: [{ name: 's1' }, { name: 's2' }],
      links: [
        { a: 'a', b: 's1' },
        { a: 'b', b: 's2' },
      ],
    };
    const net = await start(spec);
    const block = readLocalState(net.runDir)?.addresses?.block;
    assert.equal(net.ip('b'), `127.${block}.250.1`);
    assert.ok(net.status().warnings.some((w) => /fallback addresses: b 127\.\d+\.250\.1\/16/.test(w)));
    await startServer(net, 'b', 'from-b', join(net.runDir, 'b.log'), 7010);
    assert.equal(await fetchToken(net.ip('b'), 7010), 'from-b');
    await net.stop();
  });

  test('listeningAddresses sees a real listening socket, and no longer once it is closed', async () => {
    const s = await listen('127.123.45.67');
    assert.ok(listeningAddresses().has('127.123.45.67'));
    await close(s);
    assert.ok(!listeningAddresses().has('127.123.45.67'));
  });

  test('the block is chosen where nothing listens on a mapped address', async () => {
    // Something listens on 127.K.0.1 (h1's mapped address) for every K of 100–149.
    const blockers: Server[] = [];
    for (let k = FIRST_BLOCK; k < FIRST_BLOCK + 50; k++) blockers.push(await listen(`127.${k}.0.1`));
    try {
      const net = await start(starTopology(2, { name: 'avoid' }));
      const block = readLocalState(net.runDir)?.addresses?.block ?? 0;
      assert.ok(block >= FIRST_BLOCK + 50, `block ${block} has a listening socket on 127.${block}.0.1`);
      assert.equal(net.ip('h1'), `127.${block}.0.1`);
      await net.stop();
    } finally {
      for (const b of blockers) await close(b);
    }
  });

  test('two runs of one topology side by side: distinct blocks, the same port in both', async () => {
    const spec = starTopology(2, { name: 'twin' });
    const one = await start(spec);
    const two = await start(spec);
    assert.notEqual(one.ip('h1'), two.ip('h1'));
    await startServer(one, 'h1', 'run-one', join(one.runDir, 'server.log'), 7011);
    await startServer(two, 'h1', 'run-two', join(two.runDir, 'server.log'), 7011);
    assert.equal(await fetchToken(one.ip('h1'), 7011), 'run-one');
    assert.equal(await fetchToken(two.ip('h1'), 7011), 'run-two');
    const claims = readdirSync(claimsDirectory()).filter((f) => f.endsWith('.json'));
    for (const n of [one, two]) {
      const block = readLocalState(n.runDir)?.addresses?.block;
      assert.ok(claims.includes(`${block}.json`), `no claim of block ${block}`);
    }
    await one.stop();
    await two.stop();
    for (const n of [one, two]) {
      const claim = readLocalState(n.runDir)?.addresses?.claim ?? '';
      assert.ok(!existsSync(claim), `claim ${claim} left after stop()`);
    }
  });

  test('one notice says what is not emulated; status says unshaped, no delay, no cgroups', async () => {
    const logged: string[] = [];
    const spec = seedTopology({
      campuses: 1,
      clientsPerCampus: 2,
      cohorts: 1,
      edgePublishPort: await freePort(),
    });
    const net = await start(spec, { log: (m) => logged.push(m), publish: false });
    const notices = logged.filter((m) => m.startsWith('notice:'));
    assert.equal(notices.length, 1, logged.join('\n'));
    assert.match(
      notices[0] ?? '',
      /Not emulated: link bandwidth \(\d+ of \d+ links ask for it\), delay\/jitter\/loss \(2 links\), CPU\/memory limits \(3 hosts\)/,
    );
    const st = net.status();
    assert.equal(st.backend, 'local');
    assert.equal(st.netem, false);
    assert.equal(st.cgroups, 'none');
    assert.ok(st.links.length > 0);
    for (const l of st.links) {
      assert.equal(l.shaped, false);
      assert.equal(l.delayApplied, false);
    }
    assert.deepEqual(st.linksWithoutDelay, ['satsw11–aggsw10', 'swEdge12–satsw11']);
    assert.ok(st.hosts.every((h) => h.namespace === '' && Object.keys(h.limits).length === 0));
    assert.equal(net.netem, false);
    await net.stop();
  });

  test('without ping, a TCP attempt from the source address tells reachable pairs from unreachable ones', async () => {
    const hosts = [
      { name: 'a', ip: '127.131.0.1' },
      { name: 'b', ip: '127.131.0.2' },
      // not an address of this machine: nothing can be sent from it, nor reach it
      { name: 'x', ip: '192.0.2.1' },
    ];
    const r = await pingAllPairs(hosts, { method: 'tcp', count: 2, timeoutMs: 300 });
    assert.equal(r.matrix['a']?.['b'], 2);
    assert.equal(r.matrix['b']?.['a'], 2);
    assert.equal(r.matrix['x']?.['a'], 0);
    assert.equal(r.matrix['a']?.['x'], 0);
    assert.equal(r.sent, 12);
    assert.equal(r.received, 4);
    assert.deepEqual(
      r.lossy.map((l) => `${l.from}>${l.to}`),
      ['a>x', 'b>x', 'x>a', 'x>b'],
    );
  });

  test('iperf without iperf3 on PATH names the package to install', async () => {
    const net = await start(starTopology(2, { name: 'noiperf' }));
    const path = process.env.PATH;
    process.env.PATH = join(root, 'empty-path');
    try {
      await assert.rejects(
        net.iperf('h1', 'h2'),
        /iperf h1 → h2: iperf3 is not installed.*apt-get install iperf3/,
      );
    } finally {
      process.env.PATH = path;
    }
    await net.stop();
  });

  test('limit and setLink are unsupported, with the reason and the alternative', async () => {
    const net = await start(starTopology(2, { name: 'unsup' }));
    assert.throws(
      () => net.limit('h1', { cpus: 1 }),
      (err: Error) =>
        err instanceof UnsupportedOperationError &&
        err.message ===
          'limit (CPU/memory of host h1) is not available on the local backend: the local backend runs processes ' +
            'on loopback without shaping or cgroups; use the netns backend (Linux, root)',
    );
    await assert.rejects(
      net.setLink('h1', 's1', { bandwidthMbps: 10 }),
      (err: Error) =>
        err instanceof UnsupportedOperationError &&
        /setLink \(shaping of h1–s1\).*use the netns backend/.test(err.message),
    );
    await net.stop();
  });

  test('state.json and topology.yaml record the run: mapping, processes with start time and group', async () => {
    const net = await start(starTopology(3, { name: 'state' }));
    const p = net.exec('h2', [process.execPath, '-e', SLEEPER], { logFile: join(net.runDir, 'p.log') });
    const st = readLocalState(net.runDir);
    assert.ok(st);
    assert.equal(st.backend, 'local');
    assert.equal(st.version, 1);
    assert.equal(st.phase, 'up');
    assert.equal(st.ownerPid, process.pid);
    const block = st.addresses?.block;
    assert.deepEqual(st.addresses?.hosts, {
      h1: `127.${block}.0.1/16`,
      h2: `127.${block}.0.2/16`,
      h3: `127.${block}.0.3/16`,
    });
    assert.equal(st.addresses?.specHosts['h2'], '10.0.0.2/16');
    const rec = st.processes.find((r) => r.pid === p.pid);
    assert.ok(rec);
    assert.equal(rec.host, 'h2');
    assert.equal(rec.pgid, p.pid);
    assert.equal(rec.startTime, procStat(p.pid)?.startTime);
    assert.equal(procStat(p.pid)?.pgid, p.pid, 'the process leads its own group');
    const { spec } = parseTopologyYaml(readFileSync(join(net.runDir, 'topology.yaml'), 'utf8'));
    assert.deepEqual(
      spec.hosts.map((h) => h.ip),
      [`127.${block}.0.1/16`, `127.${block}.0.2/16`, `127.${block}.0.3/16`],
    );
    await net.stop();
    assert.equal(readLocalState(net.runDir)?.phase, 'stopped');
  });

  test('exec passes host env, opts.env, MLFO_HOST_NAME and MLFO_HOST_IP; run throws with stderr', async () => {
    const base = starTopology(2, { name: 'env' });
    const spec = {
      ...base,
      hosts: base.hosts.map((h) =>
        h.name === 'h2' ? { ...h, env: { FROM_SPEC: 'spec', BOTH: 'spec' } } : h,
      ),
    };
    const net = await start(spec);
    const logFile = join(net.runDir, 'env.log');
    const program =
      'const e = process.env; console.log([e.MLFO_HOST_NAME, e.MLFO_HOST_IP, e.FROM_SPEC, e.BOTH].join(" "))';
    const p = net.exec('h2', [process.execPath, '-e', program], { logFile, env: { BOTH: 'opts' } });
    assert.equal((await p.exited).code, 0);
    assert.equal(readText(logFile).trim(), `h2 ${net.ip('h2')} spec opts`);
    const ok = await net.run('h1', ['sh', '-c', 'echo "$MLFO_HOST_NAME $MLFO_HOST_IP"']);
    assert.equal(ok.stdout.trim(), `h1 ${net.ip('h1')}`);
    await assert.rejects(net.run('h1', ['sh', '-c', 'echo broken >&2; exit 3']), /exit 3[\s\S]*broken/);
    assert.throws(
      () => net.exec('h1', ['no-such-program-mlfo']),
      /no-such-program-mlfo is not an executable on PATH/,
    );
    await net.stop();
  });

  test("stop() ends an exec'd process together with the children it forked", async () => {
    const net = await start(starTopology(2, { name: 'group' }));
    const logFile = join(net.runDir, 'group.log');
    net.exec('h1', ['sh', '-c', 'sleep 300 & echo "CHILD $!"; wait'], { logFile });
    await waitFor('the forked child', () => /CHILD \d+/.test(readText(logFile)));
    const child = Number(/CHILD (\d+)/.exec(readText(logFile))?.[1]);
    assert.ok(!gone(child));
    const report = await net.stop();
    assert.ok(gone(child), `forked child ${child} survived stop()`);
    assert.ok((report.removed['processes'] ?? 0) >= 2, JSON.stringify(report));
  });

  test('clean never signals a recorded pid whose start time differs (a recycled pid)', async () => {
    const net = await start(starTopology(2, { name: 'recycle' }));
    const runDir = net.runDir;
    const runId = net.runId;
    // An unrelated process in a group of its own, recorded as if it were the run's with another start time.
    const stranger = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const pid = stranger.pid as number;
    try {
      const st = readLocalState(runDir);
      assert.ok(st);
      const real = procStat(pid)?.startTime ?? '0';
      st.processes.push({
        host: 'h1',
        pid,
        pgid: pid,
        startTime: String(Number(real) - 1),
        argv: ['sleep', '300'],
        logFile: join(runDir, 'x.log'),
        detached: true,
      });
      writeFileSync(join(runDir, 'state.json'), JSON.stringify(st));
      const report = await cleanLocalRun(runId, runsDir);
      assert.equal(report.removed['processes'], 0);
      assert.ok(!gone(pid), 'clean killed a process whose start time does not match its record');
      assert.equal(readLocalState(runDir)?.phase, 'stopped');
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  test('published ports are forwarded from 127.0.0.1; a taken port is a warning; stop ends the forwarder', async () => {
    const taken = await listen('127.0.0.1');
    const free = await freePort();
    const base = starTopology(2, { name: 'publish' });
    const spec: TopologySpec = {
      ...base,
      hosts: base.hosts.map((h) =>
        h.name === 'h1' ? { ...h, publish: { '7012': free } } : { ...h, publish: { '7012': portOf(taken) } },
      ),
    };
    const logged: string[] = [];
    const net = await start(spec, { log: (m) => logged.push(m) });
    const st = net.status();
    assert.deepEqual(st.published, [{ host: 'h1', port: 7012, hostPort: free }]);
    const warning = st.warnings.find((w) => w.includes(`127.0.0.1:${portOf(taken)}`));
    assert.ok(warning?.startsWith('h2:7012 not published'), st.warnings.join('\n'));
    assert.ok(logged.some((m) => m.includes(`127.0.0.1:${portOf(taken)}`)));
    await startServer(net, 'h1', 'published-h1', join(net.runDir, 'h1.log'), 7012);
    assert.equal(await fetchToken('127.0.0.1', free), 'published-h1');
    const forwarder = readLocalState(net.runDir)?.processes.find((p) => p.host === '(forwarder)');
    assert.ok(forwarder, 'forwarder not recorded');
    assert.ok(!gone(forwarder.pid));
    const report = await net.stop();
    assert.equal(report.removed['forwarders'], 1);
    assert.ok(gone(forwarder.pid), 'forwarder survived stop()');
  });

  test('publish: false starts no forwarder and says which ports are not published', async () => {
    const base = starTopology(1, { name: 'nopublish' });
    const port = await freePort();
    const net = await start(
      { ...base, hosts: base.hosts.map((h) => ({ ...h, publish: { '7013': port } })) },
      {
        publish: false,
      },
    );
    assert.deepEqual(net.status().published, []);
    assert.ok(
      net.status().warnings.includes(`ports not published (publish: false): h1:7013 as 127.0.0.1:${port}`),
    );
    assert.equal(readLocalState(net.runDir)?.processes.length, 0);
    await net.stop();
  });

  test('cleanLocalRun finds a run by id in the runs directory; unknown ids and netns states are refused', async () => {
    const net = await start(starTopology(2, { name: 'byid' }));
    const p = net.exec('h1', [process.execPath, '-e', SLEEPER], { detached: true });
    const report = await cleanLocalRun(net.runId, runsDir);
    assert.equal(report.removed['processes'], 1);
    assert.ok(gone(p.pid));
    await assert.rejects(attachLocalNetwork(net.runDir), /phase is 'stopped'/);
    await assert.rejects(cleanLocalRun('nosuchrun', runsDir), (err: Error) =>
      err.message.includes(join(runsDir, 'nosuchrun', 'state.json')),
    );
    await assert.rejects(cleanLocalRun('not a run!', runsDir), /neither a run directory nor a run id/);
    const foreign = join(root, 'foreign');
    mkdirSync(foreign, { recursive: true });
    writeFileSync(join(foreign, 'state.json'), JSON.stringify({ version: 1, runId: 'x', phase: 'up' }));
    await assert.rejects(cleanLocalRun(foreign), /belongs to the netns backend, not local/);
  });

  /** Runs this file again as a child in `scenario`; resolves with its RESULT line. */
  const child = async (scenario: ChildJob['scenario'], spec: TopologySpec) => {
    const run = newRun();
    const r = spawnSync(
      process.execPath,
      [...process.execArgv.filter((a) => !a.startsWith('--test')), process.argv[1] as string],
      {
        env: { ...process.env, [CHILD_ENV]: JSON.stringify({ scenario, spec, ...run } satisfies ChildJob) },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    const line = /^RESULT (.*)$/m.exec(r.stdout)?.[1];
    assert.ok(line, `child ${scenario} printed no RESULT (status ${r.status}): ${r.stdout}\n${r.stderr}`);
    return { run, result: JSON.parse(line) as Record<string, unknown> };
  };

  test('SIGINT during start ends what was started, releases the block and marks the run failed', async () => {
    const base = starTopology(2, { name: 'interrupt' });
    const port = await freePort();
    const spec = {
      ...base,
      hosts: base.hosts.map((h) => (h.name === 'h1' ? { ...h, publish: { '7014': port } } : h)),
    };
    const { run, result } = await child('interrupt', spec);
    assert.equal(result['error'], new InterruptedError('SIGINT').name, JSON.stringify(result));
    assert.match(String(result['message']), /interrupted by SIGINT/);
    const st = readLocalState(run.runDir);
    assert.equal(st?.phase, 'failed');
    for (const p of st?.processes ?? [])
      assert.ok(gone(p.pid), `pid ${p.pid} (${p.host}) survived the interrupt`);
    assert.ok(!existsSync(st?.addresses?.claim ?? ''), 'the block claim was not released');
  });

  test('a process not detached ends when the process that started it exits; a detached one does not', async () => {
    const { run, result } = await child('exit-with-bound', starTopology(2, { name: 'bound' }));
    const bound = Number(result['bound']);
    const detached = Number(result['detached']);
    await waitFor(`pid ${bound} (not detached) to end after its starter exited`, () => gone(bound));
    assert.ok(!gone(detached), `detached pid ${detached} ended with its starter`);
    await cleanLocalRun(run.runDir);
    assert.ok(gone(detached));
  });
}
