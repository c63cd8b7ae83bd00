// Server placement, the cloud MLFO's half of an intent: a derived intent (aggregate.global /
// model.federated) → an FL server on an fl-server node of the inventory, started through the
// node's POST /serv, answered as "ip:6000" once it listens. The choice is written to Redis before
// the server is started, and the session id is fixed by the derived intent, so a repeated Deploy
// (an edge retrying, a restarted cloud MLFO) returns the same server and never starts a second one.
// A node is free when no placement holds it or the session holding it has ended.
// Sharing (sameserv yes, the seed's "reuse the previous cohort's server"): every server placed is
// indexed by its settings (dataset, model, strategy, fracfit, minfit, minav, numround); a derived
// intent with sameserv yes joins the latest running server of exactly its settings, else it is
// placed as a new one that later cohorts can join. The server runs with those settings, so its
// minfit/minav count the clients of every cohort meant to share it. Placements with the same
// settings go one at a time, so two cohorts asking at once still end on one server. A shared
// server is stopped (on failure or DELETE) only once every cohort on it has let it go.

import type { Redis } from 'ioredis';
import { isEnded } from '../../../common/ended-states.ts';
import { type AdapterClient, AdapterError } from '../adapter-client.ts';
import type { Catalog } from '../intent/catalog.ts';
import type { Intent } from '../../../common/intent/intent-schema.ts';
import { AGGREGATE_OPERAND, AGGREGATE_OPERATION, pipelineFromDerived } from '../intent/resolve.ts';
import { type Inventory, type InventoryNode, restUrl } from '../inventory.ts';

export type PlacementFailure = 'invalid' | 'unavailable';

export class PlacementError extends Error {
  override name = 'PlacementError';
  constructor(
    readonly kind: PlacementFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface Placement {
  derivedId: string;
  node: string;
  session: string;
  address?: string;
  reused: boolean;
  /** a cohort that joined a shared server: the derived intent whose placement started it */
  sharedOf?: string;
  /** the placement that started a server: the derived intents that joined it */
  sharers?: string[];
  /** the intent let the server go (failed or deleted) */
  released?: boolean;
  model?: string;
  source?: string;
  algo: string;
  createdAt: string;
}

const CAS =
  "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2]) return 1 end return 0";

export function serverSessionId(derivedId: string): string {
  return `srv-${derivedId}`.slice(0, 128);
}

type ServerSettings = ReturnType<typeof pipelineFromDerived>['settings'];

/** What must agree for two cohorts to share one FL server, strategy settings included (defaults filled in). */
export function sharingSignature(s: ServerSettings): string {
  const params = Object.keys(s.strategyParams)
    .sort()
    .map((k) => [k, s.strategyParams[k]]);
  return JSON.stringify([
    s.source ?? '',
    s.model ?? '',
    s.algo,
    s.fracfit,
    s.minfit,
    s.minav,
    s.numround,
    ...(params.length > 0 ? [params] : []),
  ]);
}

export class ServerPlacement {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly deps: {
      redis: Redis;
      prefix: string;
      inventory: Inventory;
      catalog: Catalog;
      adapters: AdapterClient;
      serverWaitS: number;
      log: (msg: string) => void;
    },
  ) {}

  private get placementsKey() {
    return `${this.deps.prefix}:placements`;
  }
  private get sharedKey() {
    return `${this.deps.prefix}:shared-servers`;
  }
  private leaseKey(node: string) {
    return `${this.deps.prefix}:server-node:${node}`;
  }

  async get(derivedId: string): Promise<Placement | undefined> {
    const t = await this.deps.redis.hget(this.placementsKey, derivedId);
    return t === null ? undefined : (JSON.parse(t) as Placement);
  }

  async list(): Promise<Placement[]> {
    const all = await this.deps.redis.hvals(this.placementsKey);
    return all.map((t) => JSON.parse(t) as Placement);
  }

  /** Places (or finds again) the FL server for a derived intent; resolves with its "ip:6000". */
  async deploy(derived: Intent): Promise<{ address: string; placement: Placement }> {
    const { settings } = this.check(derived);
    const signature = sharingSignature(settings);
    const run = (this.inFlight.get(signature) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.place(derived.intentID, settings, signature));
    this.inFlight.set(signature, run);
    try {
      return await run;
    } finally {
      if (this.inFlight.get(signature) === run) this.inFlight.delete(signature);
    }
  }

  private async place(
    derivedId: string,
    settings: ServerSettings,
    signature: string,
  ): Promise<{ address: string; placement: Placement }> {
    let placement = await this.get(derivedId);
    if (placement === undefined && settings.sameserv === 'yes')
      placement = await this.join(signature, derivedId);
    if (placement?.reused === true && placement.address !== undefined) {
      return { address: placement.address, placement };
    }
    const session = serverSessionId(derivedId);
    const tried: string[] = [];
    for (let round = 0; round < 2; round++) {
      const node = placement
        ? this.deps.inventory.byName(placement.node)
        : await this.pickNode(derivedId, tried);
      if (node === undefined) break;
      placement ??= {
        derivedId,
        node: node.name,
        session,
        reused: false,
        algo: settings.algo,
        createdAt: new Date().toISOString(),
        ...(settings.model !== undefined ? { model: settings.model } : {}),
        ...(settings.source !== undefined ? { source: settings.source } : {}),
      };
      // durable before the server exists, so a restarted cloud MLFO returns to this node
      await this.deps.redis.hset(this.placementsKey, derivedId, JSON.stringify(placement));
      try {
        const answer = await this.deps.adapters.startServer(
          node.name,
          restUrl(node),
          this.servFields(settings, session),
        );
        const address = answer.address ?? `${node.address}:6000`;
        placement.address = address;
        await this.deps.redis.hset(this.placementsKey, derivedId, JSON.stringify(placement));
        await this.deps.redis.hset(this.sharedKey, signature, derivedId);
        this.deps.log(`placed FL server ${session} on ${node.name} (${address}) for ${derivedId}`);
        return { address, placement };
      } catch (err) {
        if (err instanceof AdapterError && err.kind === 'invalid') {
          throw new PlacementError('invalid', err.message);
        }
        if (err instanceof AdapterError && err.kind === 'conflict') {
          // the node's FL port is taken by something that is not ours: give the node up and try another
          tried.push(`${node.name}: ${err.message}`);
          await this.deps.redis.hdel(this.placementsKey, derivedId);
          await this.deps.redis.eval(CAS, 1, this.leaseKey(node.name), derivedId, '');
          placement = undefined;
          continue;
        }
        throw new PlacementError('unavailable', (err as Error).message);
      }
    }
    throw new PlacementError(
      'unavailable',
      `no free fl-server node for ${derivedId} in inventory ${this.deps.inventory.fileName} ` +
        `(${
          this.deps.inventory
            .servers()
            .map((n) => n.name)
            .join(', ') || 'none listed'
        })${tried.length ? `; tried: ${tried.join('; ')}` : ''}`,
    );
  }

  private check(derived: Intent) {
    const t = derived.targets[0];
    if (t === undefined || t.operation !== AGGREGATE_OPERATION || t.operand !== AGGREGATE_OPERAND) {
      throw new PlacementError(
        'invalid',
        `intent ${derived.intentID}: this MLFO places FL servers only; allowed: one target with operation ${AGGREGATE_OPERATION} and operand ${AGGREGATE_OPERAND}`,
      );
    }
    try {
      return pipelineFromDerived(derived, this.deps.catalog);
    } catch (err) {
      throw new PlacementError('invalid', (err as Error).message);
    }
  }

  private servFields(settings: ServerSettings, session: string) {
    const agg = this.deps.catalog.entries.find(
      (e) => e.operation === AGGREGATE_OPERATION && e.operand === AGGREGATE_OPERAND,
    );
    return {
      algo: settings.algo,
      // the strategy's own settings and central DP's, under the /serv field names (Flower's)
      ...settings.strategyParams,
      fracfit: settings.fracfit,
      minfit: settings.minfit,
      minav: settings.minav,
      numround: settings.numround,
      session,
      model: settings.model,
      source: settings.source,
      epochs: agg?.defaults.epochs,
      batchsize: agg?.defaults.batchsize,
      lr: agg?.defaults.lr,
      waittimeout: this.deps.serverWaitS,
      roundtimeout: this.deps.serverWaitS,
    };
  }

  /** sameserv yes: joins the latest server placed with these settings, while its session runs. */
  private async join(signature: string, derivedId: string): Promise<Placement | undefined> {
    const ownerId = await this.deps.redis.hget(this.sharedKey, signature);
    const owner = ownerId === null ? undefined : await this.get(ownerId);
    if (owner?.address === undefined || owner.released === true) return undefined;
    const node = this.deps.inventory.byName(owner.node);
    if (node === undefined) return undefined;
    try {
      const s = await this.deps.adapters.session(node.name, restUrl(node), owner.session);
      if (isEnded(s.state)) return undefined;
    } catch {
      return undefined;
    }
    const { sharers: _sharers, released: _released, ...server } = owner;
    const p: Placement = {
      ...server,
      derivedId,
      reused: true,
      sharedOf: owner.derivedId,
      createdAt: new Date().toISOString(),
    };
    await this.deps.redis.hset(this.placementsKey, derivedId, JSON.stringify(p));
    owner.sharers = [...(owner.sharers ?? []), derivedId];
    await this.deps.redis.hset(this.placementsKey, owner.derivedId, JSON.stringify(owner));
    this.deps.log(`FL server ${owner.session} on ${owner.node} shared by ${derivedId} (sameserv yes)`);
    return p;
  }

  private async pickNode(derivedId: string, skip: string[]): Promise<InventoryNode | undefined> {
    for (const node of this.deps.inventory.servers()) {
      if (skip.some((s) => s.startsWith(`${node.name}:`))) continue;
      const key = this.leaseKey(node.name);
      if ((await this.deps.redis.set(key, derivedId, 'NX')) === 'OK') return node;
      const holder = (await this.deps.redis.get(key)) ?? '';
      if (holder === derivedId) return node;
      if (holder !== '' && !(await this.holderEnded(node, holder))) continue;
      if ((await this.deps.redis.eval(CAS, 1, key, holder, derivedId)) === 1) return node;
    }
    return undefined;
  }

  private async holderEnded(node: InventoryNode, holder: string): Promise<boolean> {
    const p = await this.get(holder);
    if (p === undefined) return true;
    try {
      const s = await this.deps.adapters.session(node.name, restUrl(node), p.session);
      return isEnded(s.state);
    } catch (err) {
      return err instanceof AdapterError && err.kind === 'not-found';
    }
  }

  /**
   * An intent lets its server go (it failed or was deleted): the server is stopped once no cohort
   * on it holds it any more, so DELETE of one sharing cohort leaves the others training.
   */
  async release(derivedId: string): Promise<void> {
    const p = await this.get(derivedId);
    if (p === undefined) return;
    p.released = true;
    await this.deps.redis.hset(this.placementsKey, derivedId, JSON.stringify(p));
    const owner = p.reused ? p.sharedOf && (await this.get(p.sharedOf)) : p;
    if (!owner) return;
    const users = await Promise.all([owner.derivedId, ...(owner.sharers ?? [])].map((id) => this.get(id)));
    if (users.some((u) => u !== undefined && u.released !== true)) return;
    const node = this.deps.inventory.byName(owner.node);
    if (node !== undefined) await this.deps.adapters.stop(node.name, restUrl(node), owner.session);
  }

  /** POST /cloudreset: stops every FL server placed by this MLFO and forgets them. */
  async reset(): Promise<{ stopped: string[]; errors: string[] }> {
    const stopped: string[] = [];
    const errors: string[] = [];
    for (const p of await this.list()) {
      const node = this.deps.inventory.byName(p.node);
      if (node === undefined || p.reused) continue;
      try {
        await this.deps.adapters.stop(node.name, restUrl(node), p.session);
        stopped.push(`${p.session}@${node.name}`);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    await this.deps.redis.del(this.placementsKey, this.sharedKey);
    for (const n of this.deps.inventory.servers()) await this.deps.redis.del(this.leaseKey(n.name));
    return { stopped, errors };
  }
}
