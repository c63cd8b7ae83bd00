// What the run-level subcommands share: `--run ID` / `--runs-dir DIR` parsing, attaching to the
// chosen run, and number/shape option parsing with the house error style.

import { parseArgs } from 'node:util';
import { attachEmulation, runsDirectory, selectRun } from '../backend.ts';
import type { EmulatedNetwork } from '../network.ts';
import { UsageError } from './command.ts';

export const RUN_OPTIONS = {
  run: { type: 'string' },
  'runs-dir': { type: 'string' },
} as const;

export const RUN_USAGE =
  '  --run ID          the run (default: the only run that is up)\n' +
  '  --runs-dir DIR    where runs live (default ./runs, env MLFO_RUNS_DIR)';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** parseArgs with positionals; unknown options and bad values become UsageError. */
export function parse(
  name: string,
  args: string[],
  options: Options,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: { ...RUN_OPTIONS, ...options }, allowPositionals: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
}

export async function attachChosen(
  values: Record<string, string | boolean | undefined>,
): Promise<EmulatedNetwork> {
  const runsDir = runsDirectory(values['runs-dir'] as string | undefined);
  const run = selectRun(runsDir, values.run as string | undefined);
  if (run.phase !== 'up') {
    throw new Error(
      `run ${run.runId} is ${run.phase}, not up; mlfo-topo clean --run ${run.runId} removes what a crashed run left`,
    );
  }
  return attachEmulation(run.runDir);
}

/** A number option: undefined when absent, null for "none" when allowed. */
export function numberOption(
  values: Record<string, string | boolean | undefined>,
  key: string,
  opts: { min?: number; max?: number; allowNone?: boolean; integer?: boolean } = {},
): number | null | undefined {
  const raw = values[key];
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  if (opts.allowNone && text === 'none') return null;
  const n = Number(text);
  const min = opts.min ?? 0;
  const max = opts.max ?? Number.POSITIVE_INFINITY;
  if (text === '' || !Number.isFinite(n) || n < min || n > max || (opts.integer && !Number.isInteger(n))) {
    const range = `${opts.integer ? 'an integer' : 'a number'} in [${min}, ${max === Number.POSITIVE_INFINITY ? '∞' : max}]`;
    throw new UsageError(
      `--${key}: got ${JSON.stringify(text)}; allowed: ${range}${opts.allowNone ? ' or none' : ''}`,
    );
  }
  return n;
}
