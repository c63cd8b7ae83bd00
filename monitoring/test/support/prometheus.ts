// Test support: Debian's promtool and prometheus binaries (tests that need them skip with the
// reason when they are missing; scripts/setup.sh installs the `prometheus` package as root), and
// queries to a running Prometheus over its HTTP API: instant, range (as a Grafana panel makes
// them) and series.

import { spawnSync } from 'node:child_process';

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export const PROMTOOL = which('promtool');
export const PROMETHEUS = which('prometheus');
export const promtoolSkip =
  PROMTOOL === undefined ? 'promtool not installed (apt package prometheus)' : false;
export const prometheusSkip =
  PROMETHEUS === undefined ? 'prometheus not installed (apt package prometheus)' : false;

/** Runs promtool; returns its exit code and output. */
export function promtool(...args: string[]): { code: number; output: string } {
  const r = spawnSync(PROMTOOL ?? 'promtool', args, { encoding: 'utf8' });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

export interface QueryResult {
  status: string;
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

export interface RangeResult {
  status: string;
  error?: string;
  errorType?: string;
  data?: {
    resultType: string;
    result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;
  };
}

async function api<T>(url: string, path: string, params: Record<string, string>): Promise<T> {
  const r = await fetch(`${url}/api/v1/${path}`, {
    method: 'POST',
    body: new URLSearchParams(params),
    signal: AbortSignal.timeout(10_000),
  });
  return (await r.json()) as T;
}

/** An instant query, now, against the Prometheus at `url` (http://host:port). */
export function promQuery(url: string, expr: string): Promise<QueryResult> {
  return api(url, 'query', { query: expr });
}

/** A range query, as a Grafana panel makes it: `start`..`end` (unix s) every `stepS` seconds. */
export function promQueryRange(
  url: string,
  expr: string,
  start: number,
  end: number,
  stepS: number,
): Promise<RangeResult> {
  return api(url, 'query_range', {
    query: expr,
    start: String(start),
    end: String(end),
    step: String(stepS),
  });
}

/** The label sets of every series matching `selector` between start and end (unix s). */
export async function promSeries(
  url: string,
  selector: string,
  start: number,
  end: number,
): Promise<Array<Record<string, string>>> {
  const r = await api<{ status: string; data?: Array<Record<string, string>>; error?: string }>(
    url,
    'series',
    {
      'match[]': selector,
      start: String(start),
      end: String(end),
    },
  );
  if (r.status !== 'success')
    throw new Error(`series ${selector} on ${url}: ${r.error ?? JSON.stringify(r)}`);
  return r.data ?? [];
}
