// Intent YAML → Intent. A user (curl, the sendintent CLI) uploads the YAML; parseIntentYaml checks
// it and returns a typed Intent plus warnings; resolve.ts maps the Intent to an FL pipeline through
// the operand catalog (catalog.ts). The FL setting rules, the name lists and the located-YAML reader
// defined here are shared with the catalog, the /receive form fields and the cohort configs, so all
// of them accept and reject the same values with the same words.
//
// Status codes (IntentError.status): 413 the text is larger than maxBytes; 400 it is not usable
// YAML (syntax error, several documents, nesting too deep, alias bomb); 422 it is well-formed YAML
// whose content is not a valid intent (missing or mistyped fields, bad ids, values out of range,
// privacylevel other than high). Unknown keys are accepted and reported as warnings.

import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
} from 'yaml';
import { STRATEGY_NAMES, STRATEGY_SEED_SPELLING, type StrategyName } from '../../../common/strategies.ts';

// The strategy names are the shared contract (common/strategies.ts), which the adapter's strategy
// table must cover. The other name lists mirror the flower-adapter's (MODEL_NAMES in
// src/ml/models.ts, DATASET_NAMES in src/ml/datasets/registry.ts). They are copied, not imported:
// the MLFO reaches the adapter over HTTP only, and importing those modules would load tfjs into the
// MLFO for a list of names. mlfo/test/intent.test.ts compares the copies with the originals.
export { STRATEGY_NAMES, STRATEGY_SEED_SPELLING, type StrategyName };

export const SOURCE_NAMES = ['handmnist', 'fashionmnist', 'cifar'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** Model names a catalog or intent may name: the adapter's plus the seed's `mobilenet`. */
export const MODEL_NAMES = ['simple', 'complex', 'mobilenet'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
/** The models the flower-adapter can actually train; the others are accepted with a warning. */
export const ADAPTER_MODEL_NAMES: readonly ModelName[] = ['simple', 'complex'];

/** Seed semantics: `no` a new FL server, `nor` a new one with server numbering reset, `yes` reuse the previous one. */
export const SAMESERV_VALUES = ['no', 'nor', 'yes'] as const;
export type SameServ = (typeof SAMESERV_VALUES)[number];

export const CONSTRAINT_NAMES = [
  'privacylevel',
  'sourcekind',
  'modelkind',
  'avgalgo',
  'fracfit',
  'minfit',
  'minav',
  'numround',
  'sameserv',
] as const;
export type ConstraintName = (typeof CONSTRAINT_NAMES)[number];

/** The FL settings a user may give per intent (constraint) or per post (/receive form field). */
export const STRATEGY_SETTINGS = ['avgalgo', 'fracfit', 'minfit', 'minav', 'numround', 'sameserv'] as const;
export type StrategySetting = (typeof STRATEGY_SETTINGS)[number];
/** Each one's /receive form field: the seed's form spelled sameserv as sameserver. */
export const FORM_FIELD_OF = {
  avgalgo: 'avgalgo',
  fracfit: 'fracfit',
  minfit: 'minfit',
  minav: 'minav',
  numround: 'numround',
  sameserv: 'sameserver',
} as const satisfies Record<StrategySetting, string>;

/** Constraints as strings, exactly as MoMo carries them. */
export type Constraints = Partial<Record<ConstraintName, string>>;

/** The same constraints checked and typed. */
export interface ParsedConstraints {
  privacylevel?: 'high';
  sourcekind?: SourceName;
  modelkind?: ModelName;
  avgalgo?: StrategyName;
  fracfit?: number;
  minfit?: number;
  minav?: number;
  numround?: number;
  sameserv?: SameServ;
}

export interface Target {
  id: string;
  operation: string;
  operand: string;
  constraints: Constraints;
  parsed: ParsedConstraints;
}

export interface SourcePosition {
  line: number;
  column: number;
}

export interface Intent {
  intentID: string;
  targets: Target[];
  /** Where each field sat in the uploaded file, keyed by path (e.g. `targets[0].constraints.fracfit`). */
  positions?: Record<string, SourcePosition>;
  fileName?: string;
}

export interface Problem {
  /** e.g. `targets[0].constraints.fracfit`, `form.minfit`; empty for the document as a whole */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

export function formatProblem(p: Problem, fileName?: string): string {
  let where = fileName ?? '';
  if (p.line !== undefined) where += `${where === '' ? '' : ':'}${p.line}:${p.column ?? 1}`;
  return `${where === '' ? '' : `${where}: `}${p.path === '' ? '' : `${p.path}: `}${p.message}`;
}

export type IntentStatus = 400 | 413 | 422;

export class IntentError extends Error {
  constructor(
    readonly status: IntentStatus,
    readonly problems: Problem[],
    readonly fileName?: string,
  ) {
    super(problems.map((p) => formatProblem(p, fileName)).join('\n'));
    this.name = 'IntentError';
  }
}

// ---------------------------------------------------------------------------------------------
// FL setting rules: the flower-adapter's ranges (flower-adapter/src/rest/session-params.ts).

export interface FlSettings {
  avgalgo: StrategyName;
  fracfit: number;
  minfit: number;
  minav: number;
  numround: number;
  sameserv: SameServ;
  epochs: number;
  batchsize: number;
  lr: number;
}
export type FlSettingName = keyof FlSettings;

interface NumberRule {
  integer: boolean;
  min: number;
  max: number;
  minExclusive?: boolean;
}

const NUMBER_RULES: Record<Exclude<FlSettingName, 'avgalgo' | 'sameserv'>, NumberRule> = {
  fracfit: { integer: false, min: 0, minExclusive: true, max: 1 },
  minfit: { integer: true, min: 1, max: 100000 },
  minav: { integer: true, min: 1, max: 100000 },
  numround: { integer: true, min: 1, max: 10000 },
  epochs: { integer: true, min: 1, max: 1000 },
  batchsize: { integer: true, min: 1, max: 65536 },
  lr: { integer: false, min: 0, minExclusive: true, max: 10 },
};

const DECIMAL_RE = /^\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** What a setting accepts, in words, for error messages. */
export function allowedFor(name: FlSettingName): string {
  if (name === 'avgalgo') return `one of ${STRATEGY_NAMES.map((s) => STRATEGY_SEED_SPELLING[s]).join(', ')}`;
  if (name === 'sameserv') return `one of ${SAMESERV_VALUES.join(', ')}`;
  const r = NUMBER_RULES[name];
  return `${r.integer ? 'an integer' : 'a number'} in ${r.minExclusive ? '(' : '['}${r.min}, ${r.max}]`;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** Checks one FL setting given as text (form field, MoMo constraint) or as a YAML number. */
export function checkFlSetting<K extends FlSettingName>(
  name: K,
  raw: string | number,
): Checked<FlSettings[K]> {
  const text = String(raw).trim();
  const bad = { ok: false as const, message: `got ${JSON.stringify(raw)}; allowed: ${allowedFor(name)}` };
  if (name === 'avgalgo' || name === 'sameserv') {
    const list: readonly string[] = name === 'avgalgo' ? STRATEGY_NAMES : SAMESERV_VALUES;
    const hit = list.find((v) => v === text.toLowerCase());
    return hit === undefined ? bad : { ok: true, value: hit as FlSettings[K] };
  }
  const rule = NUMBER_RULES[name as keyof typeof NUMBER_RULES];
  if (!DECIMAL_RE.test(text)) return bad;
  const n = Number(text);
  const inRange =
    Number.isFinite(n) &&
    (!rule.integer || Number.isInteger(n)) &&
    (rule.minExclusive ? n > rule.min : n >= rule.min) &&
    n <= rule.max;
  return inRange ? { ok: true, value: n as FlSettings[K] } : bad;
}

/** Matches a name case-insensitively against a list and returns the list's spelling. */
export function checkName<T extends string>(raw: string, list: readonly T[]): Checked<T> {
  const hit = list.find((v) => v.toLowerCase() === raw.trim().toLowerCase());
  return hit === undefined
    ? { ok: false, message: `unknown value ${JSON.stringify(raw)}; allowed: ${list.join(', ')}` }
    : { ok: true, value: hit };
}

export const ID_RULE =
  "1–128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit";
export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

// ---------------------------------------------------------------------------------------------
// Located YAML: the document turned into plain maps, lists and scalars that remember their line and
// column, so every checker (intent, catalog, cohort config) can point at the offending node.

interface Located {
  line?: number;
  column?: number;
}
export interface YamlMap extends Located {
  kind: 'map';
  entries: YamlEntry[];
}
export interface YamlEntry extends Located {
  key: string;
  value: YamlValue;
}
export interface YamlSeq extends Located {
  kind: 'seq';
  items: YamlValue[];
}
export interface YamlScalar extends Located {
  kind: 'scalar';
  value: string | number | boolean | null;
  /** the scalar as written (numbers keep their spelling, e.g. `0.50`) */
  text: string;
}
export type YamlValue = YamlMap | YamlSeq | YamlScalar;

export interface ReadYamlOptions {
  fileName?: string;
  /** default 1 MiB */
  maxBytes?: number;
  /** default 100; see yaml's ToJSOptions.maxAliasCount */
  maxAliasCount?: number;
  /** what the text is, for messages: "intent", "catalog" */
  what?: string;
}

export type YamlRead =
  | { ok: true; root: YamlValue | undefined; warnings: Problem[] }
  | { ok: false; status: 400 | 413; problems: Problem[] };

export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const DEFAULT_MAX_ALIAS_COUNT = 100;
// A bound on nodes produced while resolving aliases, on top of yaml's maxAliasCount check.
const MAX_NODES = 200_000;

export function readYaml(text: string, opts: ReadYamlOptions = {}): YamlRead {
  const what = opts.what ?? 'document';
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxAliasCount = opts.maxAliasCount ?? DEFAULT_MAX_ALIAS_COUNT;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    return {
      ok: false,
      status: 413,
      problems: [{ path: '', message: `the ${what} is ${bytes} bytes; allowed: at most ${maxBytes} bytes` }],
    };
  }
  const lc = new LineCounter();
  const at = (offset: number | undefined): { line?: number; column?: number } => {
    if (offset === undefined) return {};
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  let doc: Document.Parsed;
  try {
    // prettyErrors off: yaml's error snippet builder runs out of memory on pathological nesting.
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    return { ok: false, status: 400, problems: [{ path: '', message: `not valid YAML: ${String(err)}` }] };
  }
  if (doc.errors.length > 0) {
    return {
      ok: false,
      status: 400,
      problems: doc.errors.map((e) => ({
        path: '',
        ...at(e.pos[0]),
        message: yamlErrorMessage(e.code, e.message),
      })),
    };
  }
  try {
    doc.toJS({ maxAliasCount });
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      let firstAlias: number | undefined;
      visit(doc, {
        Alias(_, node) {
          firstAlias = node.range?.[0];
          return visit.BREAK;
        },
      });
      return {
        ok: false,
        status: 400,
        problems: [
          {
            path: '',
            ...at(firstAlias),
            message:
              `YAML aliases (*name) here would expand beyond ${maxAliasCount} nodes, as an alias bomb ("billion laughs") does; ` +
              `allowed: aliases whose expansion stays within ${maxAliasCount}`,
          },
        ],
      };
    }
    return { ok: false, status: 400, problems: [{ path: '', message: `not usable YAML: ${String(err)}` }] };
  }
  const warnings: Problem[] = doc.warnings.map((w) => ({
    path: '',
    ...at(w.pos[0]),
    message: yamlErrorMessage(w.code, w.message),
  }));
  const problems: Problem[] = [];
  let budget = MAX_NODES;
  const ancestors = new Set<unknown>();
  const convert = (node: unknown, fallback: Located): YamlValue => {
    if (--budget < 0) throw new RangeError('too many nodes');
    let target = node;
    if (isAlias(node)) target = node.resolve(doc);
    const range = (target as { range?: [number, number, number] } | null)?.range;
    const pos = range ? at(isAlias(node) ? node.range?.[0] : range[0]) : fallback;
    if (ancestors.has(target)) {
      problems.push({
        path: '',
        ...pos,
        message: 'an alias refers to a node that contains it; allowed: aliases without cycles',
      });
      return { kind: 'scalar', value: null, text: '', ...pos };
    }
    if (isMap(target)) {
      ancestors.add(target);
      const entries: YamlEntry[] = [];
      for (const pair of target.items) {
        if (!isPair(pair)) continue;
        const k = pair.key;
        const keyPos = isScalar(k) && k.range ? at(k.range[0]) : pos;
        const key = isScalar(k) ? String(k.value ?? '') : k === null ? '' : '[complex key]';
        entries.push({ key, ...keyPos, value: convert(pair.value, keyPos) });
      }
      ancestors.delete(target);
      return { kind: 'map', entries, ...pos };
    }
    if (isSeq(target)) {
      ancestors.add(target);
      const items = target.items.map((item) => convert(item, pos));
      ancestors.delete(target);
      return { kind: 'seq', items, ...pos };
    }
    if (isScalar(target)) {
      const v = target.value;
      const value =
        v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
          ? v
          : String(v);
      const text = value === null ? '' : typeof value === 'string' ? value : (target.source ?? String(value));
      return { kind: 'scalar', value, text, ...pos };
    }
    return { kind: 'scalar', value: null, text: '', ...pos };
  };
  let root: YamlValue | undefined;
  try {
    root = doc.contents === null ? undefined : convert(doc.contents, { line: 1, column: 1 });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    problems.push({
      path: '',
      message: `expands to more than ${MAX_NODES} nodes; allowed: at most ${MAX_NODES}`,
    });
  }
  if (problems.length > 0) return { ok: false, status: 400, problems };
  return { ok: true, root, warnings };
}

function yamlErrorMessage(code: string, message: string): string {
  const first = (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  if (code === 'MULTIPLE_DOCS') return 'contains more than one YAML document (---); allowed: exactly one';
  if (code === 'RESOURCE_EXHAUSTION')
    return `nested too deeply to parse (${first}); allowed: ordinary nesting`;
  if (code === 'DUPLICATE_KEY') return 'a key appears twice in the same mapping; allowed: each key once';
  return `not valid YAML: ${first}`;
}

/** Plain JavaScript (e.g. a decoded MoMo message) as located YAML without positions. */
export function yamlValueFromPlain(value: unknown, depth = 0): YamlValue {
  if (depth > 32) return { kind: 'scalar', value: null, text: '' };
  if (Array.isArray(value)) return { kind: 'seq', items: value.map((v) => yamlValueFromPlain(v, depth + 1)) };
  if (value !== null && typeof value === 'object') {
    return {
      kind: 'map',
      entries: Object.entries(value).map(([key, v]) => ({ key, value: yamlValueFromPlain(v, depth + 1) })),
    };
  }
  if (value === null || value === undefined) return { kind: 'scalar', value: null, text: '' };
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return { kind: 'scalar', value, text: String(value) };
  }
  return { kind: 'scalar', value: String(value), text: String(value) };
}

export function describeYaml(v: YamlValue): string {
  if (v.kind === 'map') return 'a mapping';
  if (v.kind === 'seq') return 'a list';
  if (v.value === null) return 'nothing';
  return `${typeof v.value} ${JSON.stringify(v.value)}`;
}

/** Collects problems and warnings with the position of the node they are about. */
export class ProblemList {
  readonly problems: Problem[] = [];
  readonly warnings: Problem[] = [];
  readonly positions: Record<string, SourcePosition> = {};

  fail(path: string, at: Located | undefined, message: string): void {
    this.problems.push({ path, ...pos(at), message });
  }

  warn(path: string, at: Located | undefined, message: string): void {
    this.warnings.push({ path, ...pos(at), message });
  }

  note(path: string, at: Located | undefined): void {
    if (at?.line !== undefined) this.positions[path] = { line: at.line, column: at.column ?? 1 };
  }
}

function pos(at: Located | undefined): { line?: number; column?: number } {
  return at?.line === undefined ? {} : { line: at.line, column: at.column ?? 1 };
}

export function entryOf(map: YamlMap, key: string): YamlEntry | undefined {
  return map.entries.find((e) => e.key === key);
}

/** A scalar's text, or a problem when the node is missing, empty or not a scalar. */
export function scalarText(
  list: ProblemList,
  path: string,
  node: YamlValue | undefined,
  at: Located | undefined,
  expected: string,
): string | undefined {
  if (node === undefined) {
    list.fail(path, at, `missing; expected ${expected}`);
    return undefined;
  }
  list.note(path, node);
  if (node.kind !== 'scalar' || node.value === null || node.text.trim() === '') {
    list.fail(path, node, `got ${describeYaml(node)}; expected ${expected}`);
    return undefined;
  }
  return node.text.trim();
}

// ---------------------------------------------------------------------------------------------
// Intent checking.

const TOP_KEYS = ['intentID', 'targets'];
const TARGET_KEYS = ['id', 'operation', 'operand', 'constraints'];
const PRIVACY_MESSAGE =
  'only federated-learning pipelines exist here, so privacylevel high is the only supported value';

interface CheckOptions {
  /** user intents must say privacylevel high; a seed-generation MoMo intent may leave it empty */
  requirePrivacylevel: boolean;
  /** proto3 cannot tell an empty string from an absent field; YAML can, so there an empty value is a warning */
  emptyIsAbsent: boolean;
}

/** Checks string constraints (from YAML or MoMo) into their typed form, recording problems under `path`. */
export function checkConstraints(
  list: ProblemList,
  path: string,
  values: Partial<Record<ConstraintName, { text: string; at?: Located }>>,
): ParsedConstraints {
  const parsed: ParsedConstraints = {};
  for (const name of CONSTRAINT_NAMES) {
    const v = values[name];
    if (v === undefined) continue;
    const p = `${path}.${name}`;
    let r: Checked<unknown>;
    if (name === 'privacylevel') {
      r =
        v.text.toLowerCase() === 'high'
          ? { ok: true, value: 'high' }
          : { ok: false, message: `got ${JSON.stringify(v.text)}; ${PRIVACY_MESSAGE}` };
    } else if (name === 'sourcekind') r = checkName(v.text, SOURCE_NAMES);
    else if (name === 'modelkind') r = checkName(v.text, MODEL_NAMES);
    else r = checkFlSetting(name, v.text);
    if (r.ok) (parsed as Record<string, unknown>)[name] = r.value;
    else list.fail(p, v.at, r.message);
  }
  if (parsed.minfit !== undefined && parsed.minav !== undefined && parsed.minfit > parsed.minav) {
    list.fail(
      `${path}.minfit`,
      values.minfit?.at,
      `minfit (${parsed.minfit}) is greater than minav (${parsed.minav}); allowed: minfit ≤ minav`,
    );
  }
  return parsed;
}

function checkIntent(root: YamlValue | undefined, list: ProblemList, opts: CheckOptions): Intent {
  const intent: Intent = { intentID: '', targets: [] };
  if (root === undefined || (root.kind === 'scalar' && root.value === null)) {
    list.fail('', root, 'the intent is empty; expected a mapping with intentID and targets');
    return intent;
  }
  if (root.kind !== 'map') {
    list.fail('', root, `got ${describeYaml(root)}; expected a mapping with intentID and targets`);
    return intent;
  }
  for (const e of root.entries) {
    if (!TOP_KEYS.includes(e.key)) list.warn(e.key, e, `unknown key, ignored; known: ${TOP_KEYS.join(', ')}`);
  }
  const idEntry = entryOf(root, 'intentID');
  const id = scalarText(list, 'intentID', idEntry?.value, idEntry ?? root, `intentID: <id> (${ID_RULE})`);
  if (id !== undefined) {
    if (ID_RE.test(id)) intent.intentID = id;
    else list.fail('intentID', idEntry?.value, `got ${JSON.stringify(id)}; allowed: ${ID_RULE}`);
  }
  const targetsEntry = entryOf(root, 'targets');
  const targets = targetsEntry?.value;
  if (targets === undefined) {
    list.fail(
      'targets',
      root,
      'missing; expected a list of targets, each with id, operation, operand and constraints',
    );
    return intent;
  }
  list.note('targets', targets);
  if (targets.kind !== 'seq' || targets.items.length === 0) {
    list.fail(
      'targets',
      targets,
      `got ${targets.kind === 'seq' ? 'an empty list' : describeYaml(targets)}; expected a list of at least one target`,
    );
    return intent;
  }
  targets.items.forEach((node, i) => {
    const t = checkTarget(node, `targets[${i}]`, list, opts);
    if (t !== undefined) intent.targets.push(t);
  });
  return intent;
}

function checkTarget(
  node: YamlValue,
  path: string,
  list: ProblemList,
  opts: CheckOptions,
): Target | undefined {
  list.note(path, node);
  if (node.kind !== 'map') {
    list.fail(
      path,
      node,
      `got ${describeYaml(node)}; expected a mapping with id, operation, operand and constraints`,
    );
    return undefined;
  }
  for (const e of node.entries) {
    if (!TARGET_KEYS.includes(e.key))
      list.warn(`${path}.${e.key}`, e, `unknown key, ignored; known: ${TARGET_KEYS.join(', ')}`);
  }
  const field = (key: string): string => {
    const e = entryOf(node, key);
    const v = scalarText(list, `${path}.${key}`, e?.value, e ?? node, `${key}: <name> (${ID_RULE})`);
    if (v !== undefined && !ID_RE.test(v)) {
      list.fail(`${path}.${key}`, e?.value, `got ${JSON.stringify(v)}; allowed: ${ID_RULE}`);
    }
    return v ?? '';
  };
  const target: Target = {
    id: field('id'),
    operation: field('operation'),
    operand: field('operand'),
    constraints: {},
    parsed: {},
  };
  const cEntry = entryOf(node, 'constraints');
  const cPath = `${path}.constraints`;
  const values: Partial<Record<ConstraintName, { text: string; at?: Located }>> = {};
  if (cEntry === undefined || (cEntry.value.kind === 'scalar' && cEntry.value.value === null)) {
    if (opts.requirePrivacylevel)
      list.fail(
        cPath,
        cEntry ?? node,
        `missing; expected constraints with privacylevel: high (${PRIVACY_MESSAGE})`,
      );
  } else if (cEntry.value.kind !== 'map') {
    list.fail(cPath, cEntry.value, `got ${describeYaml(cEntry.value)}; expected a mapping of constraints`);
  } else {
    list.note(cPath, cEntry.value);
    for (const e of cEntry.value.entries) {
      const p = `${cPath}.${e.key}`;
      if (!(CONSTRAINT_NAMES as readonly string[]).includes(e.key)) {
        list.warn(p, e, `unknown constraint, ignored; known: ${CONSTRAINT_NAMES.join(', ')}`);
        continue;
      }
      list.note(p, e.value);
      const name = e.key as ConstraintName;
      if (e.value.kind !== 'scalar') {
        list.fail(p, e.value, `got ${describeYaml(e.value)}; expected a single value`);
      } else if (e.value.value === null || e.value.text.trim() === '') {
        if (!opts.emptyIsAbsent) list.warn(p, e, 'has no value, ignored');
      } else {
        const text = e.value.text.trim();
        target.constraints[name] = text;
        values[name] = { text, at: e.value };
      }
    }
    if (opts.requirePrivacylevel && values.privacylevel === undefined) {
      list.fail(
        `${cPath}.privacylevel`,
        cEntry.value,
        `missing; expected privacylevel: high (${PRIVACY_MESSAGE})`,
      );
    }
  }
  target.parsed = checkConstraints(list, cPath, values);
  return target;
}

export interface ParseIntentOptions {
  fileName?: string;
  /** default 1 MiB */
  maxBytes?: number;
  /** default 100 */
  maxAliasCount?: number;
}

export function parseIntentYaml(
  text: string,
  opts: ParseIntentOptions = {},
): { intent: Intent; warnings: string[] } {
  const read = readYaml(text, { ...opts, what: 'intent' });
  if (!read.ok) throw new IntentError(read.status, read.problems, opts.fileName);
  const list = new ProblemList();
  const intent = checkIntent(read.root, list, { requirePrivacylevel: true, emptyIsAbsent: false });
  if (list.problems.length > 0) throw new IntentError(422, list.problems, opts.fileName);
  intent.positions = list.positions;
  if (opts.fileName !== undefined) intent.fileName = opts.fileName;
  return {
    intent,
    warnings: [...read.warnings, ...list.warnings].map((w) => formatProblem(w, opts.fileName)),
  };
}

/**
 * Checks an intent given as a plain object `{intentID, targets: [{id, operation, operand, constraints}]}`,
 * e.g. decoded from MoMo. Empty strings count as absent (proto3 sends them for unset fields), and
 * privacylevel may be absent: seed-generation MLFOs left it empty in the intents they derived.
 */
export function intentFromObject(value: unknown, origin?: string): { intent: Intent; warnings: string[] } {
  const list = new ProblemList();
  const intent = checkIntent(yamlValueFromPlain(value), list, {
    requirePrivacylevel: false,
    emptyIsAbsent: true,
  });
  if (list.problems.length > 0) throw new IntentError(422, list.problems, origin);
  return { intent, warnings: list.warnings.map((w) => formatProblem(w, origin)) };
}

/** The MoMo message shape (mlfo/src/momo/momo.proto), kept structural so this module needs no gRPC. */
export interface MomoIntentShape {
  intentID: string;
  Targets: Array<{ ID: string; operation: string; operand: string; Constraints?: Constraints | null }>;
}

export function intentFromMomo(
  m: MomoIntentShape,
  origin = 'MoMo Deploy',
): { intent: Intent; warnings: string[] } {
  return intentFromObject(
    {
      intentID: m.intentID,
      targets: (m.Targets ?? []).map((t) => ({
        id: t.ID,
        operation: t.operation,
        operand: t.operand,
        constraints: t.Constraints ?? {},
      })),
    },
    origin,
  );
}

export function intentToMomo(intent: Intent): {
  intentID: string;
  Targets: Array<{
    ID: string;
    operation: string;
    operand: string;
    Constraints: Record<ConstraintName, string>;
  }>;
} {
  return {
    intentID: intent.intentID,
    Targets: intent.targets.map((t) => ({
      ID: t.id,
      operation: t.operation,
      operand: t.operand,
      Constraints: Object.fromEntries(CONSTRAINT_NAMES.map((n) => [n, t.constraints[n] ?? ''])) as Record<
        ConstraintName,
        string
      >,
    })),
  };
}
