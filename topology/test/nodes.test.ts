// Node programs by role (topology/src/nodes): the plan as data; the traffic agent as real processes
// on a loopback address (latency probes, paced bulk flow, iperf3 client, a sink that restarts);
// and startNodePrograms on every emulation backend present (netns as root; local once it exists):
// all programs healthy, an intent through the edge MLFO to `completed`, traffic metrics growing,
// start failures (a taken port, a bad flag, an abort) that leave none of the call's processes,
// and stop() ending every process. Each test uses its own run id, addresses and directories.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmulation } from '../src/backend.ts';
import type { BackendName } from '../src/backend.ts';
import type { EmulatedNetwork } from '../src/network.ts';
import {
  findExecutable,
  logTail,
  NodeProgramError,
  NodeProgramsAbortedError,
  nodeProgramsHealth,
  type StartedNodePrograms,
  startNodePrograms,
} from '../src/nodes/index.ts';
import { launchArgv, mlfoPrefix, planPrograms, REPO_ROOT } from '../src/nodes/programs.ts';
import { TopologyBuilder } from '../src/spec/builder.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';

const CATALOG = join(REPO_ROOT, 'intents', 'catalog.digits.yaml');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `mlfo-nodes-${name}-`));
  dirs.push(d);
  return d;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last: ${(last as Error).message})` : ''}`);
}

/** Sum of the samples of `name` whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

async function metrics(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
  assert.equal(r.status, 200);
  return r.text();
}

/** A /24 of private addresses for this test process (other test processes pick others). */
const NET = `10.${140 + (process.pid % 60)}.${(process.pid >> 6) % 250}`;

function testSpec(net: string): TopologySpec {
  const ip = (n: number) => `${net}.${n}/24`;
  return new TopologyBuilder('nodes-test')
    .addSwitch('s1')
    .addHost('cloud', { ip: ip(1), role: 'mlfo-cloud' })
    .addHost('edge', { ip: ip(2), role: 'mlfo-edge', parent: 'cloud' })
    .addHost('srv', { ip: ip(101), role: 'fl-server' })
    .addHost('c1', { ip: ip(10), role: 'fl-client' })
    .addHost('c2', { ip: ip(11), role: 'fl-client' })
    .addHost('sink', { ip: ip(20), role: 'traffic-sink' })
    .addHost('src', { ip: ip(21), role: 'traffic-source', traffic: { to: 'sink', rateMbps: 20 } })
    .addHost('prom', { ip: ip(30), role: 'prometheus' })
    .addHost('other', { ip: ip(40), role: 'plain' })
    .addLink('cloud', 's1')
    .addLink('edge', 's1')
    .addLink('srv', 's1')
    .addLink('c1', 's1')
    .addLink('c2', 's1')
    .addLink('sink', 's1')
    .addLink('src', 's1')
    .addLink('prom', 's1')
    .addLink('other', 's1')
    .build();
}

describe('the plan of node programs', () => {
  const spec = testSpec('10.9.9');
  const ip = (h: string) => spec.hosts.find((x) => x.name === h)!.ip.replace(/\/.*/, '');
  const base = {
    spec,
    ip,
    runId: 'r1',
    runDir: '/runs/r1',
    catalog: '/repo/intents/catalog.yaml',
    dataDir: '/repo/data',
    redis: { socket: '/runs/r1/redis.sock', binary: '/usr/bin/redis-server' },
  };

  it('orders stages, uses absolute programs and one Redis socket for every MLFO', () => {
    const plan = planPrograms({ ...base, iperf3: '/usr/bin/iperf3', prometheus: '/usr/bin/prometheus' });
    assert.deepEqual(
      plan.map((p) => `${p.stage}:${p.host}:${p.program}`),
      [
        'redis:cloud:redis-server',
        'mlfo-cloud:cloud:mlfo',
        'mlfo-edge:edge:mlfo',
        'adapters:srv:flower-adapter',
        'adapters:c1:flower-adapter',
        'adapters:c2:flower-adapter',
        'traffic-sink:sink:iperf3',
        'traffic-sink:sink:traffic-agent',
        'traffic-source:src:traffic-agent',
        'prometheus:prom:prometheus',
      ],
    );
    for (const p of plan) assert.ok(p.argv[0]!.startsWith('/'), `${p.program}: ${p.argv[0]}`);
    const edge = plan.find((p) => p.host === 'edge')!;
    const flag = (argv: string[], f: string) => argv[argv.indexOf(f) + 1];
    assert.equal(flag(edge.argv, '--parent'), '10.9.9.1:9000');
    assert.equal(flag(edge.argv, '--redis'), '/runs/r1/redis.sock');
    assert.equal(flag(edge.argv, '--inventory'), '/runs/r1/topology.yaml');
    assert.equal(flag(edge.argv, '--prefix'), 'mlfo-r1-edge');
    assert.equal(edge.url, 'http://10.9.9.2:8000');
    const src = plan.find((p) => p.host === 'src')!;
    assert.equal(flag(src.argv, '--peer'), '10.9.9.20');
    assert.equal(flag(src.argv, '--bulk'), 'iperf3');
    assert.deepEqual(plan.find((p) => p.program === 'prometheus')!.probe, {
      kind: 'http',
      url: 'http://10.9.9.30:9090/-/ready',
    });
  });

  it('honours roles, an external Redis, a moved port, and the built-in generator without iperf3', () => {
    const moved = structuredClone(spec);
    moved.hosts.find((h) => h.name === 'cloud')!.env = { MLFO_MOMO_PORT: '9100' };
    const plan = planPrograms({
      ...base,
      spec: moved,
      roles: ['mlfo-edge', 'traffic-source'],
      redisUrl: 'redis://10.9.9.1:6379',
    });
    assert.deepEqual(
      plan.map((p) => `${p.host}:${p.program}`),
      ['edge:mlfo', 'src:traffic-agent'],
    );
    const edge = plan[0]!.argv;
    assert.equal(edge[edge.indexOf('--parent') + 1], '10.9.9.1:9100');
    assert.equal(edge[edge.indexOf('--redis') + 1], 'redis://10.9.9.1:6379');
    const src = plan[1]!.argv;
    assert.equal(src[src.indexOf('--bulk') + 1], 'builtin');
  });

  it('keeps MLFO key prefixes within what the MLFO accepts', () => {
    assert.equal(mlfoPrefix('run1', 'mo.1'), 'mlfo-run1-mo.1');
    const long = mlfoPrefix('r'.repeat(48), 'a-very-long-host-name.example');
    assert.ok(long.length <= 64 && /^[A-Za-z0-9_.-]+$/.test(long), long);
    assert.equal(long, mlfoPrefix('r'.repeat(48), 'a-very-long-host-name.example'));
    assert.notEqual(long, mlfoPrefix('r'.repeat(48), 'a-very-long-host-name.example2'));
  });

  it('reads the tail of a log and finds executables', () => {
    const d = tempDir('tail');
    const f = join(d, 'x.log');
    spawnSync('sh', ['-c', `seq 1 100 > ${f}`]);
    assert.deepEqual(logTail(f, 3), ['98', '99', '100']);
    assert.deepEqual(logTail(join(d, 'missing.log')), []);
    assert.equal(findExecutable('sh', '/nonexistent:/bin'), '/bin/sh');
    assert.equal(findExecutable('no-such-program-here', '/bin:/usr/bin'), undefined);
  });
});

describe('the traffic agent (real processes on a loopback address)', () => {
  const host = `127.${200 + (process.pid % 50)}.${(process.pid >> 6) % 250}.7`;
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  const agentArgs = (role: string, metricsPort: number, extra: string[] = []) => [
    '--role',
    role,
    '--node-id',
    role,
    '--host',
    host,
    '--metrics-port',
    String(metricsPort),
    '--echo-port',
    '19403',
    '--discard-port',
    '19404',
    ...extra,
  ];
  function run(argv: string[]): ChildProcess & { output: () => string } {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    c.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    children.push(c);
    return Object.assign(c, { output: () => out });
  }
  async function stopChild(c: ChildProcess): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await gone;
  }
  const sinkMetrics = `http://${host}:19402/metrics`;
  const sourceMetrics = `http://${host}:19412/metrics`;
  const startSink = async () => {
    const c = run(launchArgv('topology/src/nodes/traffic-agent.ts', agentArgs('sink', 19402)));
    await until('sink metrics', 30_000, async () => ((await fetch(sinkMetrics)).ok ? true : undefined));
    return c;
  };

  it('probes latency and paces the built-in bulk flow; survives the sink restarting', async () => {
    let sink = await startSink();
    const source = run(
      launchArgv(
        'topology/src/nodes/traffic-agent.ts',
        agentArgs('source', 19412, ['--peer', host, '--rate-mbps', '16', '--bulk', 'builtin']),
      ),
    );
    await until('latency observations', 30_000, async () =>
      sample(await metrics(sourceMetrics), 'mlfo_app_request_duration_seconds_count') >= 2 ? true : undefined,
    );
    const t0 = Date.now();
    const s0 = await metrics(sinkMetrics);
    await sleep(3000);
    const s1 = await metrics(sinkMetrics);
    const seconds = (Date.now() - t0) / 1000;
    const rateMbps =
      ((sample(s1, 'mlfo_app_bytes_received_total', { flow: 'bulk' }) -
        sample(s0, 'mlfo_app_bytes_received_total', { flow: 'bulk' })) *
        8) /
      1e6 /
      seconds;
    assert.ok(rateMbps > 16 * 0.8 && rateMbps < 16 * 1.2, `bulk ${rateMbps.toFixed(2)} Mbit/s, paced at 16`);
    assert.ok(sample(s1, 'mlfo_app_bytes_received_total', { flow: 'echo' }) > 0);
    assert.ok(sample(s1, 'node_network_receive_bytes_total', { device: 'lo' }) > 0);
    assert.match(s1, /# HELP mlfo_app_request_duration_seconds .+/);

    await stopChild(sink);
    await until('the source notices the sink is gone', 15_000, async () =>
      sample(await metrics(sourceMetrics), 'mlfo_app_requests_total', { outcome: 'error' }) +
        sample(await metrics(sourceMetrics), 'mlfo_app_requests_total', { outcome: 'timeout' }) >
      0
        ? true
        : undefined,
    );
    const before = sample(await metrics(sourceMetrics), 'mlfo_app_request_duration_seconds_count');
    sink = await startSink();
    const text = await until('probes and bulk flow resume', 30_000, async () => {
      const t = await metrics(sourceMetrics);
      return sample(t, 'mlfo_app_request_duration_seconds_count') > before &&
        sample(t, 'mlfo_app_bulk_starts_total', { generator: 'builtin' }) >= 2
        ? t
        : undefined;
    });
    assert.ok(sample(text, 'mlfo_app_bulk_starts_total', { generator: 'builtin' }) >= 2);
    await stopChild(source);
    await stopChild(sink);
    assert.equal(source.exitCode, 0, source.output());
  });

  it('restarts its iperf3 client when the iperf3 server goes away and comes back', {
    skip: findExecutable('iperf3') ? false : 'iperf3 not installed',
  }, async () => {
    const server = () =>
      run(['iperf3', '-s', '-B', host, '-p', '19405', '--forceflush']) as ReturnType<typeof run>;
    const sink = await startSink();
    let iperf = server();
    await until('iperf3 server', 10_000, async () =>
      /Server listening/.test(iperf.output()) ? true : undefined,
    );
    const source = run(
      launchArgv(
        'topology/src/nodes/traffic-agent.ts',
        agentArgs('source', 19412, [
          '--peer',
          host,
          '--rate-mbps',
          '8',
          '--bulk',
          'iperf3',
          '--iperf3',
          findExecutable('iperf3')!,
          '--iperf3-port',
          '19405',
        ]),
      ),
    );
    await until('the iperf3 client connects', 30_000, async () =>
      /Accepted connection from/.test(iperf.output()) ? true : undefined,
    );
    await stopChild(iperf);
    iperf = server();
    await until('a new iperf3 client connects to the restarted server', 30_000, async () =>
      /Accepted connection from/.test(iperf.output()) ? true : undefined,
    );
    const t = await metrics(sourceMetrics);
    assert.ok(sample(t, 'mlfo_app_bulk_starts_total', { generator: 'iperf3' }) >= 2, t);
    await stopChild(source);
    // the agent ends its iperf3 client when it stops: the server sees the test end
    await until('the iperf3 client ends with the agent', 10_000, async () =>
      /iperf3: the client has terminated|Server listening on 19405 \(test #2\)/.test(iperf.output())
        ? true
        : undefined,
    );
    await stopChild(iperf);
    await stopChild(sink);
  });
});

// ---------------------------------------------------------------------------------------------
// startNodePrograms on every backend

function backendSkip(backend: BackendName): string | false {
  if (backend === 'netns') {
    if (process.platform !== 'linux') return 'the netns backend needs Linux';
    if (process.getuid?.() !== 0) return 'the netns backend needs root (namespaces, veths, bridges)';
  }
  if (backend === 'local' && !existsSync(join(REPO_ROOT, 'topology', 'src', 'local', 'index.ts'))) {
    return 'the local backend (topology/src/local/index.ts) is not there yet';
  }
  if (!findExecutable('redis-server')) return 'redis-server is not installed (apt-get install redis-server)';
  return false;
}

/** Processes of the run's hosts that are still alive, except `keep`. */
function aliveProcesses(net: EmulatedNetwork, keep: number[] = []): string[] {
  return net
    .status()
    .hosts.flatMap((h) =>
      h.processes
        .filter((p) => p.alive && !keep.includes(p.pid))
        .map((p) => `${h.name}:${p.pid} ${p.argv.join(' ')}`),
    );
}

for (const backend of ['netns', 'local'] as const) {
  const skip = backendSkip(backend);
  if (skip) console.log(`# startNodePrograms on ${backend} skipped: ${skip}`);
  describe(`startNodePrograms on the ${backend} backend`, { skip, timeout: 600_000 }, () => {
    let net: EmulatedNetwork | undefined;
    let programs: StartedNodePrograms | undefined;
    const notices: string[] = [];
    const runId = `n${process.pid}${backend.slice(0, 1)}${Math.random().toString(36).slice(2, 6)}`;
    let runDir = '';

    before(async () => {
      runDir = tempDir(runId);
      net = await startEmulation(testSpec(backend === 'netns' ? NET : `10.${(process.pid % 60) + 80}.3`), {
        backend,
        runId,
        runDir,
        log: () => undefined,
      });
    });
    after(async () => {
      await programs?.stop();
      await net?.stop();
    });

    it('a program that exits on a bad flag fails at once with its log tail, and Redis is stopped too', async () => {
      const t0 = Date.now();
      const err = await startNodePrograms(net!, {
        roles: ['mlfo-cloud'],
        catalog: CATALOG,
        mlfoArgs: ['--no-such-flag', 'x'],
        log: () => undefined,
      }).then(
        () => assert.fail('started with a bad flag'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof NodeProgramError, String(err));
      assert.equal(err.host, 'cloud');
      assert.equal(err.program, 'mlfo');
      assert.match(err.message, /mlfo on host cloud .*exited with code 2 before http:\/\/.+:8000\/healthz/);
      assert.ok(
        err.logTail.some((l) => /no-such-flag/.test(l)),
        err.message,
      );
      assert.match(err.message, /program\(s\) this start had launched were stopped/);
      assert.ok(Date.now() - t0 < 60_000, `failed after ${Date.now() - t0} ms, not at once`);
      assert.deepEqual(aliveProcesses(net!), []);
      assert.equal(existsSync(join(runDir, 'redis.sock')), false, 'Redis removed its socket when stopped');
    });

    it('a port already taken fails naming host, program and what was awaited; nothing of the call is left', async () => {
      const sinkIp = net!.ip('sink');
      const blocker = net!.exec('sink', [
        process.execPath,
        '-e',
        `require('net').createServer().listen(9102, ${JSON.stringify(sinkIp)}, () => console.log('blocker listening'))`,
      ]);
      try {
        await until('the blocker listens', 15_000, async () =>
          logTail(blocker.logFile, 50).some((l) => l === 'blocker listening') ? true : undefined,
        );
        const err = await startNodePrograms(net!, { roles: ['traffic-sink'], log: () => undefined }).then(
          () => assert.fail('started on a taken port'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof NodeProgramError, String(err));
        assert.equal(err.host, 'sink');
        assert.equal(err.program, 'traffic-agent');
        assert.equal(err.awaited, `http://${sinkIp}:9102/metrics to answer 2xx`);
        assert.ok(
          err.logTail.some((l) => /cannot listen on .*:9102.*EADDRINUSE/.test(l)),
          err.logTail.join('\n'),
        );
        assert.deepEqual(aliveProcesses(net!, [blocker.pid]), []);
      } finally {
        blocker.kill('SIGKILL');
        await blocker.exited;
      }
    });

    it('an abort stops what was started and rejects', async () => {
      const ac = new AbortController();
      const err = await startNodePrograms(net!, {
        roles: ['mlfo-cloud', 'fl-client'],
        catalog: CATALOG,
        signal: ac.signal,
        onProgress: () => ac.abort(),
        log: () => undefined,
      }).then(
        () => assert.fail('not aborted'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof NodeProgramsAbortedError, String(err));
      assert.deepEqual(aliveProcesses(net!), []);
    });

    it('starts every role, takes an intent to completed, shows app traffic, and stop() ends every process', async () => {
      const steps: string[] = [];
      const t0 = Date.now();
      programs = await startNodePrograms(net!, {
        catalog: CATALOG,
        mlfoArgs: ['--poll-ms', '250', '--step-backoff-ms', '250'],
        onProgress: (m) => steps.push(m),
        log: (m) => notices.push(m),
      });
      const startS = (Date.now() - t0) / 1000;
      console.log(`# ${backend}: node programs ready in ${startS.toFixed(1)} s: ${steps.join('; ')}`);
      assert.ok(steps.includes('adapters 3/3 ready'), steps.join('; '));
      const expected = [
        'cloud:redis-server',
        'cloud:mlfo',
        'edge:mlfo',
        'srv:flower-adapter',
        'c1:flower-adapter',
        'c2:flower-adapter',
        ...(findExecutable('iperf3') ? ['sink:iperf3'] : []),
        'sink:traffic-agent',
        'src:traffic-agent',
        ...(findExecutable('prometheus') ? ['prom:prometheus'] : []),
      ];
      assert.deepEqual(programs.programs.map((p) => `${p.host}:${p.program}`).sort(), expected.sort());
      if (!findExecutable('prometheus')) {
        assert.ok(
          notices.some((n) => /prometheus is not on PATH; host prom/.test(n)),
          notices.join('\n'),
        );
      }
      assert.equal(programs.endpoints.edge, `http://${net!.ip('edge')}:8000`);
      assert.equal(programs.endpoints.cloud, `http://${net!.ip('cloud')}:8000`);
      assert.equal(programs.endpoints.redis, join(runDir, 'redis.sock'));
      const health = await programs.health();
      assert.deepEqual(
        health.filter((h) => !h.ok),
        [],
      );
      assert.equal(health.length, expected.length);
      assert.deepEqual(
        (await nodeProgramsHealth(runDir)).map((h) => h.ok),
        expected.map(() => true),
      );

      if (programs.endpoints.prometheus !== undefined) {
        // Prometheus in the topology scrapes the node programs from inside it
        const prom = programs.endpoints.prometheus;
        const up = await until('Prometheus scrapes every node program', 60_000, async () => {
          const r = (await (await fetch(`${prom}/api/v1/targets`)).json()) as {
            data: { activeTargets: { labels: { job: string; host: string }; health: string }[] };
          };
          const t = r.data.activeTargets;
          return t.length > 0 && t.every((x) => x.health === 'up') ? t : undefined;
        });
        assert.deepEqual([...new Set(up.map((t) => t.labels.job))].sort(), [
          'flower-adapter',
          'mlfo',
          'prometheus',
          'traffic-agent',
        ]);
      }

      // an intent, curl-style multipart, to the edge MLFO: 2 clients, 2 rounds
      const c1 = net!.ip('c1').split('.');
      assert.equal(net!.ip('c2'), [...c1.slice(0, 3), String(Number(c1[3]) + 1)].join('.'));
      const form = new FormData();
      const yaml = [
        `intentID: nodes${runId}`,
        'targets:',
        '  - id: factory.all',
        '    operation: maximise',
        '    operand: robots.welding.accuracy',
        '    constraints:',
        '      privacylevel: high',
        '      modelkind: simple',
        '',
      ].join('\n');
      form.set('file', new Blob([yaml], { type: 'application/yaml' }), 'intent.yaml');
      for (const [k, v] of Object.entries({
        ipstart: String(c1[3]),
        cohortsize: '2',
        numround: '2',
        minfit: '2',
        minav: '2',
        fracfit: '1',
      }))
        form.set(k, v);
      const posted = await fetch(`${programs.endpoints.edge}/receive`, { method: 'POST', body: form });
      const body = (await posted.json()) as { id: string };
      assert.equal(posted.status, 202, JSON.stringify(body));
      const done = await until('the intent completes', 240_000, async () => {
        const r = await fetch(`${programs!.endpoints.edge}/intents/${encodeURIComponent(body.id)}`);
        const rec = (await r.json()) as { state: string; rounds: { accuracy?: number }[]; error?: string };
        if (rec.state === 'failed') throw new Error(`intent failed: ${JSON.stringify(rec)}`);
        return rec.state === 'completed' ? rec : undefined;
      });
      assert.equal(done.rounds.length, 2);
      const accuracy = done.rounds.at(-1)?.accuracy;
      assert.ok(typeof accuracy === 'number' && accuracy > 0, JSON.stringify(done));
      console.log(`# ${backend}: intent completed, final accuracy ${accuracy}`);

      // app traffic: latency observations and bytes growing on both agents
      const src = `http://${net!.ip('src')}:9102/metrics`;
      const sink = `http://${net!.ip('sink')}:9102/metrics`;
      const a0 = await metrics(src);
      const b0 = await metrics(sink);
      await sleep(2500);
      const a1 = await metrics(src);
      const b1 = await metrics(sink);
      const count = (t: string) => sample(t, 'mlfo_app_request_duration_seconds_count');
      assert.ok(count(a1) > count(a0) && count(a0) > 0, `latency observations ${count(a0)} → ${count(a1)}`);
      const txSrc = (t: string) => sample(t, 'node_network_transmit_bytes_total');
      const rxSink = (t: string) => sample(t, 'node_network_receive_bytes_total');
      const seconds = 2.5;
      const srcMbps = ((txSrc(a1) - txSrc(a0)) * 8) / 1e6 / seconds;
      assert.ok(srcMbps > 5, `the source sent ${srcMbps.toFixed(1)} Mbit/s (bulk flow at 20)`);
      assert.ok(rxSink(b1) > rxSink(b0), 'the sink receives');
      assert.ok(
        sample(b1, 'mlfo_app_bytes_received_total', { flow: 'echo' }) >
          sample(b0, 'mlfo_app_bytes_received_total', { flow: 'echo' }),
      );
      console.log(`# ${backend}: app traffic ${srcMbps.toFixed(1)} Mbit/s out of src`);

      const pids = programs.programs.map((p) => p.pid);
      await programs.stop();
      await programs.stop();
      assert.deepEqual(aliveProcesses(net!), []);
      for (const pid of pids) assert.ok(!existsSync(`/proc/${pid}`), `pid ${pid} still exists`);
      if (backend === 'netns') {
        for (const h of net!.status().hosts) {
          const left = spawnSync('ip', ['netns', 'pids', h.namespace]).stdout.toString().trim();
          assert.equal(left, '', `processes left in ${h.name}'s namespace: ${left}`);
        }
      }
      assert.ok((await nodeProgramsHealth(runDir)).every((h) => !h.ok));
    });
  });
}

describe("the run's Redis socket when the run directory is too long for a unix socket path", {
  skip: backendSkip('local'),
}, () => {
  it('lives under the temp dir, named after the run, and is removed at stop', async () => {
    const runId = `nl${process.pid}${Math.random().toString(36).slice(2, 6)}`;
    const runDir = join(tempDir(runId), 'a-run-directory-deep-enough'.repeat(4));
    const net = await startEmulation(testSpec('10.1.1'), {
      backend: 'local',
      runId,
      runDir,
      log: () => undefined,
    });
    let programs: StartedNodePrograms | undefined;
    try {
      programs = await startNodePrograms(net, { roles: ['mlfo-cloud'], catalog: CATALOG });
      const socket = join(tmpdir(), `mlfo-${runId}`, 'redis.sock');
      assert.equal(programs.endpoints.redis, socket);
      assert.ok(Buffer.byteLength(join(runDir, 'redis.sock')) > 107);
      assert.deepEqual(
        (await programs.health()).map((h) => `${h.program}:${h.ok}`),
        ['redis-server:true', 'mlfo:true'],
      );
      await programs.stop();
      assert.equal(existsSync(join(tmpdir(), `mlfo-${runId}`)), false);
      assert.deepEqual(aliveProcesses(net), []);
    } finally {
      await programs?.stop();
      await net.stop();
    }
  });
});
