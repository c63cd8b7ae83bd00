// The netns backend's side of the EmulatedNetwork contract against the real kernel (as root):
// detached processes outliving their starter, the root access leg (both directions), the route
// overlap refusal, published ports through the forwarder, attaching from another process with
// recorded link shapes and limits, and cleanup after the starter is SIGKILLed. Every test uses its
// own run id and subnet (10.213–10.219) and removes what it made, even when it fails.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { FORWARDER_PATH } from '../src/forwarder.ts';
import type { EmulatedNetwork } from '../src/network.ts';
import { detectCgroups } from '../src/netns/cgroups.ts';
import { attachNetwork, cleanRun, type NetnsNetworkStatus, startNetwork } from '../src/netns/index.ts';
import { ROOT_HOST, type RunState } from '../src/netns/state.ts';
import { forwarderPids } from '../src/netns/teardown.ts';
import { procStat } from '../src/proc.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';
import { collect } from './support/collect-output.ts';
import { freePort } from '../../mlfo/test/support/redis.ts';
import { waitFor } from './support/wait.ts';
import { netnsLeftovers, netnsSkipReason } from './support/netns-leftovers.ts';
import { netnsRuns } from './support/netns-runs.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const INDEX_TS = new URL('../src/netns/index.ts', import.meta.url).pathname;

const skip = netnsSkipReason();
if (skip) console.log(`# netns contract tests skipped: ${skip}`);

const newRun = netnsRuns('c', skip);

/** Everything of the run still on the machine, its port forwarder included. */
function leftovers(runId: string, pids: number[] = []): string[] {
  return netnsLeftovers(runId, [...pids, ...forwarderPids(runId)]);
}

const alive = (pid: number) => procStat(pid)?.alive === true;

async function httpText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.text();
}

function readRunState(runDir: string): RunState {
  return JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as RunState;
}

const SERVER_JS = `
const http = require('node:http');
http.createServer((req, res) => res.end('alive ' + process.pid)).listen(Number(process.argv[2]), process.argv[3]);
`;
const ECHO_JS = `
require('node:net').createServer((s) => s.pipe(s)).listen(Number(process.argv[2]), process.argv[3]);
`;

/** Runs `body` (ES module code with startNetwork/attachNetwork in scope) in a child node process. */
function child(body: string): ChildProcess {
  const code = `import { startNetwork } from ${JSON.stringify(INDEX_TS)};\n${body}`;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

const exitOf = (c: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve(c.exitCode);
    else c.once('exit', (code) => resolve(code));
  });

const twoHosts = (subnet: string, extra: Partial<TopologySpec['hosts'][number]> = {}): TopologySpec => ({
  name: 'pair',
  hosts: [
    { name: 'h1', ip: `${subnet}.1/24`, role: 'plain', ...extra },
    { name: 'h2', ip: `${subnet}.2/24`, role: 'plain' },
  ],
  switches: [{ name: 's1' }],
  links: [
    { a: 'h1', b: 's1', bandwidthMbps: 100 },
    { a: 'h2', b: 's1', bandwidthMbps: 100 },
  ],
});

test('a detached process outlives its starter; stop() of an attached network ends it and its children, leaving nothing', {
  skip,
  timeout: 90_000,
}, async () => {
  const { runId, runDir } = newRun();
  const serverJs = join(runDir, 'server.cjs');
  writeFileSync(serverJs, SERVER_JS);
  const grandchildFile = join(runDir, 'grandchild.pid');
  const starter = child(`
    const net = await startNetwork(${JSON.stringify(twoHosts('10.213.0'))}, {
      runId: ${JSON.stringify(runId)}, runDir: ${JSON.stringify(runDir)}, log: () => {}, publish: false });
    // its child leaves the host's namespace (to the test's) and it has no cgroup: only its session ties it to the run
    const p = net.exec('h1', ['sh', '-c',
      'nsenter --net=/proc/${process.pid}/ns/net sleep 600 & echo $! > "$1"; exec "$2" "$3" 8080 10.213.0.1', 'sh',
      ${JSON.stringify(grandchildFile)}, process.execPath, ${JSON.stringify(serverJs)}], { detached: true, cgroup: false });
    console.log('PID ' + p.pid);
  `);
  let net: EmulatedNetwork | undefined;
  try {
    const out = await collect(starter);
    assert.equal(await exitOf(starter), 0, `the starter exits by itself: ${out}`);
    const pid = Number(/PID (\d+)/.exec(out)?.[1]);
    assert.ok(pid > 0, out);
    // Reached through the root access leg after the process that started it is gone.
    const body = await waitFor('server in h1', () => httpText('http://10.213.0.1:8080/'));
    assert.equal(body, `alive ${pid}`);
    const grandchild = Number(readFileSync(grandchildFile, 'utf8'));
    assert.ok(alive(pid) && alive(grandchild), 'the detached process and its child run');
    assert.equal(procStat(pid)?.session, pid, 'it leads its own session');
    assert.equal(
      readlinkSync(`/proc/${grandchild}/ns/net`),
      readlinkSync(`/proc/${process.pid}/ns/net`),
      'the child left the host namespace',
    );

    net = await attachNetwork(runDir);
    const h1 = net.status().hosts.find((h) => h.name === 'h1');
    assert.deepEqual(
      h1?.processes.map((p) => [p.pid, p.alive]),
      [[pid, true]],
    );
    const report = await net.stop();
    assert.deepEqual(report.failures, []);
    assert.ok(!alive(pid) && !alive(grandchild), 'stop() ended the process and the one it spawned');
    assert.deepEqual(leftovers(runId, [pid, grandchild]), []);
    assert.equal(readRunState(runDir).phase, 'stopped');
    await assert.rejects(attachNetwork(runDir), /phase is 'stopped'.*mlfo-topo clean --run/s);
  } finally {
    if (starter.exitCode === null && starter.signalCode === null) starter.kill('SIGKILL');
    await net?.stop().catch(() => undefined);
  }
});

test('kill() of a detached process ends its process group', { skip, timeout: 60_000 }, async () => {
  const { runId, runDir } = newRun();
  let net: EmulatedNetwork | undefined;
  try {
    net = await startNetwork(twoHosts('10.219.1'), { runId, runDir, log: () => undefined, publish: false });
    const pidFile = join(runDir, 'sleep.pid');
    const proc = net.exec('h1', ['sh', '-c', 'sleep 600 & echo $! > "$1"; wait', 'sh', pidFile], {
      detached: true,
    });
    const sleeper = await waitFor('the child pid', async () => {
      const text = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '';
      return text ? Number(text) : undefined;
    });
    assert.ok(alive(sleeper));
    proc.kill();
    // a detached process's `exited` does not hold the event loop open: the test holds it
    const hold = setInterval(() => undefined, 1000);
    try {
      assert.equal((await proc.exited).signal, 'SIGTERM');
    } finally {
      clearInterval(hold);
    }
    await waitFor('the child to end', async () => (alive(sleeper) ? undefined : true), 5000);
    await net.stop();
    assert.deepEqual(leftovers(runId, [proc.pid, sleeper]), []);
  } finally {
    await net?.stop().catch(() => undefined);
  }
});

test('root access leg: this machine reaches a host at its spec address, a host reaches this machine at the leg address', {
  skip,
  timeout: 60_000,
}, async () => {
  const { runId, runDir } = newRun();
  const serverJs = join(runDir, 'server.cjs');
  writeFileSync(serverJs, SERVER_JS);
  let net: EmulatedNetwork | undefined;
  const local = createHttpServer((req, res) => res.end(`seen ${req.socket.remoteAddress}`));
  try {
    net = await startNetwork(twoHosts('10.214.0'), { runId, runDir, log: () => undefined });
    const st = net.status() as NetnsNetworkStatus;
    assert.equal(st.backend, 'netns');
    assert.deepEqual(
      st.hosts.map((h) => h.role),
      ['plain', 'plain'],
    );
    assert.ok(st.links.every((l) => l.shaped));
    assert.deepEqual(st.rootAccess && { address: st.rootAccess.address, switch: st.rootAccess.switch }, {
      address: '10.214.0.254/24',
      switch: 's1',
    });
    const proc = net.exec('h2', [process.execPath, serverJs, '8081', '10.214.0.2']);
    assert.equal(
      await waitFor('server in h2', () => httpText('http://10.214.0.2:8081/')),
      `alive ${proc.pid}`,
    );

    await new Promise<void>((resolve) => local.listen(0, '10.214.0.254', resolve));
    const port = (local.address() as { port: number }).port;
    const { stdout } = await net.run('h1', [
      process.execPath,
      '-e',
      'fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t))',
      `http://10.214.0.254:${port}/`,
    ]);
    assert.equal(stdout, 'seen 10.214.0.1');
    await new Promise((r) => local.close(r));
    await net.stop();
    assert.deepEqual(leftovers(runId, [proc.pid]), []);
  } finally {
    local.close();
    await net?.stop().catch(() => undefined);
  }
});

test('a subnet that overlaps a route of this machine is refused before anything is created', {
  skip,
  timeout: 60_000,
}, async () => {
  const first = newRun();
  const second = newRun();
  let a: EmulatedNetwork | undefined;
  let b: EmulatedNetwork | undefined;
  try {
    a = await startNetwork(twoHosts('10.215.0'), { ...first, log: () => undefined, publish: false });
    const leg = (a.status() as NetnsNetworkStatus).rootAccess?.interface;
    assert.ok(leg);
    const clash: TopologySpec = {
      ...twoHosts('10.215.0'),
      hosts: [
        { name: 'x1', ip: '10.215.0.11/24', role: 'plain' },
        { name: 'x2', ip: '10.215.0.12/24', role: 'plain' },
      ],
      links: [
        { a: 'x1', b: 's1' },
        { a: 'x2', b: 's1' },
      ],
    };
    await assert.rejects(startNetwork(clash, { ...second, log: () => undefined }), (err: Error) => {
      assert.match(err.message, new RegExp(`route 10\\.215\\.0\\.0/24 dev ${leg}`));
      assert.match(err.message, /Nothing was created/);
      assert.match(err.message, /another prefix\/addressing.*rootAccess: false/);
      return true;
    });
    assert.deepEqual(leftovers(second.runId), []);
    assert.equal(existsSync(join(second.runDir, 'state.json')), false);
    assert.equal(existsSync(join(second.runDir, 'topology.yaml')), false);

    b = await startNetwork(clash, { ...second, rootAccess: false, log: () => undefined });
    const st = b.status() as NetnsNetworkStatus;
    assert.equal(st.rootAccess, null);
    assert.match(st.warnings.join('\n'), /no root access leg \(rootAccess: false\)/);
    assert.equal((await b.pingAll()).lossPercent, 0);
    await b.stop();
    await a.stop();
    assert.deepEqual([...leftovers(first.runId), ...leftovers(second.runId)], []);
  } finally {
    await b?.stop().catch(() => undefined);
    await a?.stop().catch(() => undefined);
  }
});

test('published ports: a real TCP connection through 127.0.0.1:<hostPort>; a taken port is a warning', {
  skip,
  timeout: 60_000,
}, async () => {
  const { runId, runDir } = newRun();
  const echoJs = join(runDir, 'echo.cjs');
  writeFileSync(echoJs, ECHO_JS);
  const freeHostPort = await freePort();
  const taken: Server = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const takenPort = (taken.address() as { port: number }).port;
  let net: EmulatedNetwork | undefined;
  try {
    const spec = twoHosts('10.216.0', { publish: { '7000': freeHostPort, '7001': takenPort } });
    net = await startNetwork(spec, { runId, runDir, log: () => undefined });
    const st = net.status();
    assert.deepEqual(st.published, [{ host: 'h1', port: 7000, hostPort: freeHostPort }]);
    assert.match(
      st.warnings.join('\n'),
      new RegExp(`h1:7001 not published: 127\\.0\\.0\\.1:${takenPort} is not free`),
    );
    const forwarder = readRunState(runDir).processes.find((p) => p.host === ROOT_HOST);
    assert.ok(forwarder && alive(forwarder.pid), 'the forwarder runs');
    assert.ok(forwarder.argv.includes(FORWARDER_PATH));

    net.exec('h1', [process.execPath, echoJs, '7000', '10.216.0.1']);
    const payload = Buffer.alloc(1 << 20, 'mlfo-');
    const echoed = await waitFor('echo through the forwarder', () => echo(freeHostPort, payload));
    assert.equal(echoed.length, payload.length);
    assert.ok(echoed.equals(payload), '1 MiB came back unchanged');

    await net.stop();
    assert.ok(!alive(forwarder.pid), 'stop() ended the forwarder');
    await assert.rejects(echo(freeHostPort, Buffer.from('x')), /ECONNREFUSED/);
    assert.deepEqual(leftovers(runId), []);
  } finally {
    taken.close();
    await net?.stop().catch(() => undefined);
  }
});

/** Sends `data`, half-closes, resolves with everything read back; rejects when nothing comes back. */
function echo(port: number, data: Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => {
      const got = Buffer.concat(chunks);
      resolve(got.length > 0 ? got : undefined);
    });
    s.end(data);
  });
}

test('attached instances: setLink and limit of one are in the others status(), none loses the other changes', {
  skip,
  timeout: 60_000,
}, async () => {
  const { runId, runDir } = newRun();
  let starter: EmulatedNetwork | undefined;
  try {
    starter = await startNetwork(twoHosts('10.217.0'), {
      runId,
      runDir,
      log: () => undefined,
      publish: false,
    });
    const a = await attachNetwork(runDir);
    const b = await attachNetwork(runDir);
    await a.setLink('h1', 's1', { bandwidthMbps: 20 });
    // b was attached before a's change and changes another link: both must survive
    await b.setLink('h2', 's1', { ab: { bandwidthMbps: 30 } });
    a.limit('h1', { cpus: 0.3 });

    const c = await attachNetwork(runDir);
    const shapes = (n: EmulatedNetwork) => n.status().links.map((l) => [l.a, l.ab, l.ba]);
    const want = [
      ['h1', { bandwidthMbps: 20 }, { bandwidthMbps: 20 }],
      ['h2', { bandwidthMbps: 30 }, { bandwidthMbps: 100 }],
    ];
    assert.deepEqual(shapes(c), want);
    assert.deepEqual(shapes(b), want);
    assert.deepEqual(shapes(starter), want);
    assert.deepEqual(c.status().hosts.find((h) => h.name === 'h1')?.limits, { cpus: 0.3 });
    // the recorded state is what the kernel has
    const { stdout } = await c.run('h1', ['tc', 'class', 'show', 'dev', 'h1-eth0']);
    assert.match(stdout, /rate 20Mbit/);
    const layout = detectCgroups();
    if (layout?.cpu && layout.version === 1) {
      const quota = readFileSync(join(layout.cpu, `mlfo-${runId}`, 'h1', 'cpu.cfs_quota_us'), 'utf8').trim();
      assert.equal(quota, '30000');
    }
    // b changes h1–s1 again from its (refreshed) view: only the b→a direction
    await b.setLink('h1', 's1', { ba: { bandwidthMbps: 50 } });
    assert.deepEqual(c.status().links[0]?.ab, { bandwidthMbps: 20 });
    assert.deepEqual(c.status().links[0]?.ba, { bandwidthMbps: 50 });

    const report = await c.stop();
    assert.deepEqual(report.failures, []);
    assert.deepEqual(leftovers(runId), []);
    assert.equal(starter.status().phase, 'stopped');
    assert.deepEqual((await starter.stop()).failures, [], 'stop() after another instance stopped it');
  } finally {
    await starter?.stop().catch(() => undefined);
  }
});

test('starter SIGKILLed: attach refuses a run that is not up; cleanRun removes the leg and the forwarder', {
  skip,
  timeout: 90_000,
}, async () => {
  for (const how of ['mid-start, by run directory', 'after up, by bare run id'] as const) {
    const { runId, runDir } = newRun();
    const hostPort = await freePort();
    const spec = twoHosts(how.startsWith('mid') ? '10.218.0' : '10.219.0', { publish: { '80': hostPort } });
    const hang = 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000)';
    const starter = child(`
      const opts = { runId: ${JSON.stringify(runId)}, runDir: ${JSON.stringify(runDir)}, log: () => {},
        onProgress: (step) => { if (step === 'up' && ${how.startsWith('mid')}) { console.log('HANG'); ${hang}; } } };
      await startNetwork(${JSON.stringify(spec)}, opts);
      console.log('HANG');
      ${hang};
    `);
    try {
      await collect(starter, /HANG/);
      const state = readRunState(runDir);
      assert.equal(state.phase, how.startsWith('mid') ? 'starting' : 'up', how);
      const forwarder = state.processes.find((p) => p.host === ROOT_HOST);
      const leg = state.rootAccess?.ifname;
      assert.ok(forwarder && leg, `${how}: forwarder and leg recorded`);
      starter.kill('SIGKILL');
      await exitOf(starter);
      assert.ok(alive(forwarder.pid), `${how}: the forwarder outlives its starter`);
      assert.equal(spawnSync('ip', ['link', 'show', 'dev', leg]).status, 0, `${how}: leg exists`);
      if (how.startsWith('mid')) {
        await assert.rejects(attachNetwork(runDir), /phase is 'starting'.*mlfo-topo clean --run/s);
        assert.deepEqual((await cleanRun(runDir)).failures, []);
      } else {
        rmSync(join(runDir, 'state.json'));
        assert.deepEqual((await cleanRun(runId)).failures, []);
      }
      assert.ok(!alive(forwarder.pid), `${how}: forwarder ended`);
      assert.notEqual(spawnSync('ip', ['link', 'show', 'dev', leg]).status, 0, `${how}: leg removed`);
      assert.deepEqual(leftovers(runId), [], how);
    } finally {
      if (starter.exitCode === null && starter.signalCode === null) starter.kill('SIGKILL');
    }
  }
});
