// The netns backend against the real kernel (as root): bring-up, pingall, shaping measured with
// iperf3, CPU limits, the netem-missing error and opt-in, teardown, and crash/interrupt cleanup.
// Every test uses its own run id and removes its own resources, even when it fails.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpuUsageSeconds, detectCgroups } from '../src/netns/cgroups.ts';
import { cleanRun } from '../src/netns/clean.ts';
import { NetemMissingError, type StartedNetwork, startNetwork } from '../src/netns/index.ts';
import { rootNamePattern, runTag } from '../src/netns/plan.ts';
import type { RunState } from '../src/netns/state.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';
import { collect } from './support/collect-output.ts';
import { netnsLeftovers, netnsSkipReason } from './support/netns-leftovers.ts';
import { netnsRuns } from './support/netns-runs.ts';

const NETWORK_TS = new URL('../src/netns/network.ts', import.meta.url).pathname;

const skip = netnsSkipReason();
if (skip) console.log(`# netns tests skipped: ${skip}`);

const newRun = netnsRuns('t', skip);

const star = (bw?: number): TopologySpec => ({
  name: 'star',
  hosts: [
    { name: 'h1', ip: '10.77.0.1/24', role: 'plain' },
    { name: 'h2', ip: '10.77.0.2/24', role: 'plain' },
    { name: 'h3', ip: '10.77.0.3/24', role: 'plain', cpus: 0.5 },
    { name: 'h4', ip: '10.77.0.4/24', role: 'plain' },
  ],
  switches: [{ name: 's1' }, { name: 's2' }],
  links: [
    { a: 'h1', b: 's1', ...(bw ? { bandwidthMbps: bw } : {}) },
    { a: 'h2', b: 's1' },
    { a: 's1', b: 's2' },
    { a: 'h3', b: 's2' },
    { a: 'h4', b: 's2' },
  ],
});

test('star topology: every pair pings, 100 Mbit/s link measures 90–101, unshaped far more; stop leaves nothing', {
  skip,
}, async () => {
  const { runId, runDir } = newRun();
  let net: StartedNetwork | undefined;
  try {
    net = await startNetwork(star(100), { runId, runDir, log: () => undefined });
    const ping = await net.pingAll({ count: 1, timeoutMs: 2000 });
    assert.equal(ping.lossPercent, 0, `unreachable: ${JSON.stringify(ping.lossy)}`);
    assert.equal(ping.sent, 12);
    const shaped = await net.iperf('h2', 'h1', { seconds: 3 });
    console.log(`# iperf h2→h1 over a 100 Mbit/s link: ${shaped.mbps} Mbit/s`);
    assert.ok(shaped.mbps >= 90 && shaped.mbps <= 101, `${shaped.mbps} Mbit/s`);
    const free = await net.iperf('h2', 'h4', { seconds: 2 });
    console.log(`# iperf h2→h4 unshaped: ${free.mbps} Mbit/s`);
    assert.ok(free.mbps > 300, `${free.mbps} Mbit/s`);
    await net.setLink('h1', 's1', { ab: { bandwidthMbps: 20 } });
    const up = await net.iperf('h1', 'h2', { seconds: 2 });
    const down = await net.iperf('h2', 'h1', { seconds: 2 });
    console.log(`# after setLink h1→s1 20 Mbit/s: h1→h2 ${up.mbps}, h2→h1 ${down.mbps}`);
    assert.ok(up.mbps >= 17 && up.mbps <= 20.5, `h1→h2 ${up.mbps}`);
    assert.ok(down.mbps >= 90 && down.mbps <= 101, `h2→h1 ${down.mbps}`);
    const st = net.status();
    assert.equal(st.hosts.length, 4);
    assert.equal(st.switches.length, 2);
    const report = await net.stop();
    assert.deepEqual(report.failures, []);
    assert.deepEqual(await net.stop(), report, 'stop() twice returns the same report');
    assert.deepEqual(netnsLeftovers(runId), []);
    assert.equal((JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as RunState).phase, 'stopped');
  } finally {
    await net?.stop().catch(() => undefined);
  }
});

test('a 0.5 CPU limit holds a busy loop to 0.45–0.55 CPU; limit() changes it live', { skip }, async () => {
  const { runId, runDir } = newRun();
  let net: StartedNetwork | undefined;
  const pids: number[] = [];
  try {
    net = await startNetwork(star(), { runId, runDir, log: () => undefined });
    const layout = detectCgroups();
    assert.ok(layout, 'cgroups mounted');
    const proc = net.exec('h3', ['sh', '-c', 'while :; do :; done']);
    pids.push(proc.pid);
    const measure = async (seconds: number) => {
      const ticks = () => {
        const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8')
          .slice(readFileSync(`/proc/${proc.pid}/stat`, 'utf8').lastIndexOf(')') + 2)
          .split(' ');
        return Number(f[11]) + Number(f[12]);
      };
      const c0 = cpuUsageSeconds(layout, runId, 'h3');
      const t0 = ticks();
      const w0 = process.hrtime.bigint();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const wall = Number(process.hrtime.bigint() - w0) / 1e9;
      const c1 = cpuUsageSeconds(layout, runId, 'h3');
      const byStat = (ticks() - t0) / 100 / wall; // USER_HZ = 100 on Linux
      const byCgroup = c0 !== undefined && c1 !== undefined ? (c1 - c0) / wall : undefined;
      return { byStat, byCgroup };
    };
    await new Promise((r) => setTimeout(r, 300));
    const half = await measure(3);
    console.log(
      `# busy loop limited to 0.5 CPU: ${half.byStat.toFixed(3)} (/proc stat), ${half.byCgroup?.toFixed(3)} (cgroup)`,
    );
    assert.ok(half.byStat >= 0.45 && half.byStat <= 0.55, `${half.byStat}`);
    if (half.byCgroup !== undefined)
      assert.ok(half.byCgroup >= 0.45 && half.byCgroup <= 0.55, `${half.byCgroup}`);
    net.limit('h3', { cpus: 0.2 });
    await new Promise((r) => setTimeout(r, 300));
    const fifth = await measure(2);
    console.log(`# after limit(h3, 0.2): ${fifth.byStat.toFixed(3)}`);
    assert.ok(fifth.byStat >= 0.17 && fifth.byStat <= 0.23, `${fifth.byStat}`);
    const state = JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as RunState;
    assert.equal(state.processes[0]?.pid, proc.pid);
    await net.stop();
    assert.deepEqual(netnsLeftovers(runId, pids), []);
    assert.notEqual((await proc.exited).code, 0);
  } finally {
    await net?.stop().catch(() => undefined);
  }
});

test('host-to-host link: both ends in namespaces, shaped per direction', { skip }, async () => {
  const { runId, runDir } = newRun();
  let net: StartedNetwork | undefined;
  try {
    const spec: TopologySpec = {
      name: 'pair',
      hosts: [
        { name: 'p1', ip: '10.76.0.1/24', role: 'plain' },
        { name: 'p2', ip: '10.76.0.2/24', role: 'plain' },
      ],
      switches: [],
      links: [{ a: 'p1', b: 'p2', bandwidthMbps: 50, ba: { bandwidthMbps: 200 } }],
    };
    net = await startNetwork(spec, { runId, runDir, log: () => undefined });
    assert.equal((await net.pingAll({ count: 2 })).lossPercent, 0);
    const ab = await net.iperf('p1', 'p2', { seconds: 2 });
    const ba = await net.iperf('p2', 'p1', { seconds: 2 });
    console.log(`# p1→p2 (50 Mbit/s): ${ab.mbps}, p2→p1 (200 Mbit/s): ${ba.mbps}`);
    assert.ok(ab.mbps >= 45 && ab.mbps <= 50.5, `${ab.mbps}`);
    assert.ok(ba.mbps >= 180 && ba.mbps <= 202, `${ba.mbps}`);
    await net.stop();
    assert.deepEqual(netnsLeftovers(runId), []);
  } finally {
    await net?.stop().catch(() => undefined);
  }
});

const delayed = (): TopologySpec => ({
  name: 'delayed',
  hosts: [
    { name: 'a1', ip: '10.78.0.1/24', role: 'plain' },
    { name: 'a2', ip: '10.78.0.2/24', role: 'plain' },
  ],
  switches: [{ name: 'sw' }],
  links: [
    { a: 'a1', b: 'sw', delayMs: 12, bandwidthMbps: 500 },
    { a: 'a2', b: 'sw', bandwidthMbps: 500, ba: { lossPercent: 1 } },
  ],
});

test('without sch_netem, delay/loss fail before anything is created and name the links', {
  skip,
}, async () => {
  const { runId, runDir } = newRun();
  await assert.rejects(
    startNetwork(delayed(), { runId, runDir, netemAvailable: false, log: () => undefined }),
    (err: Error) => {
      assert.ok(err instanceof NetemMissingError);
      assert.match(err.message, /sch_netem/);
      assert.match(err.message, /a1–sw \(delay 12ms\)/);
      assert.match(err.message, /a2–sw \(a→b none, b→a loss 1%\)/);
      assert.match(err.message, /--links-without-delay/);
      return true;
    },
  );
  assert.deepEqual(netnsLeftovers(runId), []);
  assert.equal(existsSync(join(runDir, 'state.json')), false, 'no state: nothing was created');
});

test('with linksWithoutDelay the run proceeds, warns and records the links without delay', {
  skip,
}, async () => {
  const { runId, runDir } = newRun();
  const warnings: string[] = [];
  let net: StartedNetwork | undefined;
  try {
    net = await startNetwork(delayed(), {
      runId,
      runDir,
      netemAvailable: false,
      linksWithoutDelay: true,
      log: (m) => warnings.push(m),
    });
    assert.ok(
      warnings.some((w) => /WITHOUT their delay/.test(w) && w.includes('a1–sw')),
      warnings.join('\n'),
    );
    const state = JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as RunState;
    assert.deepEqual(
      state.linksWithoutDelay.map((l) => `${l.a}-${l.b}`),
      ['a1-sw', 'a2-sw'],
    );
    assert.deepEqual(net.status().linksWithoutDelay, ['a1–sw', 'a2–sw']);
    assert.equal((await net.pingAll()).lossPercent, 0);
    await assert.rejects(net.setLink('a1', 'sw', { delayMs: 5 }), /no sch_netem.*nothing was changed/);
    // a bandwidth change on a link whose spec delay is not applied still works
    await net.setLink('a1', 'sw', { bandwidthMbps: 30 });
    const a1 = net.status().links.find((l) => l.a === 'a1');
    assert.equal(a1?.ab.bandwidthMbps, 30);
    const ns = net.status().hosts.find((h) => h.name === 'a1')?.namespace ?? '';
    const tc = spawnSync('tc', ['-n', ns, 'class', 'show', 'dev', 'a1-eth0']).stdout.toString();
    assert.match(tc, /rate 30Mbit/);
    await net.stop();
    assert.deepEqual(netnsLeftovers(runId), []);
  } finally {
    await net?.stop().catch(() => undefined);
  }
});

test("stop removes the run's interfaces as one group; an interface not of the run keeps its group and stays", {
  skip,
}, async () => {
  const { runId, runDir } = newRun();
  // a bridge of another owner, in a group of its own (teardown picks a group no interface is in)
  const foreign = `mlfog${process.pid % 1_000_000}`;
  const groupOf = (dev: string) => readFileSync(`/sys/class/net/${dev}/netdev_group`, 'utf8').trim();
  const add = spawnSync('ip', ['link', 'add', foreign, 'group', '4242', 'type', 'bridge']);
  assert.equal(add.status, 0, add.stderr.toString());
  let net: StartedNetwork | undefined;
  try {
    net = await startNetwork(star(), { runId, runDir, log: () => undefined });
    const pattern = rootNamePattern(runTag(runId));
    const rootVeths = (
      JSON.parse(spawnSync('ip', ['-j', '-d', 'link', 'show', 'type', 'veth']).stdout.toString()) as {
        ifname: string;
      }[]
    ).filter((l) => pattern.test(l.ifname));
    const report = await net.stop();
    assert.deepEqual(report.failures, []);
    assert.deepEqual(
      [report.removed.namespaces, report.removed.bridges, report.removed.veths],
      [4, 2, rootVeths.length],
    );
    assert.deepEqual(netnsLeftovers(runId), []);
    assert.equal(groupOf(foreign), '4242');
  } finally {
    await net?.stop().catch(() => undefined);
    spawnSync('ip', ['link', 'del', foreign]);
  }
});

/** Starts a network in a child process that stops at the 'addresses' step (then waits or signals itself). */
function childStart(runId: string, runDir: string, mode: 'hang' | 'sigint'): ReturnType<typeof spawn> {
  const code = `
    import { startNetwork } from ${JSON.stringify(NETWORK_TS)};
    const hosts = [], links = [], switches = [{ name: 'core' }];
    for (let s = 0; s < 3; s++) { switches.push({ name: 'leaf' + s }); links.push({ a: 'leaf' + s, b: 'core', bandwidthMbps: 500 }); }
    for (let i = 0; i < 24; i++) { hosts.push({ name: 'c' + i, ip: '10.79.0.' + (i + 1) + '/24', role: 'plain' }); links.push({ a: 'c' + i, b: 'leaf' + (i % 3), bandwidthMbps: 100 }); }
    const spec = { name: 'crash', hosts, switches, links };
    try {
      await startNetwork(spec, { runId: ${JSON.stringify(runId)}, runDir: ${JSON.stringify(runDir)}, log: () => {}, onProgress: (step) => {
        if (!step.startsWith('addresses')) return;
        console.log('MIDWAY');
        if (${JSON.stringify(mode)} === 'sigint') process.kill(process.pid, 'SIGINT');
        else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
      } });
      console.log('STARTED');
    } catch (err) { console.log('ERROR ' + err.name + ': ' + err.message); }
  `;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

test('a start SIGKILLed mid-up leaves a state; cleanRun removes everything of the run', {
  skip,
  timeout: 60_000,
}, async () => {
  const { runId, runDir } = newRun();
  const child = childStart(runId, runDir, 'hang');
  try {
    const out = await collect(child, /MIDWAY/);
    assert.match(out, /MIDWAY/);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const state = JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as RunState;
    assert.equal(state.phase, 'starting');
    assert.ok(netnsLeftovers(runId).length >= 24, 'namespaces, bridges and veths exist mid-up');
    const report = await cleanRun(runDir);
    assert.deepEqual(report.failures, []);
    assert.ok(
      report.removed.namespaces === 24 && report.removed.bridges === 4,
      JSON.stringify(report.removed),
    );
    assert.deepEqual(netnsLeftovers(runId), []);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('SIGINT during start removes what was created and rejects', { skip, timeout: 60_000 }, async () => {
  const { runId, runDir } = newRun();
  const out = await collect(childStart(runId, runDir, 'sigint'));
  assert.match(out, /ERROR InterruptedError: network start interrupted by SIGINT/);
  assert.deepEqual(netnsLeftovers(runId), []);
  assert.equal((JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as RunState).phase, 'failed');
});
