// The operand catalog: which FL pipeline (data source, model, sink, default FL settings) serves an
// intent target, keyed by operation + operand. The seed MLFO had this table hard-coded; here it is
// a YAML file (intents/catalog.yaml) that loadCatalog checks once at start-up, so a bad catalog
// stops the MLFO with file:line:column instead of failing intents later. resolve.ts asks the
// catalog for a target's entry and layers the intent's and the form's settings over its defaults.

import { readFileSync } from 'node:fs';
import {
  ADAPTER_MODEL_NAMES,
  MODEL_NAMES,
  type ModelName,
  SOURCE_NAMES,
  type SourceName,
  type Target,
} from '../../../common/intent/intent-schema.ts';
import {
  allowedFor,
  checkFlSetting,
  checkName,
  type FlSettingName,
  type FlSettings,
  ID_RE,
  ID_RULE,
} from '../../../common/intent/setting-rules.ts';
import {
  describeYaml,
  entryOf,
  readYaml,
  type YamlMap,
  type YamlValue,
} from '../../../common/yaml/located-yaml.ts';
import { formatProblem, type Problem, type SourcePosition } from '../../../common/yaml/problem.ts';
import { IntentError } from '../../../common/intent/parse-intent.ts';
import {
  allowedText,
  DP_PARAMS,
  inRange,
  STRATEGY_PARAM_NAMES,
  STRATEGY_PARAMS,
} from '../../../common/strategy-params.ts';
import { ProblemList, scalarText } from '../../../common/yaml/problem-list.ts';

export type PipelineDefaults = Omit<FlSettings, 'lr'> & {
  lr?: number;
  /** strategy settings by Flower's names (server_momentum, …): used when the chosen strategy takes them */
  strategy?: Record<string, number>;
};

/** client: the edge MLFO deploys FL clients; aggregator: the cloud MLFO deploys an FL server. */
export type CatalogRole = 'client' | 'aggregator';

export interface CatalogEntry {
  operation: string;
  operand: string;
  role: CatalogRole;
  /** set for client entries; an aggregator takes them from the target's sourcekind/modelkind */
  source?: SourceName;
  model?: ModelName;
  sink?: string;
  defaults: PipelineDefaults;
  note?: string;
  line?: number;
  column?: number;
}

export interface Catalog {
  fileName: string;
  name?: string;
  note?: string;
  entries: readonly CatalogEntry[];
  warnings: string[];
  /** The entry for a target; an IntentError (422) listing the known pairs when there is none. */
  resolve(
    target: Pick<Target, 'operation' | 'operand'>,
    where?: { path: string } & Partial<SourcePosition>,
  ): CatalogEntry;
  /** "operation operand" of every entry */
  knownPairs(): string[];
}

export class CatalogError extends Error {
  constructor(
    readonly fileName: string,
    readonly problems: Problem[],
  ) {
    super(`bad catalog ${fileName}:\n${problems.map((p) => formatProblem(p, fileName)).join('\n')}`);
    this.name = 'CatalogError';
  }
}

const TOP_KEYS = ['name', 'note', 'defaults', 'entries'];
const ENTRY_KEYS = ['operation', 'operand', 'role', 'source', 'model', 'sink', 'defaults', 'note'];
const ROLES: readonly CatalogRole[] = ['client', 'aggregator'];
const DEFAULT_KEYS: readonly FlSettingName[] = [
  'avgalgo',
  'fracfit',
  'minfit',
  'minav',
  'numround',
  'epochs',
  'batchsize',
  'lr',
  'sameserv',
];

function checkKeys(list: ProblemList, path: string, map: YamlMap, allowed: readonly string[]): void {
  for (const e of map.entries) {
    if (!allowed.includes(e.key)) {
      list.fail(path === '' ? e.key : `${path}.${e.key}`, e, `unknown key; allowed: ${allowed.join(', ')}`);
    }
  }
}

function readDefaults(
  list: ProblemList,
  path: string,
  node: YamlValue | undefined,
): Partial<PipelineDefaults> {
  const out: Partial<PipelineDefaults> = {};
  if (node === undefined) return out;
  if (node.kind !== 'map') {
    list.fail(path, node, `got ${describeYaml(node)}; expected a mapping of ${DEFAULT_KEYS.join(', ')}`);
    return out;
  }
  checkKeys(list, path, node, [...DEFAULT_KEYS, 'strategy']);
  const strategy = entryOf(node, 'strategy');
  if (strategy !== undefined) out.strategy = readStrategyDefaults(list, `${path}.strategy`, strategy.value);
  for (const key of DEFAULT_KEYS) {
    const e = entryOf(node, key);
    if (e === undefined) continue;
    const text = scalarText(list, `${path}.${key}`, e.value, e, allowedFor(key));
    if (text === undefined) continue;
    const r = checkFlSetting(key, text);
    if (r.ok) (out as Record<string, unknown>)[key] = r.value;
    else list.fail(`${path}.${key}`, e.value, r.message);
  }
  return out;
}

/** defaults.strategy: strategy settings by name, each a number in the range of the strategies that take it. */
function readStrategyDefaults(list: ProblemList, path: string, node: YamlValue): Record<string, number> {
  const out: Record<string, number> = {};
  if (node.kind !== 'map') {
    list.fail(
      path,
      node,
      `got ${describeYaml(node)}; expected a mapping of strategy settings (${STRATEGY_PARAM_NAMES.join(', ')})`,
    );
    return out;
  }
  checkKeys(list, path, node, STRATEGY_PARAM_NAMES);
  for (const e of node.entries) {
    const defs = [...Object.values(STRATEGY_PARAMS).flatMap((s) => s.params), ...DP_PARAMS].filter(
      (p) => p.name === e.key,
    );
    if (defs.length === 0) continue;
    const text = scalarText(list, `${path}.${e.key}`, e.value, e, allowedText(defs[0]!));
    if (text === undefined) continue;
    const v = Number(text);
    const fits = defs.filter(
      (d) => Number.isFinite(v) && inRange(d, v) && (!d.integer || Number.isInteger(v)),
    );
    if (fits.length === 0)
      list.fail(
        `${path}.${e.key}`,
        e.value,
        `got ${JSON.stringify(text)}; allowed: ${allowedText(defs[0]!)}`,
      );
    else out[e.key] = v;
  }
  return out;
}

function optionalText(list: ProblemList, path: string, map: YamlMap, key: string): string | undefined {
  const e = entryOf(map, key);
  return e === undefined ? undefined : scalarText(list, `${path}.${key}`, e.value, e, 'a text');
}

export function parseCatalog(text: string, fileName: string): Catalog {
  const read = readYaml(text, { fileName, what: 'catalog' });
  if (!read.ok) throw new CatalogError(fileName, read.problems);
  const list = new ProblemList();
  for (const w of read.warnings) list.fail(w.path, w, w.message);
  const root = read.root;
  const entries: CatalogEntry[] = [];
  let name: string | undefined;
  let note: string | undefined;
  if (root === undefined || root.kind !== 'map') {
    list.fail(
      '',
      root,
      `got ${root === undefined ? 'an empty file' : describeYaml(root)}; expected a mapping with entries`,
    );
  } else {
    checkKeys(list, '', root, TOP_KEYS);
    name = optionalText(list, 'name', root, 'name');
    note = optionalText(list, 'note', root, 'note');
    const common = readDefaults(list, 'defaults', entryOf(root, 'defaults')?.value);
    const listEntry = entryOf(root, 'entries');
    const items = listEntry?.value;
    if (items === undefined || items.kind !== 'seq' || items.items.length === 0) {
      list.fail(
        'entries',
        listEntry?.value ?? root,
        'missing or empty; expected a list of operation/operand entries',
      );
    } else {
      const seen = new Map<string, CatalogEntry>();
      items.items.forEach((node, i) => {
        const entry = readEntry(list, `entries[${i}]`, node, common);
        if (entry === undefined) return;
        const pair = `${entry.operation} ${entry.operand}`;
        const first = seen.get(pair);
        if (first !== undefined) {
          list.fail(
            `entries[${i}]`,
            node,
            `operation ${entry.operation} with operand ${entry.operand} is already defined at line ${first.line ?? '?'}; allowed: each operation + operand once`,
          );
          return;
        }
        seen.set(pair, entry);
        entries.push(entry);
      });
    }
  }
  if (list.problems.length > 0) throw new CatalogError(fileName, list.problems);
  return makeCatalog(fileName, name, note, entries, list.warnings);
}

function readEntry(
  list: ProblemList,
  path: string,
  node: YamlValue,
  common: Partial<PipelineDefaults>,
): CatalogEntry | undefined {
  if (node.kind !== 'map') {
    list.fail(path, node, `got ${describeYaml(node)}; expected a mapping with ${ENTRY_KEYS.join(', ')}`);
    return undefined;
  }
  const before = list.problems.length;
  checkKeys(list, path, node, ENTRY_KEYS);
  const idField = (key: string): string => {
    const e = entryOf(node, key);
    const v = scalarText(list, `${path}.${key}`, e?.value, e ?? node, `${key}: <name> (${ID_RULE})`);
    if (v !== undefined && !ID_RE.test(v))
      list.fail(`${path}.${key}`, e?.value, `got ${JSON.stringify(v)}; allowed: ${ID_RULE}`);
    return v ?? '';
  };
  const operation = idField('operation');
  const operand = idField('operand');
  let role: CatalogRole = 'client';
  const roleText = optionalText(list, path, node, 'role');
  if (roleText !== undefined) {
    const r = checkName(roleText, ROLES);
    if (r.ok) role = r.value;
    else list.fail(`${path}.role`, entryOf(node, 'role')?.value, r.message);
  }
  const entry: CatalogEntry = { operation, operand, role, defaults: {} as PipelineDefaults };
  if (node.line !== undefined) {
    entry.line = node.line;
    entry.column = node.column ?? 1;
  }
  if (role === 'client') {
    const named = <T extends string>(key: 'source' | 'model', names: readonly T[]): T | undefined => {
      const e = entryOf(node, key);
      const v = scalarText(list, `${path}.${key}`, e?.value, e ?? node, `one of ${names.join(', ')}`);
      if (v === undefined) return undefined;
      const r = checkName(v, names);
      if (!r.ok) list.fail(`${path}.${key}`, e?.value, r.message);
      return r.ok ? r.value : undefined;
    };
    entry.source = named('source', SOURCE_NAMES);
    entry.model = named('model', MODEL_NAMES);
    entry.sink = idField('sink');
    if (entry.model !== undefined && !ADAPTER_MODEL_NAMES.includes(entry.model)) {
      list.warn(
        `${path}.model`,
        entryOf(node, 'model')?.value,
        `the flower-adapter cannot train model ${entry.model} (it has ${ADAPTER_MODEL_NAMES.join(', ')}); intents resolved to this entry will have their FL clients refused`,
      );
    }
  } else {
    for (const key of ['source', 'model'] as const) {
      const e = entryOf(node, key);
      if (e !== undefined) {
        list.fail(
          `${path}.${key}`,
          e,
          `an aggregator entry takes ${key} from the target's ${key}kind constraint; remove ${key} here`,
        );
      }
    }
    const sink = optionalText(list, path, node, 'sink');
    if (sink !== undefined) entry.sink = sink;
  }
  const noteText = optionalText(list, path, node, 'note');
  if (noteText !== undefined) entry.note = noteText;
  const own = readDefaults(list, `${path}.defaults`, entryOf(node, 'defaults')?.value);
  const merged: Partial<PipelineDefaults> = { ...common, ...own };
  if (common.strategy !== undefined || own.strategy !== undefined)
    merged.strategy = { ...common.strategy, ...own.strategy };
  for (const key of DEFAULT_KEYS) {
    if (key !== 'lr' && merged[key] === undefined) {
      list.fail(
        `${path}.defaults.${key}`,
        node,
        `missing here and in the catalog's top-level defaults; allowed: ${allowedFor(key)}`,
      );
    }
  }
  if (merged.minfit !== undefined && merged.minav !== undefined && merged.minfit > merged.minav) {
    list.fail(
      `${path}.defaults.minfit`,
      node,
      `minfit (${merged.minfit}) is greater than minav (${merged.minav}); allowed: minfit ≤ minav`,
    );
  }
  entry.defaults = merged as PipelineDefaults;
  return list.problems.length > before ? undefined : entry;
}

function makeCatalog(
  fileName: string,
  name: string | undefined,
  note: string | undefined,
  entries: CatalogEntry[],
  warnings: Problem[],
): Catalog {
  const knownPairs = () => entries.map((e) => `${e.operation} ${e.operand}`);
  const catalog: Catalog = {
    fileName,
    entries,
    warnings: warnings.map((w) => formatProblem(w, fileName)),
    knownPairs,
    resolve(target, where) {
      const hit = entries.find((e) => e.operation === target.operation && e.operand === target.operand);
      if (hit !== undefined) return hit;
      const path = where?.path ?? 'targets[0]';
      const problem: Problem = {
        path: `${path}.operand`,
        message:
          `no pipeline in catalog ${fileName} for operation ${JSON.stringify(target.operation)} and operand ` +
          `${JSON.stringify(target.operand)}; known operation/operand pairs: ${knownPairs().join('; ')}`,
      };
      if (where?.line !== undefined) {
        problem.line = where.line;
        problem.column = where.column ?? 1;
      }
      throw new IntentError(422, [problem]);
    },
  };
  if (name !== undefined) catalog.name = name;
  if (note !== undefined) catalog.note = note;
  return catalog;
}

export function loadCatalog(path: string): Catalog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CatalogError(path, [
      { path: '', message: `cannot read the catalog: ${(err as Error).message}` },
    ]);
  }
  return parseCatalog(text, path);
}
