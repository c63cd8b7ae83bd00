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
  return keys
    .filter((k) => text(mine[k]) !== text(theirs[k]))
    .map((k) => `${k} ${text(mine[k]) ?? 'default'} (theirs ${text(theirs[k]) ?? 'default'})`);
}

/** A setting as text; the strategy settings as "name=value, …" in name order ("none" when empty). */
function text(v: ResolvedPipeline[Key] | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object') return String(v);
  const entries = Object.entries(v).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([k, x]) => `${k}=${x}`).join(', ');
}
