// docker-compose.yml for real: `docker-compose up -d` with the locally built images (npm run image)
// under a project name of its own, on a /16 and ports no route or listener of this machine uses
// (MLFO_NET, MLFO_EDGE_PORT, MLFO_PROMETHEUS_PORT, with the inventory and Prometheus config
// rewritten to those addresses), then intents/cohorts/compose.yaml through sendintent --follow
// (two rounds and one here, to keep the run short) with `docker-compose restart redis` and a SIGKILL
// of the edge MLFO's process (its restart policy brings it back) while the first intent trains:
// every intent completes; Prometheus answers dashboard queries with data;
// `down -v` leaves no container, network or volume of the project (checked by its label, and
// removed by it should a step fail). Skips, saying why, without a Docker engine or the images;
// fails instead under MLFO_REQUIRE_DOCKER=1 (CI).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { docker } from '../../topology/src/docker/engine.ts';
import { BASE_IMAGE, PROJECT_IMAGE } from '../../topology/src/docker/images.ts';
import { dockerSkipReason } from '../../topology/test/support/docker.ts';
import { loadDashboard, metricNames, queries, ROOT, substituteAll } from './support/dashboard.ts';

const hasCompose = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).status === 0;
const skip = hasCompose
  ? dockerSkipReason([PROJECT_IMAGE, BASE_IMAGE])
  : 'docker-compose not installed (apt package docker-compose)';
const PROJECT = `mlfotest${process.pid}${Math.floor(Math.random() * 1e6)}`;
const PROJECT_LABEL = `label=com.docker.compose.project=${PROJECT}`;

/** First two octets of a 10.x.0.0/16 no route or address of this machine touches. */
function freeNet(): string {
  const routes = spawnSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout;
  const addrs = spawnSync('ip', ['-4', 'addr'], { encoding: 'utf8' }).stdout;
  const taken = `${routes}\n${addrs}`;
  for (let tries = 0; tries < 100; tries++) {
    const x = 100 + Math.floor(Math.random() * 150);
    if (!new RegExp(`\\b10\\.${x}\\.|\\b10\\.0\\.0\\.0/8`).test(taken)) return `10.${x}`;
  }
  throw new Error('no free 10.x.0.0/16 for the compose network');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET with node:http (its socket keeps the event loop alive while the request waits); status and body. */
function httpGet(url: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

function leftovers(): string[] {
  const out: string[] = [];
  for (const [kind, args] of [
    ['container', ['ps', '-aq', '--filter', PROJECT_LABEL]],
    ['network', ['network', 'ls', '-q', '--filter', PROJECT_LABEL]],
    ['volume', ['volume', 'ls', '-q', '--filter', PROJECT_LABEL]],
  ] as const) {
    for (const id of docker([...args])
      .stdout.split('\n')
      .filter((s) => s.trim() !== ''))
      out.push(`${kind} ${id}`);
  }
  return out;
}

describe('docker-compose up for real', { skip, timeout: 900_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlfo-compose-up-'));
  let env: NodeJS.ProcessEnv = {};
  let edgePort = 0;
  let promPort = 0;
  const compose = (args: string[], timeoutMs = 240_000) => {
    const r = spawnSync('docker-compose', ['-p', PROJECT, '-f', join(ROOT, 'docker-compose.yml'), ...args], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    return { code: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ?? ''}` };
  };

  before(async () => {
    chmodSync(dir, 0o755);
    const net = freeNet();
    edgePort = await freePort();
    promPort = await freePort();
    const move = (text: string) => text.replace(/\b10\.0\.(\d+)\.(\d+)/g, `${net}.$1.$2`);
    const topology = join(dir, 'topology.yaml');
    const prometheus = join(dir, 'prometheus.yml');
    writeFileSync(topology, move(readFileSync(join(ROOT, 'monitoring/compose/topology.yaml'), 'utf8')));
    writeFileSync(prometheus, move(readFileSync(join(ROOT, 'monitoring/prometheus/compose.yml'), 'utf8')));
    // the shipped cohort config with two rounds and one, and its intent files by absolute path
    const cohorts = readFileSync(join(ROOT, 'intents/cohorts/compose.yaml'), 'utf8')
      .replace(/^numrounddist:.*$/m, 'numrounddist: ["2", "1"]')
      .replaceAll('../', `${join(ROOT, 'intents')}/`);
    writeFileSync(join(dir, 'compose.yaml'), cohorts);
    env = {
      ...process.env,
      MLFO_NET: net,
      MLFO_EDGE_PORT: String(edgePort),
      MLFO_PROMETHEUS_PORT: String(promPort),
      MLFO_COMPOSE_TOPOLOGY: topology,
      MLFO_COMPOSE_PROMETHEUS: prometheus,
    };
  });

  after(() => {
    compose(['down', '-v', '--remove-orphans', '-t', '5']);
    // whatever a failed step left: only this project's, found by its label
    for (const entry of leftovers()) {
      const [kind, id] = entry.split(' ') as [string, string];
      docker(kind === 'container' ? ['rm', '-f', '-v', id] : [kind, 'rm', id]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** The edge MLFO's container, by its compose labels. */
  const edgeContainer = (): string =>
    docker(['ps', '-q', '--filter', PROJECT_LABEL, '--filter', 'label=com.docker.compose.service=mlfo-edge'])
      .stdout.trim()
      .split('\n')[0]!;

  it('up -d starts redis, both MLFOs, the adapters and prometheus; grafana stays in its profile', async () => {
    const up = compose(['up', '-d']);
    assert.equal(up.code, 0, up.output);
    // the services running (`ps --services` lists the profile's too)
    const services = docker([
      'ps',
      '--filter',
      PROJECT_LABEL,
      '--format',
      '{{.Label "com.docker.compose.service"}}',
    ])
      .stdout.split('\n')
      .filter((s) => s.trim() !== '');
    assert.deepEqual([...services].sort(), [
      'fc-10',
      'fc-11',
      'fc-12',
      'fed-1',
      'fed-2',
      'mlfo-cloud',
      'mlfo-edge',
      'prometheus',
      'redis',
    ]);
    const deadline = Date.now() + 120_000;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const r = await httpGet(`http://127.0.0.1:${edgePort}/healthz`);
        if (r.status === 200) return;
        last = `HTTP ${r.status}`;
      } catch (err) {
        last = String(err);
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
    assert.fail(
      `the edge MLFO on :${edgePort} did not answer within 120 s (${last})\n${compose(['logs', '--tail', '20']).output}`,
    );
  });

  it('sendintent --follow runs every intent to completed while redis restarts and the edge MLFO is killed', async () => {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin/sendintent.mjs'),
        '--config',
        join(dir, 'compose.yaml'),
        '--mlfo',
        `http://localhost:${edgePort}`,
        '--follow',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    let restarted: Promise<{ code: number; output: string }> | undefined;
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      // once an intent trains, Redis goes down and comes back with its AOF; then the edge MLFO's
      // process is killed (SIGKILL from this machine): its restart policy brings it back and it
      // resumes its jobs
      if (restarted === undefined && /\btraining\b/.test(output))
        restarted = new Promise((res) =>
          setImmediate(() => {
            const r = compose(['restart', '-t', '5', 'redis']);
            process.kill(
              Number(docker(['inspect', '-f', '{{.State.Pid}}', edgeContainer()]).stdout.trim()),
              'SIGKILL',
            );
            res(r);
          }),
        );
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
    assert.ok(restarted, `no intent reached training:\n${output}`);
    const r = await restarted;
    assert.equal(r.code, 0, r.output);
    assert.equal(code, 0, output);
    assert.match(output, /2 of 2 completed/, output);
    const restarts = Number(docker(['inspect', '-f', '{{.RestartCount}}', edgeContainer()]).stdout.trim());
    assert.ok(restarts >= 1, `the killed edge MLFO was restarted by its policy (RestartCount ${restarts})`);
  });

  it('prometheus answers the dashboard’s queries with data', async () => {
    const wanted = ['mlfo_intents', 'model_accuracy', 'fl_bytes_sent_total', 'fl_round_participants'];
    const qs = queries(loadDashboard()).filter(
      (q) => !/\brate\(|increase\(/.test(q.expr) && metricNames(q.expr).some((m) => wanted.includes(m)),
    );
    assert.ok(qs.length >= wanted.length, `${qs.length} dashboard queries picked`);
    const empty: string[] = [];
    for (const q of qs) {
      const url = `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(substituteAll(q.expr))}`;
      const body = JSON.parse((await httpGet(url)).body) as { data?: { result?: unknown[] } };
      if ((body.data?.result ?? []).length === 0) empty.push(`${q.panel.title}: ${q.expr}`);
    }
    assert.deepEqual(empty, [], 'queries without data');
  });

  it('down -v leaves no container, network or volume of the project', () => {
    const down = compose(['down', '-v', '--remove-orphans', '-t', '5']);
    assert.equal(down.code, 0, down.output);
    assert.deepEqual(leftovers(), []);
  });
});
