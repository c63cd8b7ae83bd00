// Validation of the adapter's two start requests, `/serv` (an FL server) and `/cli` (an FL
// client), into typed parameters. Field names are the seed's (`algo, fracfit, minfit, minav,
// numround`; `source, model, server, cohsize, part`); the extras are ours. A strategy's own
// settings and central DP's are fields named as Flower's parameters (`server_momentum`,
// `clipping_norm`, …), their rules from the strategy table. Nothing here starts anything: a
// request that fails validation changes nothing.

import { createHash } from 'node:crypto';
import type { StrategyName } from '../../../common/strategies.ts';
import { DP_PARAMS } from '../../../common/strategy-params.ts';
import { DATASET_NAMES, type DatasetName } from '../ml/datasets/registry.ts';
import { MODEL_NAMES, type ModelName } from '../ml/models.ts';
import { resolveOwnParams } from '../runtime/strategy/own-params.ts';
import { STRATEGIES, STRATEGY_NAMES } from '../runtime/strategy/registry.ts';
import type { CentralDpSettings } from '../runtime/strategy/strategy.ts';
import { type Body, FieldReader, parseHostPort } from './fields.ts';

export interface ServerParams {
  session: string;
  /** true when the caller named the session; false when it was derived from the request */
  sessionGiven: boolean;
  algo: StrategyName;
  /** The strategy's own settings (Flower's names), defaults filled in; {} for fedavg. */
  strategyParams: Record<string, number>;
  /** Server-side central DP with fixed clipping, when clipping_norm, noise_multiplier and num_sampled_clients are given. */
  centralDp?: CentralDpSettings;
  fracfit: number;
  minfit: number;
  minav: number;
  numround: number;
  fraceval: number;
  minevalclients: number;
  /** seconds one round's fit (and evaluate) may take before the missing clients count as failures */
  roundtimeout: number;
  /** seconds the server waits for enough clients before it gives up with a reason */
  waittimeout: number;
  acceptfailures: boolean;
  model?: ModelName;
  source?: DatasetName;
  epochs: number;
  batchsize: number;
  lr?: number;
}

export interface ClientParams {
  session: string;
  sessionGiven: boolean;
  source: DatasetName;
  model: ModelName;
  /** "host:port" of the FL server */
  server: string;
  cohsize: number;
  part: number;
  seed: number;
  /** seconds to keep trying to reach the server before giving up */
  connecttimeout: number;
}

const SESSION_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function sessionId(r: FieldReader, prefix: string, derivedFrom: unknown): { id: string; given: boolean } {
  const given = r.string('session');
  if (given !== undefined) {
    if (!SESSION_RE.test(given)) {
      r.problem(
        'session',
        `got ${JSON.stringify(given)}; allowed: 1–128 characters of letters, digits and . _ : -, starting with a letter or digit`,
      );
    }
    return { id: given, given: true };
  }
  const digest = createHash('sha256').update(JSON.stringify(derivedFrom)).digest('hex').slice(0, 12);
  return { id: `${prefix}-${digest}`, given: false };
}

function bool(r: FieldReader, field: string, fallback: boolean): boolean {
  const v = r.string(field);
  if (v === undefined) return fallback;
  const t = v.toLowerCase();
  if (['true', '1', 'yes'].includes(t)) return true;
  if (['false', '0', 'no'].includes(t)) return false;
  r.problem(field, `got ${JSON.stringify(v)}; allowed: true, false, 1, 0, yes, no`);
  return fallback;
}

/** Every strategy's own fields, and the strategies that take each. */
function ownFieldOwners(): Map<string, StrategyName[]> {
  const owners = new Map<string, StrategyName[]>();
  for (const name of STRATEGY_NAMES) {
    for (const p of STRATEGIES[name].own.params) owners.set(p.name, [...(owners.get(p.name) ?? []), name]);
  }
  return owners;
}

const DP_FIELDS = DP_PARAMS.map((p) => p.name);
const dpRule = (name: string) => DP_PARAMS.find((p) => p.name === name)!;

/** The chosen strategy's own fields; a field of another strategy is a problem saying whose it is. */
function strategyParams(
  r: FieldReader,
  algo: StrategyName,
  base: { minFitClients: number; minAvailableClients: number; hasEvaluateFn: boolean },
): Record<string, number> {
  const spec = STRATEGIES[algo].own;
  const mine = spec.params.map((p) => p.name);
  const given: Record<string, number> = {};
  for (const [field, owners] of ownFieldOwners()) {
    if (!r.has(field)) continue;
    const v = r.number(field, {});
    if (!mine.includes(field)) {
      r.problem(
        field,
        `not a setting of algo ${algo}; it is one of ${owners.join(', ')}; ${algo} takes ${mine.join(', ') || 'no settings of its own'}`,
      );
    } else if (v !== undefined) {
      given[field] = v;
    }
  }
  const { own, problems } = resolveOwnParams(spec, given, base);
  for (const [field, message] of problems) {
    if (!r.problems.some((p) => p.field === field)) r.problem(field, message);
  }
  return own;
}

/** Central DP's three fields: none (no DP) or all of them. */
function centralDp(r: FieldReader): CentralDpSettings | undefined {
  if (!DP_FIELDS.some((f) => r.has(f))) {
    for (const f of DP_FIELDS) r.string(f);
    return undefined;
  }
  // the ranges are common/strategy-params.ts's, which the MLFO checks intents against too
  const clippingNorm = r.requiredNumber('clipping_norm', dpRule('clipping_norm'));
  const noiseMultiplier = r.requiredNumber('noise_multiplier', dpRule('noise_multiplier'));
  const numSampledClients = r.requiredNumber('num_sampled_clients', dpRule('num_sampled_clients'));
  return { clippingNorm, noiseMultiplier, numSampledClients };
}

export function parseServerParams(body: Body): ServerParams {
  const r = new FieldReader(body);
  const algo = r.oneOf('algo', STRATEGY_NAMES, 'fedavg') ?? 'fedavg';
  const fracfit = r.number('fracfit', { min: 0, minExclusive: true, max: 1 }, 1);
  const minav = r.number('minav', { integer: true, min: 1, max: 100000 }, 2);
  const minfit = r.number('minfit', { integer: true, min: 1, max: 100000 }, Math.min(2, minav));
  if (Number.isInteger(minfit) && Number.isInteger(minav) && minfit > minav) {
    r.problem('minfit', `minfit (${minfit}) is greater than minav (${minav}); allowed: minfit ≤ minav`);
  }
  const numround = r.number('numround', { integer: true, min: 1, max: 10000 }, 1);
  const fraceval = r.number('fraceval', { min: 0, max: 1 }, 1);
  const minevalclients = r.number(
    'minevalclients',
    { integer: true, min: 1, max: 100000 },
    Math.min(2, minav),
  );
  if (r.has('minevalclients') && minevalclients > minav) {
    r.problem('minevalclients', `(${minevalclients}) is greater than minav (${minav}); allowed: ≤ minav`);
  }
  const roundtimeout = r.number('roundtimeout', { min: 0, minExclusive: true, max: 86400 }, 600);
  const waittimeout = r.number('waittimeout', { min: 0, minExclusive: true, max: 86400 }, 600);
  const acceptfailures = bool(r, 'acceptfailures', true);
  const model = r.has('model') ? r.oneOf('model', MODEL_NAMES) : undefined;
  const source = r.has('source') ? r.oneOf('source', DATASET_NAMES) : undefined;
  if (source !== undefined && model === undefined && !r.has('model')) {
    r.problem(
      'model',
      `missing: server-side evaluation on source ${source} needs a model; allowed: ${MODEL_NAMES.join(', ')}`,
    );
  }
  const epochs = r.number('epochs', { integer: true, min: 1, max: 1000 }, 1);
  const batchsize = r.number('batchsize', { integer: true, min: 1, max: 65536 }, 32);
  const lr = r.number('lr', { min: 0, minExclusive: true, max: 10 });
  const own = strategyParams(r, algo, {
    minFitClients: minfit,
    minAvailableClients: minav,
    hasEvaluateFn: model !== undefined && source !== undefined,
  });
  if (algo === 'faulttolerantfedavg' && r.has('acceptfailures') && !acceptfailures) {
    r.problem(
      'acceptfailures',
      'faulttolerantfedavg always accepts failures, up to min_completion_rate_fit / min_completion_rate_evaluate; allowed: true (or leave it out)',
    );
  }
  const dp = centralDp(r);
  const derived = {
    algo,
    fracfit,
    minfit,
    minav,
    numround,
    fraceval,
    model,
    source,
    epochs,
    batchsize,
    lr,
    // only when set, so a plain FedAvg request keeps the id it always had
    ...(Object.keys(own).length > 0 ? { own } : {}),
    ...(dp !== undefined ? { dp } : {}),
  };
  const { id, given } = sessionId(r, 'serv', derived);
  r.rejectUnknown();
  r.finish();
  return {
    session: id,
    sessionGiven: given,
    algo,
    strategyParams: own,
    ...(dp !== undefined ? { centralDp: dp } : {}),
    fracfit,
    minfit,
    minav,
    numround,
    fraceval,
    minevalclients,
    roundtimeout,
    waittimeout,
    acceptfailures,
    model,
    source,
    epochs,
    batchsize,
    lr,
  };
}

export function parseClientParams(body: Body): ClientParams {
  const r = new FieldReader(body);
  const source = r.oneOf('source', DATASET_NAMES);
  const model = r.oneOf('model', MODEL_NAMES);
  const server = r.string('server');
  if (server === undefined) {
    r.problem('server', 'missing; allowed: the FL server address as host:port, e.g. 10.0.0.101:6000');
  } else if (parseHostPort(server) === undefined) {
    r.problem(
      'server',
      `malformed address ${JSON.stringify(server)}; allowed: host:port with an IPv4 address, hostname or [IPv6] and a port 1–65535`,
    );
  }
  const cohsize = r.requiredNumber('cohsize', { integer: true, min: 1, max: 100000 });
  const part = r.requiredNumber('part', { integer: true, min: 0, max: 100000 });
  if (Number.isInteger(cohsize) && Number.isInteger(part) && part >= cohsize) {
    r.problem('part', `(${part}) must be less than cohsize (${cohsize}); allowed: 0 … ${cohsize - 1}`);
  }
  const seed = r.number('seed', { integer: true, min: 0, max: 2 ** 31 - 1 }, 0);
  const connecttimeout = r.number('connecttimeout', { min: 0, minExclusive: true, max: 86400 }, 120);
  const { id, given } = sessionId(r, 'cli', { source, model, server, cohsize, part, seed });
  r.rejectUnknown();
  r.finish();
  return {
    session: id,
    sessionGiven: given,
    source: source!,
    model: model!,
    server: server!,
    cohsize,
    part,
    seed,
    connecttimeout,
  };
}
