// The intent records, in Redis: one JSON document per accepted intent under <prefix>:intent:<id>,
// an index by acceptance time, and an "active" key per intentID that makes a second upload of a
// still-running intent a conflict. The state machine lives here (advance refuses to leave a
// terminal state), so a step that finishes after DELETE cannot bring a stopped intent back.
// Client-node leases (nodes allocated without ipstart) are kept here too.

import type { Redis } from 'ioredis';
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

export interface RoundRecord {
  round: number;
  loss?: number;
  accuracy?: number;
  fitResults?: number;
  fitFailures?: number;
  durationMs?: number;
}

export interface IntentRecord {
  id: string;
  intentID: string;
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
  server?: { address: string; session?: string; node?: string; owned: boolean };
  clients: ClientRecord[];
  rounds: RoundRecord[];
  round: number;
  numRounds: number;
  accuracy?: number;
  loss?: number;
  updatedAt: string;
}

export class IntentStore {
  // WATCH is per connection: in-process updates go one at a time so they cannot cancel each other's WATCH.
  private chain: Promise<unknown> = Promise.resolve();

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
  private activeKey(intentID: string): string {
    return `${this.prefix}:active:${intentID}`;
  }

  /** A fresh record id for intentID: intentID.<n>, n counting uploads of that intentID. */
  async newId(intentID: string): Promise<string> {
    const base = intentID.slice(0, 100);
    const n = await this.redis.incr(`${this.prefix}:seq:${base}`);
    return `${base}.${n}`;
  }

  /**
   * Claims intentID for record id; returns the record id already holding it when that one is
   * still active (the caller answers 409). A holder that reached a terminal state is replaced.
   */
  async claim(intentID: string, id: string): Promise<string | undefined> {
    for (let i = 0; i < 5; i++) {
      if ((await this.redis.set(this.activeKey(intentID), id, 'NX')) === 'OK') return undefined;
      const holder = await this.redis.get(this.activeKey(intentID));
      if (holder === null) continue;
      const rec = await this.get(holder);
      if (rec !== undefined && !isTerminal(rec.state)) return holder;
      // compare-and-set so two uploads racing past a finished holder do not both win
      const swapped = await this.redis.eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2]) return 1 end return 0",
        1,
        this.activeKey(intentID),
        holder,
        id,
      );
      if (swapped === 1) return undefined;
    }
    return this.redis.get(this.activeKey(intentID)).then((h) => h ?? undefined);
  }

  async release(intentID: string, id: string): Promise<void> {
    await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
      1,
      this.activeKey(intentID),
      id,
    );
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

  // Client-node leases for intents that do not say ipstart: one intent per node at a time.
  private leaseKey(node: string): string {
    return `${this.prefix}:client-lease:${node}`;
  }

  /** Leases `count` of `nodes` for intent id (keeping the ones it holds already); undefined when too few are free. */
  async leaseClients(id: string, nodes: string[], count: number): Promise<string[] | undefined> {
    const mine: string[] = [];
    for (const n of nodes) {
      if (mine.length === count) break;
      const ok = await this.redis.set(this.leaseKey(n), id, 'NX');
      if (ok === 'OK' || (await this.redis.get(this.leaseKey(n))) === id) mine.push(n);
    }
    if (mine.length === count) return mine;
    await this.releaseClients(id, mine);
    return undefined;
  }

  async releaseClients(id: string, nodes: string[]): Promise<void> {
    for (const n of nodes) {
      await this.redis.eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
        1,
        this.leaseKey(n),
        id,
      );
    }
  }
}
