// Comparing two resolved pipelines setting by setting: whether a repeated upload is the same
// deployment, and whether cohorts that ask to share an FL server agree on how it runs.

import type { ResolvedPipeline } from './resolve.ts';

/** A cohort with sameserv yes joins a running FL server of the same dataset, model and strategy… */
export const SHARING_BASIS = ['source', 'model', 'algo'] as const;
/** …whose remaining settings must then be its own too (the server runs with one set of them). */
export const SERVER_SETTINGS = [
  ...SHARING_BASIS,
  'fracfit',
  'minfit',
  'minav',
  'numround',
  'strategyParams',
] as const;
/** Everything that makes a repeated upload of an intent for one cohort the same deployment. */
export const DEPLOYMENT_SETTINGS = [
  'operation',
  'operand',
  'sink',
  ...SERVER_SETTINGS,
  'epochs',
  'batchsize',
  'lr',
  'sameserv',
] as const;

type Key = (typeof DEPLOYMENT_SETTINGS)[number];

/** The settings among `keys` in which `mine` differs from `theirs`, as "numround 3 (theirs 5)". */
export function pipelineDifferences(
  mine: ResolvedPipeline,
  theirs: ResolvedPipeline,
  keys: readonly Key[],
): string[] {
  // records written before strategy settings existed have no strategyParams: the same as none
  const get = (p: ResolvedPipeline, k: Key) => (k === 'strategyParams' ? (p[k] ?? {}) : p[k]);
  return keys
    .filter((k) => text(get(mine, k)) !== text(get(theirs, k)))
    .map((k) => `${k} ${text(get(mine, k)) ?? 'default'} (theirs ${text(get(theirs, k)) ?? 'default'})`);
}

/** A setting as text; the strategy settings as "name=value, …" in name order ("none" when empty). */
function text(v: ResolvedPipeline[Key] | undefined): string | undefined {
  if (typeof v !== 'object') return v === undefined ? undefined : String(v);
  const entries = Object.entries(v).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([k, x]) => `${k}=${x}`).join(', ');
}
