// Intent YAML → Intent. A user (curl, the sendintent CLI) uploads the YAML; parseIntentYaml checks
// it and returns a typed Intent plus warnings; intentFromObject does the same for a plain object
// (a decoded MoMo message). The rules and names it checks against are shared with the catalog, the
// /receive form fields and the cohort configs, so all of them accept and reject the same values
// with the same words.
//
// Status codes (IntentError.status): 413 the text is larger than maxBytes; 400 it is not usable
// YAML (syntax error, several documents, nesting too deep, alias bomb); 422 it is well-formed YAML
// whose content is not a valid intent (missing or mistyped fields, bad ids, values out of range,
// privacylevel other than high). Unknown keys are accepted and reported as warnings.

import {
  describeYaml,
  entryOf,
  type Located,
  readYaml,
  type YamlValue,
  yamlValueFromPlain,
} from '../yaml/located-yaml.ts';
import { formatProblem, type Problem } from '../yaml/problem.ts';
import { ProblemList, scalarText } from '../yaml/problem-list.ts';
import {
  CONSTRAINT_NAMES,
  type Intent,
  isStrategyParam,
  MODEL_NAMES,
  type ParsedConstraints,
  SOURCE_NAMES,
  STRATEGY_PARAM_NAMES,
  type Target,
} from './intent-schema.ts';
import {
  type Checked,
  checkFlSetting,
  checkName,
  checkStrategyParamText,
  ID_RE,
  ID_RULE,
} from './setting-rules.ts';

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
  values: Partial<Record<string, { text: string; at?: Located }>>,
): ParsedConstraints {
  const parsed: ParsedConstraints = {};
  for (const [name, v] of Object.entries(values)) {
    if (v === undefined || !isStrategyParam(name)) continue;
    const r = checkStrategyParamText(v.text);
    if (r.ok) parsed.strategyParams = { ...parsed.strategyParams, [name]: r.value };
    else list.fail(`${path}.${name}`, v.at, r.message);
  }
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
  const values: Partial<Record<string, { text: string; at?: Located }>> = {};
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
      if (!(CONSTRAINT_NAMES as readonly string[]).includes(e.key) && !isStrategyParam(e.key)) {
        list.warn(
          p,
          e,
          `unknown constraint, ignored; known: ${CONSTRAINT_NAMES.join(', ')} and the strategy settings ${STRATEGY_PARAM_NAMES.join(', ')}`,
        );
        continue;
      }
      list.note(p, e.value);
      const name = e.key;
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
