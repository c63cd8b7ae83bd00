// prometheusConfig and `mlfo-topo prometheus`: the seed topology's prometheus.yml (jobs, targets,
// labels) checked by the real `promtool check config`, port overrides, errors, the CLI, and the
// compose deployment's checked-in config kept equal to what the command generates.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { promtool, promtoolSkip } from '../../monitoring/test/support/prometheus.ts';
import { main } from '../src/cli.ts';
import { seedTopology } from '../src/generators/seed.ts';
import { prometheusConfig, scrapeTargets } from '../src/monitoring/prometheus-config.ts';
import { readTopologyFile, toYaml } from '../../common/topology-spec/spec-yaml.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mlfo-prom-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface PromYaml {
  global: Record<string, unknown>;
  scrape_configs: Array<{
    job_name: string;
    metrics_path: string;
    static_configs: Array<{ targets: string[]; labels: Record<string, string> }>;
  }>;
}

function targetsOf(doc: PromYaml): Map<string, { job: string; labels: Record<string, string> }> {
  const out = new Map<string, { job: string; labels: Record<string, string> }>();
  for (const job of doc.scrape_configs) {
    for (const sc of job.static_configs) {
      for (const t of sc.targets) out.set(t, { job: job.job_name, labels: sc.labels });
    }
  }
  return out;
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

describe('prometheusConfig', () => {
  it('the seed topology: every service with host, role, cohort labels; 5 s scrapes; promtool accepts it', (t) => {
    const spec = seedTopology({ cohortSizes: [30, 10, 10] });
    const text = prometheusConfig(spec);
    const doc = parse(text) as PromYaml;
    assert.equal(doc.global['scrape_interval'], '5s');
    assert.deepEqual(
      doc.scrape_configs.map((j) => [j.job_name, j.metrics_path, j.static_configs.length]),
      [
        ['flower-adapter', '/metrics', 53],
        ['mlfo', '/metrics', 2],
        ['traffic-agent', '/metrics', 2],
        ['prometheus', '/metrics', 1],
      ],
    );
    const targets = targetsOf(doc);
    assert.equal(targets.size, spec.hosts.length, 'one target per host: the seed has no plain hosts');
    assert.deepEqual(targets.get('10.0.0.101:5000'), {
      job: 'flower-adapter',
      labels: { host: 'fed.1', role: 'fl-server', cohort: '1' },
    });
    assert.deepEqual(targets.get('10.0.1.39:5000')?.labels, {
      host: 'fc.39',
      role: 'fl-client',
      cohort: '1',
    });
    assert.deepEqual(targets.get('10.0.1.40:5000')?.labels, {
      host: 'fc.40',
      role: 'fl-client',
      cohort: '2',
    });
    assert.deepEqual(targets.get('10.0.1.59:5000')?.labels, {
      host: 'fc.59',
      role: 'fl-client',
      cohort: '3',
    });
    assert.deepEqual(targets.get('10.0.0.1:8000'), {
      job: 'mlfo',
      labels: { host: 'cloud.0', role: 'mlfo-cloud' },
    });
    assert.deepEqual(targets.get('10.0.1.1:8000')?.labels, { host: 'mo.1', role: 'mlfo-edge' });
    assert.deepEqual(targets.get('10.0.0.2:9102'), {
      job: 'traffic-agent',
      labels: { host: 'appserv.0', role: 'traffic-sink' },
    });
    assert.deepEqual(targets.get('10.0.1.2:9102')?.labels, { host: 'app.1', role: 'traffic-source' });
    assert.deepEqual(targets.get('10.0.0.100:9090'), {
      job: 'prometheus',
      labels: { host: 'prom.0', role: 'prometheus' },
    });

    if (promtoolSkip) return t.skip(promtoolSkip);
    const file = join(dir, 'seed.yml');
    writeFileSync(file, text);
    const r = promtool('check', 'config', file);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /SUCCESS/);
    // and promtool is a real check: a broken interval fails it
    writeFileSync(file, text.replace('scrape_interval: 5s', 'scrape_interval: 5 seconds'));
    assert.notEqual(promtool('check', 'config', file).code, 0);
  });

  it('instance groups, plain hosts, port overrides and the scrape interval', () => {
    const spec: TopologySpec = {
      name: 'groups',
      hosts: [
        { name: 'srv', ip: '10.9.0.1/24', role: 'fl-server', cohort: 2, instance: 'fog1' },
        { name: 'cli', ip: '10.9.0.2/24', role: 'fl-client', env: { FLOWER_ADAPTER_REST_PORT: '5050' } },
        { name: 'mlfo', ip: '10.9.0.3/24', role: 'mlfo-edge', env: { MLFO_INTENT_PORT: '8080' } },
        { name: 'box', ip: '10.9.0.4/24', role: 'plain' },
      ],
      switches: [{ name: 's1' }],
      links: [],
      instances: [{ name: 'fog1', kind: 'fog', switch: 's1' }],
    };
    const doc = parse(prometheusConfig(spec, { scrapeIntervalS: 15 })) as PromYaml;
    assert.equal(doc.global['scrape_interval'], '15s');
    assert.equal(doc.global['evaluation_interval'], '15s');
    assert.deepEqual(doc.global['external_labels'], { topology: 'groups' });
    assert.deepEqual(
      scrapeTargets(spec).map((t) => [t.job, t.target, t.labels]),
      [
        [
          'flower-adapter',
          '10.9.0.1:5000',
          { host: 'srv', role: 'fl-server', cohort: '2', instance_group: 'fog1' },
        ],
        ['flower-adapter', '10.9.0.2:5050', { host: 'cli', role: 'fl-client' }],
        ['mlfo', '10.9.0.3:8080', { host: 'mlfo', role: 'mlfo-edge' }],
      ],
    );
    assert.deepEqual(
      doc.scrape_configs.map((j) => j.job_name),
      ['flower-adapter', 'mlfo'],
      'jobs without targets are left out',
    );
  });

  it('says what is wrong: a bad interval, a bad address, a bad port override', () => {
    const spec = seedTopology({ campuses: 1, clientsPerCampus: 1 });
    assert.throws(
      () => prometheusConfig(spec, { scrapeIntervalS: 0.5 }),
      /scrape interval 0\.5 s; allowed: a whole number of seconds, 1–3600/,
    );
    const badIp = {
      ...spec,
      hosts: spec.hosts.map((h) => (h.name === 'fed.1' ? { ...h, ip: '10.0.0.101' } : h)),
    };
    assert.throws(
      () => prometheusConfig(badIp),
      /host "fed\.1" ip "10\.0\.0\.101"; allowed: an IPv4 address with prefix length/,
    );
    const badPort = {
      ...spec,
      hosts: spec.hosts.map((h) => (h.name === 'cloud.0' ? { ...h, env: { MLFO_INTENT_PORT: 'http' } } : h)),
    };
    assert.throws(
      () => prometheusConfig(badPort),
      /host "cloud\.0" env MLFO_INTENT_PORT="http"; allowed: a port 1–65535/,
    );
  });
});

describe('mlfo-topo prometheus', () => {
  const file = join(dir, 'topo.yaml');
  writeFileSync(file, toYaml(seedTopology({ campuses: 2, clientsPerCampus: 3, cohortSizes: [4, 2] })));

  it('prints the config of a topology file; --scrape-interval and -o', async () => {
    const r = await run('prometheus', file);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, prometheusConfig(readTopologyFile(file).spec));
    const out = join(dir, 'prom.yml');
    const w = await run('prometheus', file, '--scrape-interval', '10', '-o', out);
    assert.equal(w.code, 0, w.err);
    assert.equal(w.out, '');
    assert.match(w.err, /wrote .*prom\.yml: 14 targets/);
    assert.equal((parse(readFileSync(out, 'utf8')) as PromYaml).global['scrape_interval'], '10s');
  });

  it('usage errors exit 2, an unreadable or invalid topology exits 1', async () => {
    const none = await run('prometheus');
    assert.equal(none.code, 2);
    assert.match(none.err, /expected one topology FILE, got 0/);
    const bad = await run('prometheus', file, '--scrape-interval', '2.5');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--scrape-interval "2\.5"; allowed: whole seconds 1–3600/);
    const unknown = await run('prometheus', file, '--interval', '5');
    assert.equal(unknown.code, 2);
    const missing = await run('prometheus', join(dir, 'nope.yaml'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope\.yaml: cannot read it/);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(
      broken,
      'name: x\nhosts:\n  - {name: a, ip: 10.0.0.1, role: fl-server}\nswitches: []\nlinks: []\n',
    );
    const b = await run('prometheus', broken);
    assert.equal(b.code, 1);
    assert.match(b.err, /broken\.yaml:3/);
  });

  it('help lists the command', async () => {
    const r = await run('help');
    assert.match(r.out, /prometheus {2,}write the Prometheus config/);
  });
});

describe('the compose deployment', () => {
  it('monitoring/prometheus/compose.yml is what mlfo-topo prometheus makes of monitoring/compose/topology.yaml', async () => {
    const r = await run('prometheus', join(root, 'monitoring/compose/topology.yaml'));
    assert.equal(r.code, 0, r.err);
    assert.equal(
      readFileSync(join(root, 'monitoring/prometheus/compose.yml'), 'utf8'),
      r.out,
      'regenerate: mlfo-topo prometheus monitoring/compose/topology.yaml -o monitoring/prometheus/compose.yml',
    );
  });
});
