// Intent + /receive form fields + catalog → the FL pipeline an edge MLFO deploys, and the derived
// intent it sends to the cloud MLFO over MoMo; pipelineFromDerived is the cloud's side of that.
// Precedence for every FL setting: intent constraint > form field > catalog default, and
// settingsSource records which one won so a run report can say where each value came from.
// The strategy's own settings and central DP's (Flower's names: server_momentum, proximal_mu,
// clipping_norm, …) follow the same precedence (intent constraint > form field > the catalog's
// defaults.strategy, where the chosen strategy takes the setting), else the strategy's default
// (common/strategy-params.ts, the adapter's table), recorded as 'default';
// a required one missing, or one the chosen strategy does not take, is a 422 naming the field.
// Nothing here deploys anything.

import {
  checkStrategySettings,
  DP_PARAMS,
  STRATEGY_PARAM_NAMES,
  STRATEGY_PARAMS,
} from '../../../common/strategy-params.ts';
import type { Catalog, CatalogEntry } from './catalog.ts';
import {
  ADAPTER_MODEL_NAMES,
  type Constraints,
  CONSTRAINT_NAMES,
  FORM_FIELD_OF,
  type Intent,
  type ModelName,
  type ParsedConstraints,
  type SameServ,
  type SourceName,
  STRATEGY_SEED_SPELLING,
  STRATEGY_SETTINGS,
  type StrategyName,
  type StrategySetting,
  type Target,
} from '../../../common/intent/intent-schema.ts';
import {
  allowedFor,
  checkFlSetting,
  checkStrategyParamText,
  type FlSettings,
  ID_RE,
} from '../../../common/intent/setting-rules.ts';
import { checkConstraints, IntentError } from '../../../common/intent/parse-intent.ts';
import { formatProblem, type Problem, type SourcePosition } from '../../../common/yaml/problem.ts';
import { ProblemList } from '../../../common/yaml/problem-list.ts';

export type SettingOrigin = 'intent' | 'form' | 'catalog';
/** Where a strategy setting came from: 'default' is the strategy's own default (Flower's). */
export type StrategyParamOrigin = 'intent' | 'form' | 'catalog' | 'default';

export type PipelineSetting =
  | 'source'
  | 'model'
  | 'algo'
  | 'fracfit'
  | 'minfit'
  | 'minav'
  | 'numround'
  | 'epochs'
  | 'batchsize'
  | 'lr'
  | 'sameserv';

export interface ResolvedPipeline {
  intentID: string;
  targetId: string;
  operation: string;
  operand: string;
  source: SourceName;
  model: ModelName;
  sink: string;
  algo: StrategyName;
  fracfit: number;
  minfit: number;
  minav: number;
  numround: number;
  epochs: number;
  batchsize: number;
  /** undefined: the flower-adapter's own default */
  lr?: number;
  sameserv: SameServ;
  /** the clients are 10.0.1.<ipstart> … 10.0.1.<ipstart + cohortsize − 1>, as in the seed */
  cohort: { ipstart?: number; cohortsize?: number };
  /** The strategy's own settings and central DP's (Flower's names), defaults filled in; {} for plain FedAvg. */
  strategyParams: Record<string, number>;
  /** …and per strategy setting (by its name) whether the intent, a form field or the strategy's default gave it. */
  settingsSource: Record<PipelineSetting, SettingOrigin> & {
    [strategySetting: string]: SettingOrigin | 'default';
  };
  catalogFile: string;
  /** the catalog's and the entry's notes, e.g. that a stand-in dataset is used */
  notes: string[];
}

/** The /receive text fields of the seed contract. */
export const FORM_FIELDS = [
  'ipstart',
  'cohortsize',
  'sameserver',
  'avgalgo',
  'fracfit',
  'minfit',
  'minav',
  'numround',
] as const;

/** /receive also takes the strategy settings as form fields of their (Flower's) names. */
const KNOWN_FORM_FIELDS: readonly string[] = [...FORM_FIELDS, ...STRATEGY_PARAM_NAMES];

export const DERIVED_TARGET_ID = 'cloud0-001';
export const AGGREGATE_OPERATION = 'aggregate.global';
export const AGGREGATE_OPERAND = 'model.federated';

// Clients sit at 10.0.1.<n> in the seed topology, so a cohort must stay inside host addresses 1–254.
const LAST_HOST_OCTET = 254;

const SETTING_KEY: Record<StrategySetting, PipelineSetting> = {
  avgalgo: 'algo',
  fracfit: 'fracfit',
  minfit: 'minfit',
  minav: 'minav',
  numround: 'numround',
  sameserv: 'sameserv',
};

interface Chosen<T> {
  value: T;
  origin: SettingOrigin;
  /** where it came from, for messages */
  where: string;
  path: string;
  at?: SourcePosition;
}

function positionOf(intent: Intent, path: string): SourcePosition | undefined {
  return intent.positions?.[path];
}

function problemAt(path: string, message: string, at?: SourcePosition): Problem {
  return at === undefined ? { path, message } : { path, line: at.line, column: at.column, message };
}

function readForm(
  form: Record<string, string | undefined>,
  list: ProblemList,
): {
  settings: Partial<FlSettings>;
  raw: Partial<Record<string, string>>;
  params: Record<string, number>;
  ipstart?: number;
  cohortsize?: number;
} {
  const settings: Partial<FlSettings> = {};
  const raw: Partial<Record<string, string>> = {};
  const params: Record<string, number> = {};
  for (const [key, value] of Object.entries(form)) {
    if (key === 'file' || KNOWN_FORM_FIELDS.includes(key)) continue;
    if (value !== undefined && value !== '')
      list.warn(
        `form.${key}`,
        undefined,
        `unknown form field, ignored; known: ${KNOWN_FORM_FIELDS.join(', ')}`,
      );
  }
  const text = (field: string): string | undefined => {
    const v = form[field]?.trim();
    if (v === undefined || v === '') return undefined;
    raw[field] = v;
    return v;
  };
  for (const s of STRATEGY_SETTINGS) {
    const v = text(FORM_FIELD_OF[s]);
    if (v === undefined) continue;
    const r = checkFlSetting(s, v);
    if (r.ok) (settings as Record<string, unknown>)[s] = r.value;
    else list.fail(`form.${FORM_FIELD_OF[s]}`, undefined, r.message);
  }
  for (const name of STRATEGY_PARAM_NAMES) {
    const v = text(name);
    if (v === undefined) continue;
    const r = checkStrategyParamText(v);
    if (r.ok) params[name] = r.value;
    else list.fail(`form.${name}`, undefined, r.message);
  }
  const octet = (field: 'ipstart' | 'cohortsize'): number | undefined => {
    const v = text(field);
    if (v === undefined) return undefined;
    if (/^\d{1,3}$/.test(v) && Number(v) >= 1 && Number(v) <= LAST_HOST_OCTET) return Number(v);
    list.fail(
      `form.${field}`,
      undefined,
      `got ${JSON.stringify(v)}; allowed: an integer in [1, ${LAST_HOST_OCTET}]`,
    );
    return undefined;
  };
  const ipstart = octet('ipstart');
  const cohortsize = octet('cohortsize');
  if (ipstart !== undefined && cohortsize !== undefined && ipstart + cohortsize - 1 > LAST_HOST_OCTET) {
    list.fail(
      'form.cohortsize',
      undefined,
      `ipstart ${ipstart} + cohortsize ${cohortsize} runs past 10.0.1.${LAST_HOST_OCTET}; allowed: ipstart + cohortsize − 1 ≤ ${LAST_HOST_OCTET}`,
    );
  }
  const out: {
    settings: Partial<FlSettings>;
    raw: Partial<Record<string, string>>;
    params: Record<string, number>;
    ipstart?: number;
    cohortsize?: number;
  } = {
    settings,
    raw,
    params,
  };
  if (ipstart !== undefined) out.ipstart = ipstart;
  if (cohortsize !== undefined) out.cohortsize = cohortsize;
  return out;
}

function catalogWhere(catalog: Catalog, entry: CatalogEntry): string {
  return `catalog ${catalog.fileName}${entry.line === undefined ? '' : `:${entry.line}`} (${entry.operation} ${entry.operand})`;
}

function minfitMinavProblem(minfit: Chosen<number>, minav: Chosen<number>): Problem | undefined {
  if (minfit.value <= minav.value) return undefined;
  // Blame the setting that came from the stronger source: that is the one the user wrote.
  const rank: Record<SettingOrigin, number> = { intent: 2, form: 1, catalog: 0 };
  const blamed = rank[minfit.origin] >= rank[minav.origin] ? minfit : minav;
  return problemAt(
    blamed.path,
    `minfit ${minfit.value} (from ${minfit.where}) is greater than minav ${minav.value} (from ${minav.where}); allowed: minfit ≤ minav`,
    blamed.at,
  );
}

/** Turns a user intent into the edge pipeline and the intent derived for the cloud MLFO. */
export function resolveIntent(
  intent: Intent,
  formFields: Record<string, string | undefined>,
  catalog: Catalog,
): { pipeline: ResolvedPipeline; derived: Intent; warnings: string[] } {
  const { target, entry } = pipelineEntry(intent, catalog);
  const list = new ProblemList();
  const form = readForm(formFields, list);
  if (list.problems.length > 0) throw new IntentError(422, list.problems, 'form fields');
  const chosen = chooseSettings(intent, target, form, { catalog, entry }, list);
  const pairProblem = minfitMinavProblem(chosen.minfit, chosen.minav);
  if (pairProblem !== undefined) {
    const file = pairProblem.path.startsWith('targets') ? intent.fileName : undefined;
    throw new IntentError(422, [pairProblem], file);
  }
  const params = chooseStrategyParams(intent, target, form, chosen, { catalog, entry }, list);
  const pipeline = buildPipeline(intent, target, form, chosen, { catalog, entry });
  pipeline.strategyParams = params.values;
  Object.assign(pipeline.settingsSource, params.source);
  warnAboutPipeline(intent, pipeline, form, chosen, { catalog, entry }, list);
  return {
    pipeline,
    derived: deriveIntent(pipeline),
    warnings: list.warnings.map((w) =>
      formatProblem(w, w.path.startsWith('targets') ? intent.fileName : undefined),
    ),
  };
}

type ClientEntry = CatalogEntry & { source: SourceName; model: ModelName; sink: string };
type ReadForm = ReturnType<typeof readForm>;
type ChosenSettings = { [K in StrategySetting]: Chosen<FlSettings[K]> };
interface FromCatalog {
  catalog: Catalog;
  entry: ClientEntry;
}

/** The intent's one target, federated (privacy high), and the catalog entry it resolves to. */
function pipelineEntry(intent: Intent, catalog: Catalog): { target: Target; entry: ClientEntry } {
  const file = intent.fileName;
  if (intent.targets.length !== 1) {
    throw new IntentError(
      422,
      [
        problemAt(
          'targets',
          `has ${intent.targets.length} targets; allowed: exactly one target per intent (send one intent per target)`,
          positionOf(intent, 'targets'),
        ),
      ],
      file,
    );
  }
  const target = intent.targets[0] as Target;
  const tPath = 'targets[0]';
  const cPath = `${tPath}.constraints`;
  if (target.parsed.privacylevel !== 'high') {
    throw new IntentError(
      422,
      [
        problemAt(
          `${cPath}.privacylevel`,
          'missing; expected privacylevel: high (only federated-learning pipelines exist here)',
          positionOf(intent, cPath) ?? positionOf(intent, tPath),
        ),
      ],
      file,
    );
  }
  let entry: CatalogEntry;
  try {
    entry = catalog.resolve(target, { path: tPath, ...positionOf(intent, `${tPath}.operand`) });
  } catch (err) {
    if (err instanceof IntentError) throw new IntentError(err.status, err.problems, file);
    throw err;
  }
  if (
    entry.role !== 'client' ||
    entry.source === undefined ||
    entry.model === undefined ||
    entry.sink === undefined
  ) {
    const clientPairs = catalog.entries
      .filter((e) => e.role === 'client')
      .map((e) => `${e.operation} ${e.operand}`);
    throw new IntentError(
      422,
      [
        problemAt(
          `${tPath}.operation`,
          `${target.operation} ${target.operand} is what an edge MLFO asks of the cloud MLFO over MoMo, not a user intent; ` +
            `allowed here: ${clientPairs.join('; ')}`,
          positionOf(intent, `${tPath}.operation`),
        ),
      ],
      file,
    );
  }
  return { target, entry: entry as ClientEntry };
}

/** Every FL setting from the intent, else the form, else the catalog, with where it came from. */
function chooseSettings(
  intent: Intent,
  target: Target,
  form: ReadForm,
  { catalog, entry }: FromCatalog,
  list: ProblemList,
): ChosenSettings {
  const cPath = 'targets[0].constraints';
  const chosen = {} as ChosenSettings;
  for (const s of STRATEGY_SETTINGS) {
    const fromIntent = target.parsed[s];
    const fromForm = form.settings[s];
    const path = `${cPath}.${s}`;
    let c: Chosen<unknown>;
    if (fromIntent !== undefined) {
      const at = positionOf(intent, path);
      c = {
        value: fromIntent,
        origin: 'intent',
        where: `intent ${path}${at ? ` (line ${at.line})` : ''}`,
        path,
      };
      if (at !== undefined) c.at = at;
      if (fromForm !== undefined && fromForm !== fromIntent) {
        list.warn(
          `form.${FORM_FIELD_OF[s]}`,
          undefined,
          `${JSON.stringify(form.raw[FORM_FIELD_OF[s]])} is overridden by the intent's ${s} ${JSON.stringify(target.constraints[s])}`,
        );
      }
    } else if (fromForm !== undefined) {
      c = {
        value: fromForm,
        origin: 'form',
        where: `form field ${FORM_FIELD_OF[s]}`,
        path: `form.${FORM_FIELD_OF[s]}`,
      };
    } else {
      c = {
        value: entry.defaults[s],
        origin: 'catalog',
        where: catalogWhere(catalog, entry),
        path: catalog.fileName,
      };
    }
    (chosen as Record<string, Chosen<unknown>>)[s] = c;
  }
  return chosen;
}

/**
 * The strategy settings: each from the intent, else the form, else the strategy's default; checked
 * against the chosen strategy's table (common/strategy-params.ts) with minfit and minav as chosen.
 */
function chooseStrategyParams(
  intent: Intent,
  target: Target,
  form: ReadForm,
  chosen: ChosenSettings,
  { entry }: FromCatalog,
  list: ProblemList,
): { values: Record<string, number>; source: Record<string, StrategyParamOrigin> } {
  const cPath = 'targets[0].constraints';
  const fromIntent = target.parsed.strategyParams ?? {};
  const takes = new Set([
    ...STRATEGY_PARAMS[chosen.avgalgo.value].params.map((p) => p.name),
    ...DP_PARAMS.map((p) => p.name),
  ]);
  const fromCatalog = Object.fromEntries(
    Object.entries(entry.defaults.strategy ?? {}).filter(([name]) => takes.has(name)),
  );
  const given: Record<string, number> = { ...fromCatalog, ...form.params, ...fromIntent };
  const source: Record<string, StrategyParamOrigin> = {};
  for (const name of Object.keys(given)) {
    source[name] = Object.hasOwn(fromIntent, name)
      ? 'intent'
      : Object.hasOwn(form.params, name)
        ? 'form'
        : 'catalog';
    if (
      source[name] === 'intent' &&
      form.params[name] !== undefined &&
      form.params[name] !== fromIntent[name]
    ) {
      list.warn(
        `form.${name}`,
        undefined,
        `${JSON.stringify(form.raw[name])} is overridden by the intent's ${name} ${JSON.stringify(target.constraints[name])}`,
      );
    }
  }
  const algo = chosen.avgalgo;
  const checked = checkStrategySettings(algo.value, given, {
    minFitClients: chosen.minfit.value,
    minAvailableClients: chosen.minav.value,
    // the FL server evaluates centrally: the pipeline always has a source and a model
    hasEvaluateFn: true,
  });
  if (checked.problems.length > 0) {
    const problems = checked.problems.map(([field, message]) => {
      const path =
        source[field] === 'intent'
          ? `${cPath}.${field}`
          : source[field] === 'form'
            ? `form.${field}`
            : field === 'algo'
              ? algo.path
              : algo.origin === 'intent'
                ? `${cPath}.${field}`
                : `form.${field}`;
      return problemAt(
        path,
        `${message} (avgalgo ${STRATEGY_SEED_SPELLING[algo.value]}, from ${algo.where})`,
        positionOf(intent, path),
      );
    });
    const inFile = problems.some((p) => p.path.startsWith('targets'));
    throw new IntentError(422, problems, inFile ? intent.fileName : undefined);
  }
  const values = { ...checked.own, ...checked.dp };
  for (const name of Object.keys(values)) source[name] ??= 'default';
  return { values, source };
}

function buildPipeline(
  intent: Intent,
  target: Target,
  form: ReadForm,
  chosen: ChosenSettings,
  { catalog, entry }: FromCatalog,
): ResolvedPipeline {
  const settingsSource = {
    source: target.parsed.sourcekind !== undefined ? 'intent' : 'catalog',
    model: target.parsed.modelkind !== undefined ? 'intent' : 'catalog',
    epochs: 'catalog',
    batchsize: 'catalog',
    lr: 'catalog',
  } as ResolvedPipeline['settingsSource'];
  for (const s of STRATEGY_SETTINGS) settingsSource[SETTING_KEY[s]] = chosen[s].origin;
  const pipeline: ResolvedPipeline = {
    intentID: intent.intentID,
    targetId: target.id,
    operation: target.operation,
    operand: target.operand,
    source: target.parsed.sourcekind ?? entry.source,
    model: target.parsed.modelkind ?? entry.model,
    sink: entry.sink,
    algo: chosen.avgalgo.value,
    fracfit: chosen.fracfit.value,
    minfit: chosen.minfit.value,
    minav: chosen.minav.value,
    numround: chosen.numround.value,
    epochs: entry.defaults.epochs,
    batchsize: entry.defaults.batchsize,
    sameserv: chosen.sameserv.value,
    cohort: {},
    strategyParams: {},
    settingsSource,
    catalogFile: catalog.fileName,
    notes: [catalog.note, entry.note].filter((n): n is string => n !== undefined),
  };
  if (entry.defaults.lr !== undefined) pipeline.lr = entry.defaults.lr;
  if (form.ipstart !== undefined) pipeline.cohort.ipstart = form.ipstart;
  if (form.cohortsize !== undefined) pipeline.cohort.cohortsize = form.cohortsize;
  return pipeline;
}

/** What deploys but may not do what the user expects: a model the adapters lack, a cohort below minav. */
function warnAboutPipeline(
  intent: Intent,
  pipeline: ResolvedPipeline,
  form: ReadForm,
  chosen: ChosenSettings,
  { catalog, entry }: FromCatalog,
  list: ProblemList,
): void {
  const cPath = 'targets[0].constraints';
  const modelFromIntent = pipeline.settingsSource.model === 'intent';
  if (!ADAPTER_MODEL_NAMES.includes(pipeline.model)) {
    list.warn(
      modelFromIntent ? `${cPath}.modelkind` : '',
      positionOf(intent, `${cPath}.modelkind`),
      `model ${pipeline.model} (from ${modelFromIntent ? 'the intent' : catalogWhere(catalog, entry)}) cannot be trained ` +
        `by the flower-adapter (it has ${ADAPTER_MODEL_NAMES.join(', ')}); its FL clients will be refused`,
    );
  }
  if (form.cohortsize !== undefined && pipeline.minav > form.cohortsize && pipeline.sameserv !== 'yes') {
    list.warn(
      'form.cohortsize',
      undefined,
      `minav ${pipeline.minav} (from ${chosen.minav.where}) is larger than the cohort (${form.cohortsize} clients) ` +
        'and the server is not shared (sameserv is not yes): the FL server will wait for clients that never come',
    );
  }
  for (const n of pipeline.notes) list.warn('', undefined, `${catalogWhere(catalog, entry)}: ${n}`);
}

/** The pipeline and derived intent of one deployment of a resolved intent, under its record id. */
export function forDeployment(
  pipeline: ResolvedPipeline,
  id: string,
): { pipeline: ResolvedPipeline; derived: Intent } {
  const mine = { ...pipeline, intentID: id };
  return { pipeline: mine, derived: deriveIntent(mine) };
}

function derivedId(intentID: string): string {
  return `${intentID.slice(0, 124)}-fed`;
}

/**
 * The intent an edge MLFO sends to the cloud MLFO: one aggregate.global target carrying the FL
 * settings, and the strategy settings the user gave (the defaults the cloud fills in itself).
 */
function deriveIntent(p: ResolvedPipeline): Intent {
  const given = Object.fromEntries(
    Object.entries(p.strategyParams).filter(([name]) => p.settingsSource[name] !== 'default'),
  );
  const constraints: Constraints = {
    privacylevel: 'high',
    sourcekind: p.source,
    modelkind: p.model,
    avgalgo: STRATEGY_SEED_SPELLING[p.algo],
    fracfit: String(p.fracfit),
    minfit: String(p.minfit),
    minav: String(p.minav),
    numround: String(p.numround),
    sameserv: p.sameserv,
    ...Object.fromEntries(Object.entries(given).map(([name, v]) => [name, String(v)])),
  };
  const parsed: ParsedConstraints = {
    privacylevel: 'high',
    sourcekind: p.source,
    modelkind: p.model,
    avgalgo: p.algo,
    fracfit: p.fracfit,
    minfit: p.minfit,
    minav: p.minav,
    numround: p.numround,
    sameserv: p.sameserv,
    ...(Object.keys(given).length > 0 ? { strategyParams: given } : {}),
  };
  return {
    intentID: derivedId(p.intentID),
    targets: [
      {
        id: DERIVED_TARGET_ID,
        operation: AGGREGATE_OPERATION,
        operand: AGGREGATE_OPERAND,
        constraints,
        parsed,
      },
    ],
  };
}

export type ServerSetting = 'algo' | 'fracfit' | 'minfit' | 'minav' | 'numround' | 'sameserv';

/** What the cloud MLFO needs to start (or reuse) an FL server: the flower-adapter's /serv fields and sameserv. */
export interface ServerSettings {
  intentID: string;
  targetId: string;
  algo: StrategyName;
  fracfit: number;
  minfit: number;
  minav: number;
  numround: number;
  sameserv: SameServ;
  source?: SourceName;
  model?: ModelName;
  /** The strategy's own settings and central DP's, defaults filled in: /serv fields of Flower's names. */
  strategyParams: Record<string, number>;
  /** …and per strategy setting (by its name) 'intent' or 'default' (the strategy's own). */
  settingsSource: Record<ServerSetting, 'intent' | 'catalog'> & {
    [strategySetting: string]: 'intent' | 'catalog' | 'default';
  };
}

/**
 * The cloud side: checks a derived intent (ours, or a seed-generation MLFO's) and returns the FL
 * server settings. The string constraints are checked again, whatever `parsed` says, since the
 * intent arrived over the wire. Settings missing from the intent come from the catalog's
 * aggregator entry when a catalog is given; without one they are an error.
 */
export function pipelineFromDerived(
  intent: Intent,
  catalog?: Catalog,
): { settings: ServerSettings; warnings: string[] } {
  const origin = `derived intent ${intent.intentID}`;
  const list = new ProblemList();
  if (!ID_RE.test(intent.intentID))
    list.fail(
      'intentID',
      undefined,
      `got ${JSON.stringify(intent.intentID)}; allowed: an id like edgeintent01-fed`,
    );
  if (intent.targets.length !== 1) {
    list.fail(
      'targets',
      undefined,
      `has ${intent.targets.length} targets; allowed: exactly one ${AGGREGATE_OPERATION} target`,
    );
    throw new IntentError(422, list.problems, origin);
  }
  const target = intent.targets[0] as Target;
  if (target.operation !== AGGREGATE_OPERATION || target.operand !== AGGREGATE_OPERAND) {
    list.fail(
      'targets[0]',
      undefined,
      `operation ${JSON.stringify(target.operation)} operand ${JSON.stringify(target.operand)}; allowed: operation ${AGGREGATE_OPERATION} with operand ${AGGREGATE_OPERAND}`,
    );
  }
  const values: Partial<Record<string, { text: string }>> = {};
  for (const name of [...CONSTRAINT_NAMES, ...STRATEGY_PARAM_NAMES]) {
    const v = target.constraints[name]?.trim();
    if (v !== undefined && v !== '') values[name] = { text: v };
  }
  const parsed = checkConstraints(list, 'targets[0].constraints', values);
  if (list.problems.length > 0) throw new IntentError(422, list.problems, origin);

  const entry = catalog?.entries.find(
    (e) => e.operation === AGGREGATE_OPERATION && e.operand === AGGREGATE_OPERAND,
  );
  const settingsSource = {} as ServerSettings['settingsSource'];
  const pick = <K extends StrategySetting>(s: K): FlSettings[K] => {
    const own = parsed[s] as FlSettings[K] | undefined;
    settingsSource[SETTING_KEY[s] as ServerSetting] = own !== undefined ? 'intent' : 'catalog';
    if (own !== undefined) return own;
    if (entry !== undefined) return entry.defaults[s] as FlSettings[K];
    list.fail(
      `targets[0].constraints.${s}`,
      undefined,
      `missing${catalog === undefined ? '' : ` and catalog ${catalog.fileName} has no ${AGGREGATE_OPERATION} ${AGGREGATE_OPERAND} entry`}; allowed: ${allowedFor(s)}`,
    );
    return undefined as unknown as FlSettings[K];
  };
  const algo = pick('avgalgo');
  const fracfit = pick('fracfit');
  const minfit = pick('minfit');
  const minav = pick('minav');
  const numround = pick('numround');
  const sameserv = pick('sameserv');
  if (list.problems.length > 0) throw new IntentError(422, list.problems, origin);
  if (minfit > minav) {
    throw new IntentError(
      422,
      [
        {
          path: 'targets[0].constraints.minfit',
          message: `minfit (${minfit}) is greater than minav (${minav}); allowed: minfit ≤ minav`,
        },
      ],
      origin,
    );
  }
  const givenParams = parsed.strategyParams ?? {};
  const checked = checkStrategySettings(algo, givenParams, {
    minFitClients: minfit,
    minAvailableClients: minav,
    hasEvaluateFn: parsed.sourcekind !== undefined && parsed.modelkind !== undefined,
  });
  if (checked.problems.length > 0) {
    throw new IntentError(
      422,
      checked.problems.map(([field, message]) => ({
        path: `targets[0].constraints.${field}`,
        message: `${message} (avgalgo ${STRATEGY_SEED_SPELLING[algo]})`,
      })),
      origin,
    );
  }
  const strategyParams = { ...checked.own, ...checked.dp };
  for (const name of Object.keys(strategyParams))
    settingsSource[name] = Object.hasOwn(givenParams, name) ? 'intent' : 'default';
  const warnings: string[] = [];
  if (parsed.modelkind !== undefined && !ADAPTER_MODEL_NAMES.includes(parsed.modelkind)) {
    warnings.push(
      `${origin}: targets[0].constraints.modelkind: the flower-adapter cannot train model ${parsed.modelkind} (it has ${ADAPTER_MODEL_NAMES.join(', ')})`,
    );
  }
  const settings: ServerSettings = {
    intentID: intent.intentID,
    targetId: target.id,
    algo,
    fracfit,
    minfit,
    minav,
    numround,
    sameserv,
    strategyParams,
    settingsSource,
  };
  if (parsed.sourcekind !== undefined) settings.source = parsed.sourcekind;
  if (parsed.modelkind !== undefined) settings.model = parsed.modelkind;
  return { settings, warnings };
}
