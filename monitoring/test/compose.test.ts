// docker-compose.yml: validated by Debian's docker-compose 1.29 (`docker-compose config`, no Docker
// engine needed; a typo makes it fail), and checked against the deployment's topology
// (monitoring/compose/topology.yaml: same addresses, the MLFOs' inventory), the Prometheus config
// it mounts, Grafana's provisioning, the image's entry point and the compose cohort config. The
// file as read here has its ${VAR:-default} substitutions at their defaults. compose-up.test.ts
// brings it up for real.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadCohortConfig, planCohortPosts } from '../../common/intent/cohort-config.ts';
import { loadInventory, selectByIpstart } from '../../mlfo/src/inventory.ts';
import { readTopologyFile } from '../../common/topology-spec/spec-yaml.ts';
import { parseCidr } from '../../common/topology-spec/validate.ts';
import { ROOT } from './support/dashboard.ts';

const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const TOPOLOGY_FILE = 'monitoring/compose/topology.yaml';
const dockerCompose = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' });
const composeSkip =
  dockerCompose.status === 0 ? false : 'docker-compose not installed (apt package docker-compose)';
const dir = mkdtempSync(join(tmpdir(), 'mlfo-compose-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Service {
  build?: unknown;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  restart?: string;
  networks?: Record<string, { ipv4_address?: string } | null>;
  depends_on?: unknown;
}
interface ComposeFile {
  services: Record<string, Service>;
  networks: Record<
    string,
    { ipam?: { config?: Array<{ subnet: string; ip_range?: string; gateway?: string }> } }
  >;
}

/** The compose file's text with every `${VAR:-default}` at its default, as with no such variable set. */
function atDefaults(text: string): string {
  return text.replace(/\$\{\w+:-([^}]*)\}/g, '$1');
}
const compose = parse(atDefaults(readFileSync(COMPOSE_FILE, 'utf8')), { merge: true }) as ComposeFile;
const topology = readTopologyFile(join(ROOT, TOPOLOGY_FILE)).spec;

function runCompose(file: string): { code: number; output: string } {
  const r = spawnSync('docker-compose', ['-f', file, '--project-directory', ROOT, 'config', '-q'], {
    encoding: 'utf8',
    cwd: ROOT,
  });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

describe('docker-compose.yml', () => {
  it('validates with docker-compose 1.29 `config` (Compose file format), and a typo fails it', (t) => {
    if (composeSkip) return t.skip(composeSkip);
    const ok = runCompose(COMPOSE_FILE);
    assert.equal(ok.code, 0, ok.output);
    const broken = join(dir, 'docker-compose.yml');
    writeFileSync(
      broken,
      readFileSync(COMPOSE_FILE, 'utf8').replace(
        `ipv4_address: \${MLFO_NET:-10.0}.1.10`,
        `ipv4_adress: \${MLFO_NET:-10.0}.1.10`,
      ),
    );
    const bad = runCompose(broken);
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /ipv4_adress/);
  });

  it('runs redis, both MLFOs, flower-adapters, prometheus and grafana (a profile); nothing is pulled but grafana', () => {
    const s = compose.services;
    for (const name of ['redis', 'mlfo-cloud', 'mlfo-edge', 'prometheus', 'grafana'])
      assert.ok(s[name], name);
    const adapters = Object.entries(s).filter(([, v]) => v.command?.[0] === 'flower-adapter');
    assert.ok(adapters.length >= 3 && adapters.length <= 5, `${adapters.length} flower-adapters`);
    // the images come from `npm run image`: the project image, and the base for redis and prometheus
    for (const [name, v] of Object.entries(s)) {
      assert.equal(v.build, undefined, `${name} builds nothing`);
      if (name !== 'grafana') assert.match(v.image ?? '', /^mlfo(-base)?:latest$/, name);
    }
    assert.equal(s['redis']!.image, 'mlfo-base:latest');
    assert.equal(s['prometheus']!.image, 'mlfo-base:latest');
    assert.deepEqual(s['grafana']!.profiles, ['grafana']);
    // redis: AOF in a volume, so a restart keeps the intents and jobs
    const redisCmd = s['redis']!.command!.join(' ');
    assert.match(redisCmd, /--appendonly yes/);
    assert.match(redisCmd, /--dir \/data/);
    assert.ok(s['redis']!.volumes!.includes('redis-data:/data'));
    for (const name of ['mlfo-cloud', 'mlfo-edge', 'fed-1', 'fc-10'])
      assert.equal(s[name]!.restart, 'on-failure', `${name} restarts on failure`);
    assert.deepEqual(s['mlfo-cloud']!.command, ['mlfo']);
    assert.equal(s['mlfo-cloud']!.environment!['MLFO_ROLE'], 'cloud');
    assert.equal(s['mlfo-edge']!.environment!['MLFO_ROLE'], 'edge');
  });

  it('every topology host is a service at the same address; redis and grafana stay out of the fixed addresses', () => {
    const net = compose.networks['mlfo']!.ipam!.config![0]!;
    const subnet = parseCidr(net.subnet)!;
    const range = parseCidr(net.ip_range!)!;
    const inSubnet = (c: { network: number; prefix: number }, ip: string) => {
      const v = parseCidr(`${ip}/30`)!.value;
      return v - (v % 2 ** (32 - c.prefix)) === c.network;
    };
    const byAddress = new Map<string, string>();
    for (const [name, svc] of Object.entries(compose.services)) {
      const a = svc.networks?.['mlfo']?.ipv4_address;
      if (a !== undefined) byAddress.set(a, name);
    }
    for (const h of topology.hosts) {
      const ip = parseCidr(h.ip)!.address;
      const service = byAddress.get(ip);
      assert.ok(service, `topology host ${h.name} (${ip}) has no compose service at that address`);
      const svc = compose.services[service]!;
      if (h.role === 'fl-server' || h.role === 'fl-client') {
        assert.equal(svc.environment?.['FLOWER_ADAPTER_NODE_ID'], h.name, service);
      }
      if (h.role === 'mlfo-cloud' || h.role === 'mlfo-edge') {
        assert.equal(svc.environment?.['MLFO_ROLE'], h.role.slice('mlfo-'.length), service);
      }
      if (h.role === 'prometheus') assert.equal(service, 'prometheus');
      assert.ok(inSubnet(subnet, ip), `${ip} in ${net.subnet}`);
      assert.ok(!inSubnet(range, ip), `${ip} outside the dynamic range ${net.ip_range}`);
    }
    assert.equal(byAddress.size, topology.hosts.length, 'no fixed address outside the topology');
    assert.ok(!byAddress.has(net.gateway!), 'the gateway is no host’s address');
  });

  it('the MLFOs use the topology as inventory, the stand-in catalog, and the edge asks the cloud', () => {
    for (const name of ['mlfo-cloud', 'mlfo-edge']) {
      const env = compose.services[name]!.environment!;
      assert.equal(env['MLFO_INVENTORY'], TOPOLOGY_FILE);
      assert.ok(existsSync(join(ROOT, env['MLFO_CATALOG']!)), env['MLFO_CATALOG']);
      assert.equal(env['MLFO_HOST'], '0.0.0.0');
      assert.match(env['MLFO_REDIS']!, /^redis:\/\/redis:6379$/);
    }
    const cloud = topology.hosts.find((h) => h.role === 'mlfo-cloud')!;
    const edge = topology.hosts.find((h) => h.role === 'mlfo-edge')!;
    assert.equal(
      compose.services['mlfo-edge']!.environment!['MLFO_PARENT'],
      `${parseCidr(cloud.ip)!.address}:9000`,
    );
    assert.deepEqual(compose.services['mlfo-edge']!.ports, [`127.0.0.1:${edge.publish!['8000']}:8000`]);
    const inv = loadInventory(join(ROOT, TOPOLOGY_FILE));
    assert.equal(inv.servers().length, 2);
    assert.equal(inv.clients().length, 3);
  });

  it('intents/cohorts/compose.yaml selects compose clients only, cohort by cohort', () => {
    const inv = loadInventory(join(ROOT, TOPOLOGY_FILE));
    const cfg = loadCohortConfig(join(ROOT, 'intents', 'cohorts', 'compose.yaml'));
    const picked = planCohortPosts(cfg).map((p) =>
      selectByIpstart(inv, Number(p.fields['ipstart']), Number(p.fields['cohortsize'])).map((n) => [
        n.name,
        n.cohort,
      ]),
    );
    assert.deepEqual(picked, [
      [
        ['fc.10', '1'],
        ['fc.11', '1'],
      ],
      [['fc.12', '2']],
    ]);
  });

  it('prometheus mounts the generated config; grafana is provisioned, anonymous viewers, the dashboard as home', () => {
    const prom = compose.services['prometheus']!;
    assert.ok(
      prom.volumes!.includes('./monitoring/prometheus/compose.yml:/etc/prometheus/prometheus.yml:ro'),
    );
    assert.ok(prom.command!.includes('--config.file=/etc/prometheus/prometheus.yml'));
    const g = compose.services['grafana']!;
    const env = g.environment!;
    assert.equal(env['GF_AUTH_ANONYMOUS_ENABLED'], 'true');
    assert.equal(env['GF_AUTH_ANONYMOUS_ORG_ROLE'], 'Viewer');
    assert.ok(g.volumes!.includes('./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro'));
    const mount = g.volumes!.find((v) => v.startsWith('./monitoring/grafana/dashboards:'))!;
    const inside = mount.split(':')[1]!;
    const home = env['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH']!;
    assert.ok(home.startsWith(`${inside}/`), `${home} lies in the mounted ${inside}`);
    assert.ok(existsSync(join(ROOT, 'monitoring/grafana/dashboards', home.slice(inside.length + 1))), home);
    assert.ok(g.ports!.includes('127.0.0.1:3000:3000'));
  });
});

describe('Dockerfile and entry point', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const entry = join(ROOT, 'monitoring/compose/entrypoint.sh');

  it('the entry point exists, is executable, is valid sh and starts every program the compose file names', () => {
    assert.match(dockerfile, /^ENTRYPOINT \["\/app\/monitoring\/compose\/entrypoint\.sh"\]$/m);
    accessSync(entry, constants.X_OK);
    const syntax = spawnSync('sh', ['-n', entry], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    const text = readFileSync(entry, 'utf8');
    for (const svc of Object.values(compose.services)) {
      const program = svc.command?.[0];
      if (svc.image !== 'mlfo:latest' || program === undefined) continue;
      assert.match(text, new RegExp(`\\b${program}\\b.*\\)`), `entrypoint.sh handles ${program}`);
      assert.ok(existsSync(join(ROOT, 'bin', `${program}.mjs`)), `bin/${program}.mjs`);
    }
  });

  it('copies the installed node_modules and dist onto the base given as BASE, with no npm install', () => {
    assert.match(dockerfile, /^ARG BASE=mlfo-base:latest$/m);
    assert.match(dockerfile, /^FROM \$\{BASE\}$/m);
    assert.match(dockerfile, /^COPY node_modules\/ node_modules\/$/m);
    assert.match(dockerfile, /^COPY dist\/ dist\/$/m);
    assert.doesNotMatch(dockerfile, /^RUN .*npm (install|ci)/m);
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['.git', 'node_modules/typescript', 'node_modules/@biomejs'])
      assert.ok(ignore.includes(p), `.dockerignore ${p}`);
    for (const p of ['node_modules', 'dist']) assert.ok(!ignore.includes(p), `.dockerignore keeps ${p}`);
  });
});
