// The intent records, in Redis: one JSON document per accepted intent under <prefix>:intent:<id>,
// an index by acceptance time, and an "active" key per upload identity (the intentID and the
// cohort it targets, see cohortKey) whose holder is the record a repeated upload is answered with.
// The state machine lives here (advance refuses to leave a terminal state), so a step that finishes
// after DELETE cannot bring a stopped intent back. Client-node leases are kept here too: one intent
// per client node at a time, taken at submit for ipstart cohorts and by the lease step otherwise.

import type { Redis } from 'ioredis';
import type { RoundSummary } from '../../common/adapter-api.ts';
import { isEnded } from '../../common/ended-states.ts';
import type { Intent } from '../../common/intent/intent-schema.ts';
import type { ResolvedPipeline } from './intent/resolve.ts';

export const INTENT_STATES = [
  'accepted',
  'resolved',
  'server-ready',
  'clients-started',
  'training',
  'completed',
  'failed',
  'stopped',
] as const;
export type IntentState = (typeof INTENT_STATES)[number];
/** An intent ends in the states its FL session ends in (common/ended-states.ts). */
export const isTerminal = (s: IntentState): boolean => isEnded(s);

export interface ClientRecord {
  node: string;
  address: string;
  part: number;
  session: string;
  state: string;
  startedAt?: string;
  error?: string;
}

/** One FL round of an intent: what its server's session reported of it. */
export type IntentRound = Pick<
  RoundSummary,
  'round' | 'loss' | 'accuracy' | 'fitResults' | 'fitFailures' | 'durationMs'
>;

export interface IntentRecord {
  /** this deployment's id: <intentID>.<n> */
  id: string;
  /** the intentID of the uploaded YAML */
  intentID: string;
  /** the upload's identity (intentID and cohort), see cohortKey; absent on records of older MLFOs */
  cohortKey?: string;
  role: string;
  state: IntentState;
  /** when each state was entered (ISO 8601) */
  stages: Partial<Record<IntentState, string>>;
  error?: string;
  warnings: string[];
  /** the uploaded YAML and form fields, as received */
  yaml: string;
  form: Record<string, string>;
  pipeline: ResolvedPipeline;
  /** the intent sent to the cloud MLFO (aggregate.global / model.federated) */
  derived: Intent;
  server?: {
    address: string;
    session?: string;
    node?: string;
    owned: boolean;
    /** in GET /intents views only: the other intents on this server session */
    sharedWith?: string[];
  };
  /** sameserv yes: the intents this one expected to share its FL server with when it was accepted */
  sharesServerWith?: string[];
  clients: ClientRecord[];
  rounds: IntentRound[];
  round: number;
  numRounds: number;
  accuracy?: number;
  loss?: number;
  updatedAt: string;
}

const CAS =
  "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2]) return 1 end return 0";
const DEL_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
// Sets every key to ARGV[1] when none is held by another id; else returns the held keys and holders.
const CLAIM_ALL = `local taken = {}
for _, k in ipairs(KEYS) do
  local h = redis.call('get', k)
  if h and h ~= ARGV[1] then table.insert(taken, k) table.insert(taken, h) end
end
if #taken == 0 then for _, k in ipairs(KEYS) do redis.call('set', k, ARGV[1]) end end
return taken`;

/**
 * An upload's identity: its intentID and the cohort it targets (the seed's ipstart and cohort size,
 * or "any" free nodes). The same intentID for another client range is another deployment.
 */
export function cohortKey(intentID: string, cohort: { ipstart?: number; size: number }): string {
  return `${intentID}@${cohort.ipstart ?? 'any'}+${cohort.size}`;
}

export class IntentStore {
  // WATCH is per connection: in-process updates go one at a time so they cannot cancel each other's WATCH.
  private chain: Promise<unknown> = Promise.resolve();
  private intakeChain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:intent:${id}`;
  }
  private get indexKey(): string {
    return `${this.prefix}:intent-index`;
  }
  private activeKey(identity: string): string {
    return `${this.prefix}:active:${identity}`;
  }

  /**
   * Runs the intake of one upload (its checks against the active intents, its claims, its record)
   * after those of this process's earlier uploads, so two uploads cannot both pass the same check.
   */
  intake<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.intakeChain.then(fn);
    this.intakeChain = run.catch(() => undefined);
    return run;
  }

  /** A fresh record id for intentID: intentID.<n>, n counting uploads of that intentID. */
  async newId(intentID: string): Promise<string> {
    const base = intentID.slice(0, 100);
    const n = await this.redis.incr(`${this.prefix}:seq:${base}`);
    return `${base}.${n}`;
  }

  /** The record holding an upload identity, when it is still active. */
  async activeHolder(identity: string): Promise<IntentRecord | undefined> {
    const holder = await this.redis.get(this.activeKey(identity));
    const rec = holder === null ? undefined : await this.get(holder);
    return rec !== undefined && !isTerminal(rec.state) ? rec : undefined;
  }

  /**
   * Claims an upload identity for record id; returns the record id already holding it when that
   * one is still active. A holder that reached a terminal state (or has no record) is replaced.
   */
  async claim(identity: string, id: string): Promise<string | undefined> {
    const key = this.activeKey(identity);
    for (let i = 0; i < 5; i++) {
      if ((await this.redis.set(key, id, 'NX')) === 'OK') return undefined;
      const holder = await this.redis.get(key);
      if (holder === null) continue;
      if (await this.isLive(holder)) return holder;
      // compare-and-set so two uploads racing past a finished holder do not both win
      if ((await this.redis.eval(CAS, 1, key, holder, id)) === 1) return undefined;
    }
    return this.redis.get(key).then((h) => h ?? undefined);
  }

  async release(identity: string, id: string): Promise<void> {
    await this.redis.eval(DEL_IF, 1, this.activeKey(identity), id);
  }

  private async isLive(id: string): Promise<boolean> {
    const rec = await this.get(id);
    return rec !== undefined && !isTerminal(rec.state);
  }

  async create(rec: IntentRecord): Promise<void> {
    await this.redis
      .multi()
      .set(this.key(rec.id), JSON.stringify(rec))
      .zadd(this.indexKey, Date.parse(rec.stages.accepted ?? rec.updatedAt), rec.id)
      .exec();
  }

  async get(id: string): Promise<IntentRecord | undefined> {
    const text = await this.redis.get(this.key(id));
    return text === null ? undefined : (JSON.parse(text) as IntentRecord);
  }

  async list(): Promise<IntentRecord[]> {
    const ids = await this.redis.zrange(this.indexKey, '0', '-1');
    if (ids.length === 0) return [];
    const texts = await this.redis.mget(ids.map((id) => this.key(id)));
    return texts.filter((t): t is string => t !== null).map((t) => JSON.parse(t) as IntentRecord);
  }

  /**
   * Read-modify-write under WATCH, retried on a concurrent change. `change` returns false to leave
   * the record as it is. Records in a terminal state are never changed unless `allowTerminal`.
   */
  update(
    id: string,
    change: (rec: IntentRecord) => boolean | undefined,
    allowTerminal = false,
  ): Promise<IntentRecord | undefined> {
    const run = this.chain.then(() => this.updateNow(id, change, allowTerminal));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async updateNow(
    id: string,
    change: (rec: IntentRecord) => boolean | undefined,
    allowTerminal: boolean,
  ): Promise<IntentRecord | undefined> {
    const key = this.key(id);
    for (let attempt = 0; attempt < 50; attempt++) {
      await this.redis.watch(key);
      const text = await this.redis.get(key);
      if (text === null) {
        await this.redis.unwatch();
        return undefined;
      }
      const rec = JSON.parse(text) as IntentRecord;
      if ((isTerminal(rec.state) && !allowTerminal) || change(rec) === false) {
        await this.redis.unwatch();
        return rec;
      }
      rec.updatedAt = new Date().toISOString();
      const res = await this.redis.multi().set(key, JSON.stringify(rec)).exec();
      if (res !== null) return rec;
    }
    throw new Error(`intent ${id}: could not update its record in Redis (50 concurrent changes)`);
  }

  /** Moves to `state` (recording when) unless the record is terminal or already there or past it. */
  async advance(
    id: string,
    state: IntentState,
    change?: (rec: IntentRecord) => void,
  ): Promise<IntentRecord | undefined> {
    return this.update(id, (rec) => {
      change?.(rec);
      if (isTerminal(state) || INTENT_STATES.indexOf(state) > INTENT_STATES.indexOf(rec.state)) {
        rec.state = state;
        rec.stages[state] ??= new Date().toISOString();
      }
      return true;
    });
  }

  // Client-node leases: one intent per node at a time.
  private leaseKey(node: string): string {
    return `${this.prefix}:client-lease:${node}`;
  }

  /**
   * Leases exactly `nodes` to intent id, all or none (a cohort chosen by ipstart). Returns the
   * nodes held by other active intents, by holder; leases of ended intents are taken over.
   */
  async claimClients(id: string, nodes: string[]): Promise<Map<string, string[]>> {
    const keys = nodes.map((n) => this.leaseKey(n));
    for (let attempt = 0; attempt < 5; attempt++) {
      const taken = (await this.redis.eval(CLAIM_ALL, keys.length, ...keys, id)) as string[];
      if (taken.length === 0) return new Map();
      const busy = new Map<string, string[]>();
      const stale: string[] = [];
      for (let i = 0; i < taken.length; i += 2) {
        const key = taken[i]!;
        const holder = taken[i + 1]!;
        const node = nodes[keys.indexOf(key)]!;
        if (await this.isLive(holder)) busy.set(holder, [...(busy.get(holder) ?? []), node]);
        else stale.push(key, holder);
      }
      if (busy.size > 0) return busy;
      for (let i = 0; i < stale.length; i += 2) await this.redis.eval(DEL_IF, 1, stale[i]!, stale[i + 1]!);
    }
    throw new Error(`intent ${id}: could not lease client nodes ${nodes.join(', ')} (concurrent changes)`);
  }

  /** Leases `count` of `nodes` for intent id (keeping the ones it holds already); undefined when too few are free. */
  async leaseClients(id: string, nodes: string[], count: number): Promise<string[] | undefined> {
    const mine: string[] = [];
    for (const n of nodes) {
      if (mine.length === count) break;
      const key = this.leaseKey(n);
      if ((await this.redis.set(key, id, 'NX')) === 'OK') {
        mine.push(n);
        continue;
      }
      const holder = await this.redis.get(key);
      // a lease left by an intent that ended without releasing it (a crash in between) is free
      if (
        holder === id ||
        (holder !== null &&
          !(await this.isLive(holder)) &&
          (await this.redis.eval(CAS, 1, key, holder, id)) === 1)
      )
        mine.push(n);
    }
    if (mine.length === count) return mine;
    await this.releaseClients(id, mine);
    return undefined;
  }

  async releaseClients(id: string, nodes: string[]): Promise<void> {
    for (const n of nodes) await this.redis.eval(DEL_IF, 1, this.leaseKey(n), id);
  }
}
