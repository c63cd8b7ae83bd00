// Test support: the dashboard JSON and the provisioned datasource read from monitoring/grafana/,
// the panels flattened (rows included), every query with its panel, and the template-variable
// substitution a check against Prometheus uses ($var and ${var…} → `.*`).

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
