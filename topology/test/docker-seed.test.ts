// Acceptance of the docker backend with a real Docker engine: the seed topology (3 cohorts, 12
// clients) brought up by `mlfo-topo up --backend docker` with its node programs in containers, as
// a user runs it, one bring-up for every check: pingall without loss, iperf over a link set to
// 100 Mbit/s, `limit fc.10 --cpus 0.5` holding a busy loop at half a core, the three seed intents
// through sendintent to completed (stand-in catalog, 2 rounds), an FL client (fc.21) whose project
// image runs its own `command:` (the adapter with non-default flags) serving its cohort, and `down`
// leaving no container, veth, bridge, namespace or process of the run.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readTopologyFile, toYaml } from '../../common/topology-spec/spec-yaml.ts';
import { docker } from '../src/docker/engine.ts';
import { PROJECT_IMAGE } from '../src/docker/images.ts';
import { REPO_ROOT } from '../src/nodes/programs.ts';
import { dockerSkipReason } from './support/docker.ts';
import { netnsLeftovers } from './support/netns-leftovers.ts';

const CLI = fileURLToPath(new URL('../../bin/mlfo-topo.mjs', import.meta.url));
const SENDINTENT = join(REPO_ROOT, 'bin', 'sendintent.mjs');
const skip = process.getuid?.() !== 0 ? 'needs root' : dockerSkipReason([PROJECT_IMAGE]);
if (skip) console.log(`# docker seed acceptance skipped: ${skip}`);

const runsDir = mkdtempSync(join(tmpdir(), 'mlfo-docker-seed-'));
const runId = `ds${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;

after(() => {
  if (!skip) cli('clean', '--run', runId);
  rmSync(runsDir, { recursive: true, force: true });
});

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, MLFO_RUNS_DIR: runsDir },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** A second octet 150–199 that no address of this machine and no container of another run uses. */
function freeBaseNet(): string {
  const addrs = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' }).stdout;
  const labels = docker(['ps', '-a', '--format', '{{.Label "mlfo.ip"}}']).stdout;
  for (let k = 0; k < 50; k++) {
    const octet = 150 + ((process.pid + k) % 50);
    const prefix = `10.${octet}.`;
    if (!addrs.includes(` ${prefix}`) && !labels.split('\n').some((l) => l.startsWith(prefix)))
      return `10.${octet}`;
  }
  throw new Error('no free 10.150–199 subnet for the test');
}

/** CPU cores a container used over `seconds` (its cgroup's cpuacct, cgroup v1 as here). */
async function coresUsed(id: string, seconds: number): Promise<number> {
  const file = `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`;
  const read = () => Number(readFileSync(file, 'utf8'));
  const a = read();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return (read() - a) / 1e9 / wall;
}

/** Processes on this machine whose command line names the run directory (node programs, nsenter). */
function processesOf(runDir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(runDir) && Number(pid) !== process.pid) out.push(`pid ${pid}: ${cmd.slice(0, 120)}`);
    } catch {
      // ended while listing
    }
  }
  return out;
}

test('seed (3 cohorts, 12 clients) on docker with node programs in containers', {
  skip,
  timeout: 900_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlfo-docker-seed-spec-'));
  const runDir = join(runsDir, runId);
  try {
    const base = freeBaseNet();
    const file = join(dir, 'seed.yaml');
    const gen = cli('generate', 'seed', '--cohorts', '3', '--clients', '12', '--base-net', base, '-o', file);
    assert.equal(gen.code, 0, gen.err);
    // fc.21 (cohort 3): the project image with its own command, the adapter with non-default flags
    const { spec } = readTopologyFile(file);
    const own = spec.hosts.find((h) => h.name === 'fc.21');
    assert.ok(own);
    own.command = ['flower-adapter', '--node-id', 'fc21-own', '--data-dir', '/tmp/fc21-data'];
    writeFileSync(file, toYaml(spec));
    const ip = (host: string) => spec.hosts.find((h) => h.name === host)?.ip.split('/')[0] ?? '';

    const t0 = Date.now();
    const up = cli(
      'up',
      file,
      '--backend',
      'docker',
      '--run-id',
      runId,
      '--links-without-delay',
      '--no-publish',
      '--catalog',
      join(REPO_ROOT, 'intents', 'catalog.digits.yaml'),
    );
    assert.equal(up.code, 0, up.err);
    console.log(`# seed on docker with node programs: up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.match(up.err, /node programs ready/);

    const st = JSON.parse(cli('status', '--json', '--run', runId).out) as {
      hosts: {
        name: string;
        role: string;
        container?: { image: string; state: string };
        processes: { argv: string[] }[];
      }[];
      health: Record<string, string>;
    };
    assert.equal(st.hosts.length, 20);
    assert.equal(st.hosts.filter((h) => h.role === 'fl-client').length, 12);
    for (const h of st.hosts) assert.equal(h.container?.state, 'running', h.name);
    // the programs run from the image, not from this checkout
    const fc10 = st.hosts.find((h) => h.name === 'fc.10');
    assert.deepEqual(fc10?.processes[0]?.argv.slice(0, 3), [
      'node',
      '--max-semi-space-size=2',
      '/app/bin/flower-adapter.mjs',
    ]);
    assert.deepEqual(
      st.hosts.find((h) => h.name === 'fc.21')?.processes,
      [],
      'fc.21 runs its own command only',
    );
    const unhealthy = Object.entries(st.health).filter(([, v]) => !/^ok/.test(v));
    assert.deepEqual(unhealthy, []);
    // the run's Redis socket is in the run directory, seen by this machine and every container
    assert.ok(existsSync(join(runDir, 'redis.sock')));

    const ping = cli('pingall', '--run', runId);
    assert.equal(ping.code, 0, ping.out + ping.err);
    assert.match(ping.out, /20 hosts, 380 pairs, 380 sent, 380 received: 0 % lost/);

    assert.equal(cli('link', 'fed.1', 'aggsw10', '--bandwidth-mbps', '100', '--run', runId).code, 0);
    const iperf = cli('iperf', 'fc.10', 'fed.1', '--seconds', '3', '--json', '--run', runId);
    assert.equal(iperf.code, 0, iperf.err);
    const shaped = JSON.parse(iperf.out) as { mbps: number };
    console.log(`# fc.10 → fed.1 over a 100 Mbit/s link: ${shaped.mbps} Mbit/s`);
    assert.ok(shaped.mbps >= 90 && shaped.mbps <= 101, `100 Mbit/s link measured ${shaped.mbps}`);
    assert.equal(cli('link', 'fed.1', 'aggsw10', '--bandwidth-mbps', '500', '--run', runId).code, 0);

    // limit fc.10 --cpus 0.5 (docker update) holds a busy loop at half a core
    const lim = cli('limit', 'fc.10', '--cpus', '0.5', '--run', runId);
    assert.equal(lim.code, 0, lim.err);
    const id = docker(['inspect', '-f', '{{.Id}}', `mlfo-${runId}.fc.10`]).stdout.trim();
    const loop = spawn(
      process.execPath,
      [CLI, 'exec', '--run', runId, 'fc.10', '--', 'sh', '-c', 'while :; do :; done'],
      { env: { ...process.env, MLFO_RUNS_DIR: runsDir }, stdio: 'ignore' },
    );
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const cores = await coresUsed(id, 4);
      console.log(`# busy loop in fc.10 after limit --cpus 0.5: ${cores.toFixed(3)} cores`);
      // the engine's CFS quota is half the period; the loop is held there (on a machine not
      // saturated by others: the container competes with every other process for the 2 cores)
      const cfs = (f: string) =>
        Number(readFileSync(`/sys/fs/cgroup/cpu/docker/${id}/cpu.cfs_${f}_us`, 'utf8'));
      assert.equal(cfs('quota') / cfs('period'), 0.5);
      assert.ok(
        cores >= 0.45 && cores <= 0.55,
        `${cores} cores (load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')})`,
      );
    } finally {
      loop.kill('SIGKILL');
      docker(['exec', `mlfo-${runId}.fc.10`, 'pkill', '-f', 'while :; do :; done']);
    }
    assert.equal(cli('limit', 'fc.10', '--cpus', '2', '--run', runId).code, 0);

    // the three seed intents through sendintent, 4 clients each, 2 rounds
    const intents = (f: string) => join(REPO_ROOT, 'intents', f);
    const cohorts = join(dir, 'cohorts.yaml');
    writeFileSync(
      cohorts,
      [
        'timegap: 0',
        'cohortdistr: [4, 4, 4]',
        `intentdist: [${['intent.yaml', '2intent.yaml', '3intent.yaml'].map((f) => JSON.stringify(intents(f))).join(', ')}]`,
        'sameserverdist: [nor, "no", "no"]',
        'avgalgodist: [FedAvg, FedAvg, FedAvg]',
        'fracfitdist: ["1", "1", "1"]',
        'minfitdist: ["4", "4", "4"]',
        'minavdist: ["4", "4", "4"]',
        'numrounddist: ["2", "2", "2"]',
        '',
      ].join('\n'),
    );
    const t1 = Date.now();
    const send = spawnSync(
      process.execPath,
      [
        SENDINTENT,
        '--config',
        cohorts,
        '--mlfo',
        `http://${ip('mo.1')}:8000`,
        '--follow',
        '--interval-ms',
        '2000',
      ],
      { encoding: 'utf8', timeout: 600_000 },
    );
    const summary = send.stdout.slice(send.stdout.lastIndexOf('summary'));
    console.log(
      `# three seed intents, 2 rounds, in ${((Date.now() - t1) / 1000).toFixed(1)} s:\n# ${summary.split('\n').join('\n# ')}`,
    );
    assert.equal(send.status, 0, send.stdout + send.stderr);
    assert.match(send.stdout, /3 of 3 completed/);

    // fc.21's own adapter served its cohort: its node id is the flag's, its client session completed
    const own21 = (await (await fetch(`http://${ip('fc.21')}:5000/status`)).json()) as {
      node: string;
      sessions: { state: string; role?: string }[];
    };
    assert.equal(own21.node, 'fc21-own');
    assert.ok(
      own21.sessions.some((s) => s.state === 'completed'),
      JSON.stringify(own21.sessions.map((s) => s.state)),
    );

    const pids = (
      JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as { processes: { pid: number }[] }
    ).processes.map((p) => p.pid);
    const t2 = Date.now();
    const down = cli('down', '--run', runId);
    assert.equal(down.code, 0, down.err);
    console.log(`# down in ${((Date.now() - t2) / 1000).toFixed(1)} s: ${down.out.trim()}`);
    assert.equal(docker(['ps', '-a', '-q', '--filter', `label=mlfo.run=${runId}`]).stdout.trim(), '');
    assert.deepEqual(netnsLeftovers(runId, pids), []);
    assert.deepEqual(processesOf(runDir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
