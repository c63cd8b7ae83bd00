// Validation of the adapter's two start requests, `/serv` (an FL server) and `/cli` (an FL
// client), into typed parameters. Field names are the seed's (`algo, fracfit, minfit, minav,
// numround`; `source, model, server, cohsize, part`); the extras are ours. Nothing here starts
// anything: a request that fails validation changes nothing.

import { createHash } from 'node:crypto';
import type { StrategyName } from '../../../common/strategies.ts';
import { DATASET_NAMES, type DatasetName } from '../ml/datasets/registry.ts';
import { MODEL_NAMES, type ModelName } from '../ml/models.ts';
import { STRATEGY_NAMES } from '../runtime/strategy/registry.ts';
import { type Body, FieldReader, parseHostPort } from './fields.ts';

export interface ServerParams {
  session: string;
  /** true when the caller named the session; false when it was derived from the request */
  sessionGiven: boolean;
  algo: StrategyName;
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
  const derived = { algo, fracfit, minfit, minav, numround, fraceval, model, source, epochs, batchsize, lr };
  const { id, given } = sessionId(r, 'serv', derived);
  r.rejectUnknown();
  r.finish();
  return {
    session: id,
    sessionGiven: given,
    algo,
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
