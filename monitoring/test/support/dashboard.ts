// Test support: the dashboard JSON and the provisioned datasource read from monitoring/grafana/,
// the panels flattened (rows included), every query with its panel, the template-variable
// substitution a check against Prometheus uses ($var and ${var…} → `.*`), and the structural
// check of a dashboard (panels, datasource references, template variables, layout) that both the
// static test and the live netns test run.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const GRAFANA = join(ROOT, 'monitoring', 'grafana');
export const DASHBOARD_FILE = join(GRAFANA, 'dashboards', 'mlfo-fl.json');

export interface DsRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  datasource?: DsRef;
}

export interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: DsRef;
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  panels?: Panel[];
}

export interface Variable {
  name?: string;
  type?: string;
  datasource?: DsRef;
  query?: { query?: string } | string;
  definition?: string;
  includeAll?: boolean;
  allValue?: string;
  multi?: boolean;
}

export interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

export function provisionedDatasource(): { uid: string; type: string; url: string } {
  const doc = parse(
    readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8'),
  ) as {
    datasources: Array<{ uid: string; type: string; url: string }>;
  };
  const [ds] = doc.datasources;
  if (ds === undefined) throw new Error('no datasource in provisioning/datasources/prometheus.yaml');
  return ds;
}

/** Every panel, rows' nested panels included, in order. */
export function allPanels(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  for (const p of d.panels ?? []) {
    out.push(p);
    for (const q of p.panels ?? []) out.push(q);
  }
  return out;
}

export interface Query {
  panel: Panel;
  target: Target;
  expr: string;
}

export function queries(d: Dashboard): Query[] {
  return allPanels(d).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ panel, target, expr: target.expr ?? '' })),
  );
}

export const VARIABLE_RE = /\$(?:\{(\w+)(?::\w+)?\}|(\w+))/g;

/** Names of the $variables a text uses. */
export function variablesIn(text: string): string[] {
  return [...text.matchAll(VARIABLE_RE)].map((m) => (m[1] ?? m[2]) as string);
}

/** The expression as Prometheus would get it with every variable set to All (`.*`). */
export function substituteAll(expr: string): string {
  return expr.replace(VARIABLE_RE, '.*');
}

/** The metric names an expression reads (identifiers followed by `{` or standing alone as a selector). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const keywords = new Set([
    'sum',
    'avg',
    'max',
    'min',
    'count',
    'by',
    'without',
    'rate',
    'increase',
    'irate',
    'histogram_quantile',
    'le',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'and',
    'or',
    'unless',
    'offset',
    'bool',
    'label_values',
  ]);
  // drop label matchers, ranges and grouping clauses so their labels are not read as metrics
  const body = noStrings
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
  for (const m of body.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const name = m[1] as string;
    if (!keywords.has(name)) names.add(name);
  }
  return [...names];
}

/** A histogram's series name → the histogram's name. */
export function baseMetric(name: string): string {
  return name.replace(/_(bucket|sum|count)$/, '');
}

/** The template variables the dashboard defines, and nothing else. */
export const VARIABLES = ['cohort', 'host', 'server', 'session'] as const;

/**
 * Every structural problem of a dashboard, one line each naming the panel or variable ([] when
 * none): uid, title and a Grafana 10 schema; panel ids unique positive integers; every panel,
 * target and variable on the datasource `ds` by uid; every visible panel with targets that have
 * an expression and distinct refIds; the variables exactly VARIABLES, each used, each a
 * multi-valued label_values query with All = `.*`, used only as the value of a `=~` matcher; a
 * 24-column layout without overlaps.
 */
export function structureProblems(d: Dashboard, ds: { uid: string; type: string }): string[] {
  const out: string[] = [];
  const panels = allPanels(d);
  const visible = panels.filter((p) => p.type !== 'row');
  const variables = d.templating?.list ?? [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const dsRef = { type: ds.type, uid: ds.uid };

  if (d.uid !== 'mlfo-fl') out.push(`dashboard uid ${JSON.stringify(d.uid)}; expected "mlfo-fl"`);
  if (!d.title) out.push('dashboard has no title');
  if ((d.schemaVersion ?? 0) < 36) out.push(`schemaVersion ${d.schemaVersion}; Grafana 10 needs ≥ 36`);

  const ids = panels.map((p) => p.id);
  for (const p of panels)
    if (!Number.isInteger(p.id) || (p.id as number) <= 0)
      out.push(`panel "${p.title}": id ${JSON.stringify(p.id)} is not a positive integer`);
  for (const id of new Set(ids))
    if (ids.filter((x) => x === id).length > 1) out.push(`panel id ${id} is used more than once`);

  for (const p of visible) {
    if (!same(p.datasource, dsRef))
      out.push(
        `panel "${p.title}": datasource ${JSON.stringify(p.datasource)}; expected ${JSON.stringify(dsRef)}`,
      );
    const targets = p.targets ?? [];
    if (targets.length === 0) out.push(`panel "${p.title}" has no targets`);
    for (const t of targets) {
      if (t.datasource !== undefined && !same(t.datasource, dsRef))
        out.push(`panel "${p.title}" ${t.refId}: datasource ${JSON.stringify(t.datasource)}`);
      if ((t.expr ?? '').trim() === '') out.push(`panel "${p.title}" ${t.refId}: empty expr`);
    }
    const refs = targets.map((t) => t.refId);
    if (new Set(refs).size !== refs.length)
      out.push(`panel "${p.title}": refIds ${JSON.stringify(refs)} repeat`);
  }

  const defined = variables.map((v) => v.name ?? '');
  if (!same([...defined].sort(), [...VARIABLES]))
    out.push(`variables ${JSON.stringify(defined)}; expected ${JSON.stringify(VARIABLES)}`);
  const used = new Set<string>();
  for (const q of queries(d)) {
    for (const name of variablesIn(q.expr)) {
      used.add(name);
      if (!defined.includes(name)) out.push(`panel "${q.panel.title}" uses undefined $${name}: ${q.expr}`);
    }
    // a variable stands only as a regex matcher value, where a multi-value (a|b) or .* works
    for (const m of q.expr.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*\$[^"]*)"/g)) {
      if (m[2] !== '=~' || !/^\$\w+$/.test(m[3] as string))
        out.push(`panel "${q.panel.title}": ${m[0]}; a variable goes alone into a =~ matcher`);
    }
  }
  for (const v of variables) {
    const name = `variable ${v.name}`;
    if (!used.has(v.name ?? '')) out.push(`${name} is never used`);
    if (!same(v.datasource, dsRef)) out.push(`${name}: datasource ${JSON.stringify(v.datasource)}`);
    if (v.type !== 'query') out.push(`${name}: type ${v.type}; expected query`);
    if (v.includeAll !== true || v.allValue !== '.*') out.push(`${name}: All must be offered as .*`);
    if (v.multi !== true) out.push(`${name}: not multi-valued`);
    if (!/^label_values\(.+, \w+\)$/.test(variableQuery(v)))
      out.push(
        `${name}: query ${JSON.stringify(variableQuery(v))}; expected label_values(<selector>, <label>)`,
      );
  }

  const boxes = panels.map((p) => ({ title: p.title, ...(p.gridPos ?? { x: -1, y: -1, w: 0, h: 0 }) }));
  for (const b of boxes)
    if (!(b.x >= 0 && b.w > 0 && b.x + b.w <= 24 && b.h > 0 && b.y >= 0))
      out.push(`panel "${b.title}": gridPos ${JSON.stringify(b)} outside 24 columns`);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i] as (typeof boxes)[number];
      const b = boxes[j] as (typeof boxes)[number];
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
        out.push(`panels "${a.title}" and "${b.title}" overlap`);
    }
  }
  return out;
}

/** A variable's query text (Grafana stores it as a string or as {query}). */
export function variableQuery(v: Variable): string {
  return (typeof v.query === 'string' ? v.query : v.query?.query) ?? '';
}

/** label_values(<selector>, <label>) split into its selector and label; undefined otherwise. */
export function labelValuesQuery(text: string): { selector: string; label: string } | undefined {
  const m = /^label_values\((.+), (\w+)\)$/.exec(text);
  return m === null ? undefined : { selector: m[1] as string, label: m[2] as string };
}
