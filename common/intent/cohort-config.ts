// Cohort configs (intents/cohorts/*.yaml): the seed's sendintent.py settings as a file. The
// sendintent CLI parses one with parseCohortConfig, which checks every list against cohortdistr
// and every value with the FL rules, and loads each intent file it names; planCohortPosts then
// lists the /receive posts, one per cohort, with ipstart starting at 10 and advancing by each
// cohort's size exactly as the seed did. Posting and sleeping timegapSeconds between posts is the CLI's job.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { describeYaml, entryOf, readYaml, type YamlMap, type YamlValue } from '../yaml/located-yaml.ts';
import { formatProblem, type Problem } from '../yaml/problem.ts';
import { ProblemList } from '../yaml/problem-list.ts';
import { allowedText, DP_PARAMS, inRange, STRATEGY_PARAMS } from '../strategy-params.ts';
import {
  FORM_FIELD_OF,
  STRATEGY_PARAM_NAMES,
  STRATEGY_SETTINGS,
  type StrategySetting,
} from './intent-schema.ts';
import { IntentError, parseIntentYaml } from './parse-intent.ts';
import { allowedFor, checkFlSetting, checkStrategyParamText } from './setting-rules.ts';

/** A seed form field, or a strategy setting under Flower's name (server_momentum, proximal_mu, …). */
type FormField = (typeof FORM_FIELD_OF)[StrategySetting] | string;
/** The optional per-cohort lists are named after the form field they fill: sameserverdist, avgalgodist, … */
const distKey = (s: StrategySetting): string => `${FORM_FIELD_OF[s]}dist`;
/** …and the strategy settings' lists after theirs: server_momentumdist, proximal_mudist, … */
const paramDistKey = (name: string): string => `${name}dist`;
const KEYS = [
  'mlfoadd',
  'cohortdistr',
  'intentdist',
  ...STRATEGY_SETTINGS.map(distKey),
  ...STRATEGY_PARAM_NAMES.map(paramDistKey),
  'timegap',
];

/** The seed's first client address was 10.0.1.10. */
export const FIRST_IPSTART = 10;
// Clients sit at 10.0.1.<n>; the last host address is .254.
const LAST_HOST_OCTET = 254;
export const DEFAULT_MLFOADD = 'http://127.0.0.1:8001/receive';
const MAX_TIMEGAP_SECONDS = 3600;

export interface Cohort {
  size: number;
  /** absolute path of the intent file */
  intentFile: string;
  /** the path as written in the config */
  intentPath: string;
  intentID: string;
  /** form fields from the *dist lists, as written (e.g. avgalgo "FedAvg", fracfit "0.5") */
  fields: Partial<Record<FormField, string>>;
}

export interface CohortConfig {
  fileName: string;
  mlfoadd: string;
  timegapSeconds: number;
  cohorts: Cohort[];
  warnings: string[];
}

export class CohortConfigError extends Error {
  constructor(
    readonly fileName: string,
    readonly problems: Problem[],
  ) {
    super(`bad cohort config ${fileName}:\n${problems.map((p) => formatProblem(p, fileName)).join('\n')}`);
    this.name = 'CohortConfigError';
  }
}

function list(
  problems: ProblemList,
  key: string,
  node: YamlValue | undefined,
  at: YamlValue,
): YamlValue[] | undefined {
  if (node === undefined) return undefined;
  if (node.kind !== 'seq') {
    problems.fail(key, node ?? at, `got ${describeYaml(node)}; expected a list with one value per cohort`);
    return undefined;
  }
  return node.items;
}

function scalar(problems: ProblemList, path: string, node: YamlValue, expected: string): string | undefined {
  if (node.kind !== 'scalar' || node.value === null || node.text.trim() === '') {
    problems.fail(path, node, `got ${describeYaml(node)}; expected ${expected}`);
    return undefined;
  }
  return node.text.trim();
}

export function parseCohortConfig(text: string, fileName: string, baseDir: string): CohortConfig {
  const read = readYaml(text, { fileName, what: 'cohort config' });
  if (!read.ok) throw new CohortConfigError(fileName, read.problems);
  const problems = new ProblemList();
  for (const w of read.warnings) problems.fail(w.path, w, w.message);
  const root = read.root;
  if (root === undefined || root.kind !== 'map') {
    problems.fail(
      '',
      root,
      `got ${root === undefined ? 'an empty file' : describeYaml(root)}; expected a mapping with cohortdistr and intentdist`,
    );
    throw new CohortConfigError(fileName, problems.problems);
  }
  for (const e of root.entries) {
    if (!KEYS.includes(e.key)) problems.fail(e.key, e, `unknown key; allowed: ${KEYS.join(', ')}`);
  }
  const mlfoadd = readMlfoadd(problems, root);
  const timegapSeconds = readTimegap(problems, root);
  const sizes = readSizes(problems, root, fileName);
  const lists = new PerCohortLists(problems, root, sizes.length);
  const intents = readIntents(problems, root, lists, baseDir);
  const fields = readFields(problems, lists, sizes.length);
  checkFieldsTogether(problems, root, fields);
  if (problems.problems.length > 0) throw new CohortConfigError(fileName, problems.problems);

  const cohorts: Cohort[] = sizes.map((size, i) => {
    const intent = intents[i]!;
    const f = fields[i]!;
    warnUnreachableMinav(problems, root, fields, i, size);
    return { size, intentFile: intent.abs, intentPath: intent.rel, intentID: intent.intentID, fields: f };
  });
  return {
    fileName,
    mlfoadd,
    timegapSeconds,
    cohorts,
    warnings: problems.warnings.map((w) => formatProblem(w, fileName)),
  };
}

/** mlfoadd: the MLFO's /receive URL, http or https. */
function readMlfoadd(problems: ProblemList, root: YamlMap): string {
  const addEntry = entryOf(root, 'mlfoadd');
  if (addEntry === undefined) return DEFAULT_MLFOADD;
  const v = scalar(problems, 'mlfoadd', addEntry.value, 'the MLFO URL, e.g. http://127.0.0.1:8001/receive');
  if (v === undefined) return DEFAULT_MLFOADD;
  let ok = false;
  try {
    ok = ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {}
  if (ok) return v;
  problems.fail(
    'mlfoadd',
    addEntry.value,
    `got ${JSON.stringify(v)}; allowed: an http:// or https:// URL such as ${DEFAULT_MLFOADD}`,
  );
  return DEFAULT_MLFOADD;
}

/** timegap: seconds between two posts. */
function readTimegap(problems: ProblemList, root: YamlMap): number {
  const gapEntry = entryOf(root, 'timegap');
  if (gapEntry === undefined) return 0;
  const v = scalar(problems, 'timegap', gapEntry.value, 'seconds between two posts');
  if (v === undefined) return 0;
  const n = Number(v);
  if (/^\d+(\.\d+)?$/.test(v) && n <= MAX_TIMEGAP_SECONDS) return n;
  problems.fail(
    'timegap',
    gapEntry.value,
    `got ${JSON.stringify(v)}; allowed: seconds in [0, ${MAX_TIMEGAP_SECONDS}]`,
  );
  return 0;
}

/** cohortdistr: the cohort sizes, whose clients must fit between FIRST_IPSTART and the last host address. */
function readSizes(problems: ProblemList, root: YamlMap, fileName: string): number[] {
  const distrEntry = entryOf(root, 'cohortdistr');
  const sizesNodes = list(problems, 'cohortdistr', distrEntry?.value, root);
  if (distrEntry === undefined)
    problems.fail('cohortdistr', root, 'missing; expected the cohort sizes, e.g. [30, 10, 10]');
  if (sizesNodes === undefined || sizesNodes.length === 0) {
    if (sizesNodes !== undefined)
      problems.fail('cohortdistr', distrEntry?.value, 'is empty; expected at least one cohort size');
    throw new CohortConfigError(fileName, problems.problems);
  }
  const sizes = sizesNodes.map((node, i) => {
    const v = scalar(problems, `cohortdistr[${i}]`, node, 'a cohort size');
    if (v === undefined) return 0;
    if (!/^\d+$/.test(v) || Number(v) < 1) {
      problems.fail(
        `cohortdistr[${i}]`,
        node,
        `got ${JSON.stringify(v)}; allowed: an integer ≥ 1 (clients in the cohort)`,
      );
      return 0;
    }
    return Number(v);
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  if (FIRST_IPSTART + total - 1 > LAST_HOST_OCTET) {
    problems.fail(
      'cohortdistr',
      distrEntry?.value,
      `the cohorts hold ${total} clients, which runs from 10.0.1.${FIRST_IPSTART} past 10.0.1.${LAST_HOST_OCTET}; allowed: at most ${LAST_HOST_OCTET - FIRST_IPSTART + 1} clients in all`,
    );
  }
  return sizes;
}

/** The lists with one value per cohort (intentdist, the *dist lists): each as long as cohortdistr. */
class PerCohortLists {
  constructor(
    private readonly problems: ProblemList,
    private readonly root: YamlMap,
    readonly n: number,
  ) {}

  get(key: string): YamlValue[] | undefined {
    const e = entryOf(this.root, key);
    const items = list(this.problems, key, e?.value, this.root);
    if (items !== undefined && items.length !== this.n) {
      this.problems.fail(
        key,
        e?.value,
        `has ${items.length} value${items.length === 1 ? '' : 's'} but cohortdistr has ${this.n}; allowed: one value per cohort (${this.n})`,
      );
      return undefined;
    }
    return items;
  }
}

/** intentdist: one intent file per cohort, relative to the config, each a valid intent (read once). */
function readIntents(
  problems: ProblemList,
  root: YamlMap,
  lists: PerCohortLists,
  baseDir: string,
): Array<{ rel: string; abs: string; intentID: string } | undefined> {
  const intentsEntry = entryOf(root, 'intentdist');
  if (intentsEntry === undefined)
    problems.fail('intentdist', root, `missing; expected ${lists.n} intent file names, one per cohort`);
  const intentNodes = lists.get('intentdist') ?? [];
  const loaded = new Map<string, string>();
  return intentNodes.map((node, i) => {
    const path = `intentdist[${i}]`;
    const rel = scalar(problems, path, node, 'an intent file name');
    if (rel === undefined) return undefined;
    const abs = resolvePath(baseDir, rel);
    if (!existsSync(abs) || !statSync(abs).isFile()) {
      problems.fail(
        path,
        node,
        `intent file ${JSON.stringify(rel)} not found (looked for ${abs}); paths are relative to the config file`,
      );
      return undefined;
    }
    let intentID = loaded.get(abs);
    if (intentID === undefined) {
      try {
        intentID = parseIntentYaml(readFileSync(abs, 'utf8'), { fileName: abs }).intent.intentID;
        loaded.set(abs, intentID);
      } catch (err) {
        if (!(err instanceof IntentError)) throw err;
        problems.fail(
          path,
          node,
          `intent file ${rel} is not a valid intent:\n  ${err.message.split('\n').join('\n  ')}`,
        );
        return undefined;
      }
    }
    return { rel, abs, intentID };
  });
}

/** The *dist lists: per cohort, the form fields, each value checked with the FL rules. */
function readFields(
  problems: ProblemList,
  lists: PerCohortLists,
  n: number,
): Array<Partial<Record<FormField, string>>> {
  const fields: Array<Partial<Record<FormField, string>>> = Array.from({ length: n }, () => ({}));
  for (const setting of STRATEGY_SETTINGS) {
    const key = distKey(setting);
    const field = FORM_FIELD_OF[setting];
    const items = lists.get(key);
    if (items === undefined) continue;
    items.forEach((node, i) => {
      const v = scalar(problems, `${key}[${i}]`, node, allowedFor(setting));
      if (v === undefined) return;
      const r = checkFlSetting(setting, v);
      if (!r.ok) problems.fail(`${key}[${i}]`, node, r.message);
      else (fields[i] as Record<string, string>)[field] = v;
    });
  }
  for (const name of STRATEGY_PARAM_NAMES) {
    const key = paramDistKey(name);
    const items = lists.get(key);
    if (items === undefined) continue;
    items.forEach((node, i) => {
      const v = scalar(problems, `${key}[${i}]`, node, 'a number');
      if (v === undefined) return;
      const r = checkStrategyParamText(v);
      if (!r.ok) problems.fail(`${key}[${i}]`, node, r.message);
      else if (strategyParamProblem(problems, key, i, node, name, r.value, fields[i]?.avgalgo)) return;
      else (fields[i] as Record<string, string>)[name] = v;
    });
  }
  return fields;
}

/**
 * A strategy setting given for a cohort whose avgalgodist names a strategy that does not take it,
 * or out of that strategy's range (the adapter's table, common/strategy-params.ts). Without
 * avgalgodist the intent names the strategy, and the MLFO checks the setting at /receive.
 */
function strategyParamProblem(
  problems: ProblemList,
  key: string,
  i: number,
  node: YamlValue,
  name: string,
  value: number,
  avgalgo: string | undefined,
): boolean {
  const dp = DP_PARAMS.find((p) => p.name === name);
  let param = dp;
  if (param === undefined && avgalgo !== undefined) {
    const algo = checkFlSetting('avgalgo', avgalgo);
    if (!algo.ok) return false;
    const spec = STRATEGY_PARAMS[algo.value].params;
    param = spec.find((p) => p.name === name);
    if (param === undefined) {
      const takes = [...spec, ...DP_PARAMS].map((p) => p.name).join(', ');
      problems.fail(
        `${key}[${i}]`,
        node,
        `${name} is not a setting of avgalgo ${avgalgo} (cohort ${i}); allowed: ${takes}`,
      );
      return true;
    }
  }
  if (param === undefined) return false;
  if (inRange(param, value)) return false;
  problems.fail(`${key}[${i}]`, node, `got ${value}; allowed: ${allowedText(param)}`);
  return true;
}

/** Rules between fields: minfit ≤ minav per cohort; the first cohort has no server to reuse. */
function checkFieldsTogether(
  problems: ProblemList,
  root: YamlMap,
  fields: Array<Partial<Record<FormField, string>>>,
): void {
  fields.forEach((f, i) => {
    if (f.minfit !== undefined && f.minav !== undefined && Number(f.minfit) > Number(f.minav)) {
      problems.fail(
        `minfitdist[${i}]`,
        entryOf(root, 'minfitdist')?.value,
        `minfit ${f.minfit} is greater than minav ${f.minav} for cohort ${i}; allowed: minfit ≤ minav`,
      );
    }
  });
}

/** A warning when cohort i's minav exceeds its clients and no shared server makes up the difference. */
function warnUnreachableMinav(
  problems: ProblemList,
  root: YamlMap,
  fields: Array<Partial<Record<FormField, string>>>,
  i: number,
  size: number,
): void {
  const f = fields[i]!;
  const next = fields[i + 1];
  // With sameserver yes on the next cohort the server is shared, so this cohort alone need not reach minav.
  if (
    f.minav !== undefined &&
    Number(f.minav) > size &&
    next?.sameserver?.toLowerCase() !== 'yes' &&
    f.sameserver?.toLowerCase() !== 'yes'
  ) {
    problems.warn(
      `minavdist[${i}]`,
      entryOf(root, 'minavdist')?.value,
      `minav ${f.minav} is more than cohort ${i}'s ${size} clients: its FL server will wait for clients that never come`,
    );
  }
}

export function loadCohortConfig(path: string): CohortConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CohortConfigError(path, [
      { path: '', message: `cannot read the cohort config: ${(err as Error).message}` },
    ]);
  }
  return parseCohortConfig(text, path, resolvePath(path, '..'));
}

/** One /receive post per cohort: `file` = intentFile, the text fields as the seed's sendintent.py sent them. */
export function planCohortPosts(
  cfg: CohortConfig,
): Array<{ intentFile: string; fields: Record<string, string> }> {
  let ipstart = FIRST_IPSTART;
  return cfg.cohorts.map((c) => {
    const post = {
      intentFile: c.intentFile,
      fields: { ipstart: String(ipstart), cohortsize: String(c.size), ...c.fields },
    };
    ipstart += c.size;
    return post;
  });
}
