// The docker backend beyond the conformance suite (root, a Docker engine, the project image):
// limits through the engine and changed while running, container status, logs, a user image with
// its own command (linked, shaped, limited, reachable), refusals that create nothing (engine
// unreachable, image missing, name taken), a container that exits during start, and `clean --run`
// after `mlfo-topo up` is SIGKILLed. Every run has its own id, subnet and label.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { toYaml } from '../../common/topology-spec/spec-yaml.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';
import type { DockerNetworkStatus } from '../src/docker/docker-network.ts';
import { docker } from '../src/docker/engine.ts';
import { BASE_IMAGE, PROJECT_IMAGE } from '../src/docker/images.ts';
import { startDockerNetwork } from '../src/docker/network.ts';
import { cleanDockerRun } from '../src/docker/clean.ts';
import { linearTopology } from '../src/generators/linear.ts';
import type { EmulatedNetwork } from '../src/network.ts';
import { fetchToken, readText, SERVER, waitFor } from './support/conformance.ts';
import { dockerSkipReason } from './support/docker.ts';

const CLI = fileURLToPath(new URL('../../bin/mlfo-topo.mjs', import.meta.url));
const skip = process.getuid?.() !== 0 ? 'needs root' : dockerSkipReason([PROJECT_IMAGE, BASE_IMAGE]);
const runsDir = mkdtempSync(join(tmpdir(), 'mlfo-docker-runs-'));
const runIds: string[] = [];
let runs = 0;

function newRun(): { runId: string; runDir: string; octet: number } {
  const runId = `dk${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  runIds.push(runId);
  runs += 1;
  return { runId, runDir: join(runsDir, runId), octet: 100 + ((process.pid + 13 * runs) % 50) };
}

function spec3(octet: number, change: (s: TopologySpec) => void = () => undefined): TopologySpec {
  const s = linearTopology(3, { name: 'docker-test', link: { bandwidthMbps: 100 } });
  s.hosts = s.hosts.map((h) => ({ ...h, ip: h.ip.replace(/^10\.0\./, `10.${octet}.`) }));
  change(s);
  return s;
}

/** What of the run is left: containers (by label), /run/netns names, root interfaces of its tag. */
function leftovers(runId: string): string[] {
  const out: string[] = [];
  const ps = docker(['ps', '-a', '-q', '--filter', `label=mlfo.run=${runId}`]);
  for (const id of ps.stdout.split('\n').filter(Boolean)) out.push(`container ${id}`);
  for (const ns of existsSync('/run/netns') ? readdirSync('/run/netns') : [])
    if (ns.startsWith(`mlfo-${runId}.`)) out.push(`netns ${ns}`);
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
  for (const l of links.split('\n'))
    if (l.includes(`mlfo:${runId}:`)) out.push(`link ${l.split(':')[1]?.trim()}`);
  return out;
}

const quiet = { log: () => undefined };

after(async () => {
  if (!skip) for (const id of runIds) await cleanDockerRun(id, runsDir).catch(() => undefined);
  rmSync(runsDir, { recursive: true, force: true });
});

/** CPU cores a container used over `seconds` (its cgroup's cpuacct). */
async function coresUsed(id: string, seconds: number): Promise<number> {
  const file = `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`;
  const read = () => Number(readFileSync(file, 'utf8'));
  const a = read();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return (read() - a) / 1e9 / wall;
}

describe('docker backend', { skip }, () => {
  test('limits through the engine, changed while running; status, logs; a user image with its command', {
    timeout: 180_000,
  }, async () => {
    const run = newRun();
    const token = `user-image-${run.runId}`;
    const spec = spec3(run.octet, (s) => {
      const h1 = s.hosts[0];
      const h2 = s.hosts[1];
      if (h1) Object.assign(h1, { cpus: 0.5, memoryMb: 256 });
      // h2: the base image (not the project image) running an echo server given by command:
      if (h2) {
        Object.assign(h2, {
          image: BASE_IMAGE,
          // as in Containernet, the command starts before the links exist: it waits for its interface
          command: [
            'sh',
            '-c',
            'until ip -4 -o addr show dev h2-eth0 2>/dev/null | grep -q inet; do sleep 0.1; done; exec node -e "$0" "$@"',
            SERVER,
            h2.ip.split('/')[0],
            '7300',
            token,
          ],
          cpus: 0.25,
          env: { GREETING: 'hi' },
        });
      }
    });
    let net: EmulatedNetwork | undefined;
    try {
      net = await startDockerNetwork(spec, { runId: run.runId, runDir: run.runDir, ...quiet });
      const st = net.status() as DockerNetworkStatus;
      const byHost = new Map(st.containers.map((c) => [c.host, c]));
      assert.equal(byHost.get('h1')?.state, 'running');
      assert.equal(byHost.get('h1')?.name, `mlfo-${run.runId}.h1`);
      assert.deepEqual(byHost.get('h1')?.limits, { cpus: 0.5, memoryMb: 256 });
      assert.equal(byHost.get('h2')?.image, BASE_IMAGE);
      assert.equal(st.hosts.find((h) => h.name === 'h2')?.container?.state, 'running');
      const inspect = JSON.parse(docker(['inspect', `mlfo-${run.runId}.h1`]).stdout)[0];
      assert.equal(inspect.HostConfig.NetworkMode, 'none');
      assert.equal(inspect.HostConfig.Privileged, false);
      assert.deepEqual(inspect.HostConfig.CapAdd, ['NET_ADMIN']);
      assert.equal(inspect.HostConfig.NanoCpus, 500_000_000);
      assert.equal(inspect.HostConfig.Memory, 256 * 1024 * 1024);
      assert.equal(inspect.Config.Labels['mlfo.run'], run.runId);
      assert.equal(inspect.Config.Labels['mlfo.host'], 'h1');

      // the user image's server: reachable from this machine (root leg) and from h3, env given
      await waitFor('the user image server to listen', () =>
        docker(['logs', `mlfo-${run.runId}.h2`]).stdout.includes('LISTENING'),
      );
      assert.equal(await fetchToken(net.ip('h2'), 7300), token);
      const env = await net.run('h2', ['sh', '-c', 'echo $GREETING; hostname']);
      assert.equal(env.stdout, 'hi\nh2\n');
      const fromH3 = await net.run('h3', [
        'node',
        '-e',
        `require('node:net').connect(7300, '${net.ip('h2')}').on('data', (d) => process.stdout.write(d))`,
      ]);
      assert.equal(fromH3.stdout.trim(), token);
      // its link is shaped (HTB at 100 Mbit/s on both ends) as on netns
      const tc = await net.run('h2', ['tc', 'qdisc', 'show', 'dev', 'h2-eth0']);
      assert.match(tc.stdout, /htb/);
      const iperf = await net.iperf('h1', 'h3', { seconds: 2 });
      console.log(`# iperf h1 → h3 over 100 Mbit/s links: ${iperf.mbps.toFixed(1)} Mbit/s`);
      assert.ok(iperf.mbps >= 85 && iperf.mbps <= 101, `${iperf.mbps}`);

      // a busy loop in h1 is held at its 0.5 CPU; limit() changes it while running (docker update)
      const id = byHost.get('h1')?.id ?? '';
      const loop = net.exec('h1', ['sh', '-c', 'echo busy-start; while :; do :; done']);
      await new Promise((r) => setTimeout(r, 500));
      const half = await coresUsed(id, 3);
      console.log(`# busy loop in a container limited to 0.5 CPU: ${half.toFixed(3)} cores`);
      assert.ok(half >= 0.45 && half <= 0.55, `${half}`);
      net.limit('h1', { cpus: 0.25, memoryMb: 128 });
      const quarter = await coresUsed(id, 3);
      console.log(`# after limit --cpus 0.25: ${quarter.toFixed(3)} cores`);
      assert.ok(quarter >= 0.2 && quarter <= 0.3, `${quarter}`);
      const updated = JSON.parse(docker(['inspect', id]).stdout)[0];
      assert.equal(updated.HostConfig.NanoCpus, 250_000_000);
      assert.equal(updated.HostConfig.Memory, 128 * 1024 * 1024);
      assert.deepEqual(net.status().hosts.find((h) => h.name === 'h1')?.limits, {
        cpus: 0.25,
        memoryMb: 128,
      });
      // the node program's output goes to runs/<id>/logs/<host>.log, as on netns
      assert.match(readText(join(run.runDir, 'logs', 'h1.log')), /busy-start/);
      loop.kill();
      const ended = await loop.exited;
      assert.ok(ended.signal !== null || ended.code !== 0, JSON.stringify(ended));
      const report = await net.stop();
      assert.equal(report.removed.containers, 3);
      assert.deepEqual(leftovers(run.runId), []);
    } finally {
      await net?.stop().catch(() => undefined);
    }
  });

  test('refused before anything is created: engine unreachable, image missing, container name taken', async () => {
    const saved = process.env.DOCKER_HOST;
    const a = newRun();
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      await assert.rejects(startDockerNetwork(spec3(a.octet), { ...a, ...quiet }), (err: Error) => {
        assert.match(err.message, /no Docker engine answers at unix:\/\/\/nonexistent\/docker\.sock/);
        assert.match(err.message, /scripts\/dockerd\.sh start/);
        assert.match(err.message, /nothing was created/);
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
    assert.deepEqual(leftovers(a.runId), []);

    const b = newRun();
    const missing = spec3(b.octet, (s) => {
      if (s.hosts[2]) s.hosts[2].image = 'mlfo-no-such-image:never';
    });
    await assert.rejects(
      startDockerNetwork(missing, { ...b, ...quiet }),
      /mlfo-no-such-image:never \(hosts h3\)/,
    );
    assert.deepEqual(leftovers(b.runId), []);

    const c = newRun();
    const squatter = `mlfo-${c.runId}.h2`;
    assert.equal(
      docker(['create', '--name', squatter, '--label', 'mlfo.test=squatter', PROJECT_IMAGE, 'true']).code,
      0,
    );
    try {
      await assert.rejects(
        startDockerNetwork(spec3(c.octet), { ...c, ...quiet }),
        new RegExp(`container name\\(s\\) already in use: ${squatter.replaceAll('.', '\\.')}`),
      );
      const ours = docker(['ps', '-a', '-q', '--filter', `label=mlfo.run=${c.runId}`]).stdout.trim();
      assert.equal(ours, '', 'no container of the run was created');
    } finally {
      docker(['rm', '-f', squatter]);
    }
  });

  test('a container that exits during start: its output in the error, everything of the run removed', async () => {
    const run = newRun();
    const spec = spec3(run.octet, (s) => {
      if (s.hosts[1]) Object.assign(s.hosts[1], { command: ['sh', '-c', 'echo goodbye-from-h2; exit 3'] });
    });
    await assert.rejects(startDockerNetwork(spec, { ...run, ...quiet }), (err: Error) => {
      assert.match(
        err.message,
        new RegExp(`mlfo-${run.runId}\\.h2 \\(image mlfo:latest\\) exited with code 3`),
      );
      assert.match(err.message, /goodbye-from-h2/);
      return true;
    });
    assert.deepEqual(leftovers(run.runId), []);
  });

  test('mlfo-topo up --backend docker SIGKILLed, then clean --run: nothing of the run remains; exec, status', {
    timeout: 180_000,
  }, async () => {
    const run = newRun();
    const dir = mkdtempSync(join(tmpdir(), 'mlfo-docker-cli-'));
    const file = join(dir, 'topo.yaml');
    writeFileSync(file, toYaml(spec3(run.octet)));
    const env = { ...process.env, MLFO_RUNS_DIR: runsDir };
    try {
      const up = spawnSync(
        process.execPath,
        [CLI, 'up', file, '--backend', 'docker', '--run-id', run.runId, '--no-programs'],
        { encoding: 'utf8', env, timeout: 120_000 },
      );
      assert.equal(up.status, 0, up.stderr);
      const ex = spawnSync(
        process.execPath,
        [CLI, 'exec', '--run', run.runId, 'h3', '--', 'sh', '-c', 'hostname; echo $MLFO_HOST_IP'],
        {
          encoding: 'utf8',
          env,
        },
      );
      assert.equal(ex.status, 0, ex.stderr);
      assert.equal(ex.stdout, `h3\n10.${run.octet}.0.3\n`);
      const st = spawnSync(process.execPath, [CLI, 'status', '--run', run.runId, '--no-health'], {
        encoding: 'utf8',
        env,
      });
      assert.equal(st.status, 0, st.stderr);
      assert.match(st.stdout, /h1 .* running mlfo:latest/);
      const down = spawnSync(process.execPath, [CLI, 'down', '--run', run.runId], { encoding: 'utf8', env });
      assert.equal(down.status, 0, down.stderr);
      assert.deepEqual(leftovers(run.runId), []);

      // SIGKILL halfway through up (once some containers exist), then clean --run
      const again = newRun();
      const child = spawn(
        process.execPath,
        [CLI, 'up', file, '--backend', 'docker', '--run-id', again.runId, '--no-programs'],
        {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const exited = new Promise((r) => child.on('exit', r));
      await waitFor(
        'up to create containers',
        () => docker(['ps', '-a', '-q', '--filter', `label=mlfo.run=${again.runId}`]).stdout.trim() !== '',
        60_000,
      );
      child.kill('SIGKILL');
      await exited;
      const clean = spawnSync(process.execPath, [CLI, 'clean', '--run', again.runId], {
        encoding: 'utf8',
        env,
      });
      assert.equal(clean.status, 0, `${clean.stderr}\n${err}`);
      assert.deepEqual(leftovers(again.runId), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
