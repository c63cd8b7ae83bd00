// The Grafana dashboard and provisioning files: structure (unique ids, datasource references that
// resolve to the provisioned uid, targets with expressions, template variables defined and usable
// as All = `.*`, a layout without overlaps), the seed's panels and the intent pipeline panels by
// title, every metric it reads documented in monitoring/README.md and every documented flower-
// adapter / MLFO / traffic-agent metric really registered by that service's code, and every
// expression accepted by the real promtool (PromQL parser and type checks).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { AdapterMetrics } from '../../flower-adapter/src/metrics.ts';
import { MlfoMetrics } from '../../mlfo/src/metrics.ts';
import { AgentMetrics } from '../../topology/src/nodes/traffic-agent.ts';
import {
  allPanels,
  baseMetric,
  GRAFANA,
  loadDashboard,
  metricNames,
  provisionedDatasource,
  queries,
  ROOT,
  substituteAll,
  variablesIn,
} from './support/dashboard.ts';
import { promtool, promtoolSkip } from './support/prometheus.ts';

const dashboard = loadDashboard();
const ds = provisionedDatasource();
const dir = mkdtempSync(join(tmpdir(), 'mlfo-dashboard-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SEED_PANELS = [
  'Total FL traffic',
  'FL traffic rate',
  'FL servers: sent and received',
  'Average TCP congestion window per cohort',
  'Average TCP RTT per cohort',
  'App server latency',
  'App traffic',
  'Model loss',
  'Model accuracy',
  'Cloud MLFO bandwidth',
];
const PIPELINE_PANELS = [
  'Intents by state',
  'Intent-to-training latency',
  'Rounds per cohort',
  'Orchestration queue depth',
];

describe('dashboard mlfo-fl.json', () => {
  const panels = allPanels(dashboard);
  const visible = panels.filter((p) => p.type !== 'row');
  const variables = dashboard.templating?.list ?? [];

  it('has a uid, a title and a Grafana 10 schema', () => {
    assert.equal(dashboard.uid, 'mlfo-fl');
    assert.ok(dashboard.title);
    assert.ok((dashboard.schemaVersion ?? 0) >= 36, `schemaVersion ${dashboard.schemaVersion}`);
  });

  it('panel ids are unique positive integers', () => {
    const ids = panels.map((p) => p.id);
    assert.ok(
      ids.every((id) => Number.isInteger(id) && (id as number) > 0),
      JSON.stringify(ids),
    );
    assert.equal(new Set(ids).size, ids.length, `duplicate ids in ${JSON.stringify(ids)}`);
  });

  it('every panel and target refers to the provisioned Prometheus datasource by uid', () => {
    assert.equal(ds.type, 'prometheus');
    for (const p of visible) {
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: ds.uid }, `panel "${p.title}"`);
      for (const t of p.targets ?? []) {
        if (t.datasource !== undefined)
          assert.deepEqual(t.datasource, p.datasource, `panel "${p.title}" ${t.refId}`);
      }
    }
    for (const v of variables)
      assert.deepEqual(v.datasource, { type: 'prometheus', uid: ds.uid }, `variable ${v.name}`);
  });

  it('every panel has targets with an expression and distinct refIds', () => {
    for (const p of visible) {
      const targets = p.targets ?? [];
      assert.ok(targets.length > 0, `panel "${p.title}" has no targets`);
      for (const t of targets)
        assert.ok((t.expr ?? '').trim().length > 0, `panel "${p.title}" ${t.refId}: empty expr`);
      const refs = targets.map((t) => t.refId);
      assert.equal(new Set(refs).size, refs.length, `panel "${p.title}" refIds ${JSON.stringify(refs)}`);
    }
  });

  it('the seed’s panels and the intent pipeline panels are there, by title', () => {
    const titles = visible.map((p) => p.title);
    for (const t of [...SEED_PANELS, ...PIPELINE_PANELS])
      assert.ok(titles.includes(t), `missing panel "${t}"`);
    const titleCount = new Map<string, number>();
    for (const t of titles) titleCount.set(t ?? '', (titleCount.get(t ?? '') ?? 0) + 1);
    assert.deepEqual(
      [...titleCount].filter(([, n]) => n > 1),
      [],
      'titles are unique',
    );
  });

  it('every $variable used is defined; every variable is used; All = .* in a =~ matcher', () => {
    const defined = variables.map((v) => v.name);
    assert.deepEqual([...defined].sort(), ['cohort', 'host', 'server', 'session']);
    const used = new Set<string>();
    for (const q of queries(dashboard)) {
      for (const name of variablesIn(q.expr)) {
        used.add(name);
        assert.ok(defined.includes(name), `panel "${q.panel.title}" uses undefined $${name}: ${q.expr}`);
      }
      // a variable stands only as a regex matcher value, where a multi-value (a|b) or .* works
      for (const m of q.expr.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*\$[^"]*)"/g)) {
        assert.equal(m[2], '=~', `panel "${q.panel.title}": ${m[0]} (use =~ with a variable)`);
        assert.match(m[3] as string, /^\$\w+$/, `panel "${q.panel.title}": ${m[0]}`);
      }
    }
    for (const v of variables) {
      assert.ok(used.has(v.name as string), `variable ${v.name} is never used`);
      assert.equal(v.type, 'query');
      assert.equal(v.includeAll, true, `variable ${v.name} includeAll`);
      assert.equal(v.allValue, '.*', `variable ${v.name} allValue`);
      const query = typeof v.query === 'string' ? v.query : v.query?.query;
      assert.match(query ?? '', /^label_values\(.+, \w+\)$/, `variable ${v.name} query`);
    }
  });

  it('the layout is 24 columns wide and no two panels overlap', () => {
    const boxes = panels.map((p) => ({ title: p.title, ...p.gridPos! }));
    for (const b of boxes) {
      assert.ok(
        b.x >= 0 && b.w > 0 && b.x + b.w <= 24 && b.h > 0 && b.y >= 0,
        `panel "${b.title}" ${JSON.stringify(b)}`,
      );
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        assert.ok(!overlap, `panels "${a.title}" and "${b.title}" overlap`);
      }
    }
  });
});

describe('provisioning', () => {
  it('the dashboard provider loads the folder the compose file mounts the dashboards into', () => {
    const doc = parse(readFileSync(join(GRAFANA, 'provisioning', 'dashboards', 'mlfo.yaml'), 'utf8')) as {
      apiVersion: number;
      providers: Array<{ type: string; options: { path: string } }>;
    };
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.providers.length, 1);
    assert.equal(doc.providers[0]!.type, 'file');
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    assert.ok(
      compose.includes(`./monitoring/grafana/dashboards:${doc.providers[0]!.options.path}:ro`),
      `docker-compose.yml mounts the dashboards at ${doc.providers[0]!.options.path}`,
    );
  });

  it('the datasource points at the compose Prometheus and carries the seed’s 5 s interval', () => {
    const doc = parse(
      readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8'),
    ) as {
      apiVersion: number;
      datasources: Array<{ url: string; access: string; jsonData: { timeInterval: string } }>;
    };
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.datasources[0]!.url, 'http://prometheus:9090');
    assert.equal(doc.datasources[0]!.access, 'proxy');
    assert.equal(doc.datasources[0]!.jsonData.timeInterval, '5s');
  });
});

/** Metric names in the README's tables, per exporter section. */
function documented(): Map<string, Set<string>> {
  const text = readFileSync(join(ROOT, 'monitoring', 'README.md'), 'utf8');
  const out = new Map<string, Set<string>>();
  let section = '';
  for (const line of text.split('\n')) {
    const h = /^### (\S+)/.exec(line);
    if (h !== null) section = h[1] as string;
    const row = /^\| `([a-z_:]+)` \| (counter|gauge|histogram) \|/.exec(line);
    if (row !== null && section !== '') {
      if (!out.has(section)) out.set(section, new Set());
      out.get(section)!.add(row[1] as string);
    }
  }
  return out;
}

async function registered(registry: {
  getMetricsAsJSON(): Promise<Array<{ name: string }>>;
}): Promise<Set<string>> {
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
  return new Set(names.filter((n) => !/^(process_|nodejs_)/.test(n)));
}

describe('metrics: dashboard ↔ README ↔ code', () => {
  const docs = documented();

  it('the README documents the flower-adapter’s, the MLFO’s and the traffic agent’s metrics', () => {
    assert.deepEqual([...docs.keys()], ['flower-adapter', 'MLFO', 'traffic']);
  });

  it('every metric the dashboard reads is documented (up aside)', () => {
    const all = new Set([...docs.values()].flatMap((s) => [...s]));
    for (const q of queries(dashboard)) {
      for (const name of metricNames(q.expr)) {
        if (name === 'up') continue;
        assert.ok(
          all.has(baseMetric(name)),
          `panel "${q.panel.title}" reads ${name}, not in monitoring/README.md`,
        );
      }
    }
  });

  it('the flower-adapter registers exactly the documented metrics (TCP info ones with flTargets)', async () => {
    const m = new AdapterMetrics('n', () => [], { flTargets: () => [] });
    assert.deepEqual([...(await registered(m.registry))].sort(), [...docs.get('flower-adapter')!].sort());
  });

  it('the MLFO registers exactly the documented metrics', async () => {
    const m = new MlfoMetrics('cloud');
    assert.deepEqual([...(await registered(m.registry))].sort(), [...docs.get('MLFO')!].sort());
  });

  it('every documented traffic-agent metric is registered by the agent', async () => {
    const have = await registered(new AgentMetrics('app.1').registry);
    for (const name of docs.get('traffic')!) assert.ok(have.has(name), `traffic agent lacks ${name}`);
  });
});

describe('PromQL', () => {
  it('every expression, with the variables at All (.*), passes promtool’s parser and type checks', (t) => {
    if (promtoolSkip) return t.skip(promtoolSkip);
    const qs = queries(dashboard);
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: qs.map((q, i) => ({
            record: `mlfo:dashboard:q${i}`,
            expr: substituteAll(q.expr),
          })),
        },
      ],
    };
    const file = join(dir, 'rules.yml');
    writeFileSync(file, stringify(rules));
    const r = promtool('check', 'rules', file);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, new RegExp(`SUCCESS: ${qs.length} rules found`));
    // the check is real: a type error (rate of an instant vector) fails it
    writeFileSync(file, stringify({ groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'rate(up)' }] }] }));
    assert.notEqual(promtool('check', 'rules', file).code, 0);
  });
});
