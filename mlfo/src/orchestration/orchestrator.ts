// The durable flow of one accepted (already resolved) intent on BullMQ: lease → server → clients →
// watch, one job per step,
// each added with a fixed job id (<intent>-<step>) by the step before it, so a step that runs twice
// (a retry, a restarted MLFO re-running a stalled job) adds its successor once. `lease` takes free
// client nodes for a cohort without ipstart (an ipstart cohort's nodes are taken at submit). Every
// step is idempotent: client nodes are chosen once and stored, server and client sessions carry ids fixed
// by the intent (srv-<intent>-fed, cli-<intent>-p<part>), and the adapters return an existing
// session for a known id. Transient failures (unreachable node, timeout, MoMo UNAVAILABLE) are
// thrown for BullMQ to retry with exponential backoff; invalid input is an UnrecoverableError.
// When a step gives up, the intent is marked failed and everything it started is stopped.

import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SessionStatus } from '../../../common/adapter-api.ts';
import { isEnded } from '../../../common/ended-states.ts';
import { type AdapterClient, AdapterError } from '../adapter-client.ts';
import {
  type ClientRecord,
  type IntentRecord,
  type IntentState,
  type IntentStore,
  isTerminal,
} from '../intent-store.ts';
import { type Inventory, restUrl } from '../inventory.ts';
import type { MlfoMetrics } from '../metrics.ts';
import { type ServerProvider, ServerUnavailable } from './server-provider.ts';

export const STEPS = ['lease', 'server', 'clients', 'watch'] as const;
export type Step = (typeof STEPS)[number];
export interface StepData {
  /** the intent record's id */
  id: string;
}

export const QUEUE_NAME = 'intents';

const NEXT_STEP_OF_STATE: Partial<Record<IntentState, Step>> = {
  accepted: 'lease',
  resolved: 'server',
  'server-ready': 'clients',
  'clients-started': 'watch',
  training: 'watch',
};

export interface OrchestratorOptions {
  queueConnection: Redis;
  workerConnection: Redis;
  prefix: string;
  store: IntentStore;
  inventory: Inventory;
  adapters: AdapterClient;
  servers: ServerProvider;
  metrics: MlfoMetrics;
  attempts: number;
  backoffMs: number;
  lockMs: number;
  pollMs: number;
  /**
   * Called when an intent with a server fails or is deleted: stops that server unless another
   * active intent shares it (standalone: the placement decides; edge: over the server node's REST API).
   */
  releaseServer: (rec: IntentRecord) => Promise<void>;
  log: (msg: string) => void;
}

export class Orchestrator {
  readonly queue: Queue<StepData, void, Step>;
  private worker: Worker<StepData, void, Step> | undefined;
  private closing = false;

  constructor(private readonly o: OrchestratorOptions) {
    this.queue = new Queue<StepData, void, Step>(QUEUE_NAME, {
      connection: o.queueConnection,
      prefix: o.prefix,
    });
  }

  /** Starts the worker and re-enqueues the next step of every unfinished intent (restart after a crash). */
  async start(): Promise<void> {
    this.worker = new Worker<StepData, void, Step>(QUEUE_NAME, (job) => this.process(job), {
      connection: this.o.workerConnection,
      prefix: this.o.prefix,
      concurrency: 64,
      lockDuration: this.o.lockMs,
      stalledInterval: this.o.lockMs,
      maxStalledCount: 5,
      autorun: false,
    });
    this.worker.on('error', (err) => this.o.log(`worker error: ${err.message}`));
    void this.worker.run();
    await this.worker.waitUntilReady();
    await this.recover();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker?.close();
    await this.queue.close();
  }

  async enqueue(step: Step, id: string): Promise<void> {
    await this.queue.add(
      step,
      { id },
      {
        jobId: `${id}-${step}`,
        attempts: this.o.attempts,
        backoff: { type: 'exponential', delay: this.o.backoffMs },
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    );
  }

  private async recover(): Promise<void> {
    for (const rec of await this.o.store.list()) {
      if (isTerminal(rec.state)) continue;
      const step = NEXT_STEP_OF_STATE[rec.state];
      if (step === undefined) continue;
      const job = await this.queue.getJob(`${rec.id}-${step}`);
      const state = job ? await job.getState() : undefined;
      if (state === 'failed') {
        await this.fail(rec.id, new Error(job?.failedReason ?? `step ${step} failed`));
      } else if (state === 'completed') {
        const next = STEPS[STEPS.indexOf(step) + 1];
        if (next !== undefined) await this.enqueue(next, rec.id);
      } else {
        await this.enqueue(step, rec.id);
      }
    }
  }

  private async process(job: Job<StepData, void, Step>): Promise<void> {
    const id = job.data.id;
    const rec = await this.o.store.get(id);
    if (rec === undefined) throw new UnrecoverableError(`intent ${id}: no record in Redis`);
    if (isTerminal(rec.state)) return;
    const step = this.steps[job.name];
    if (step === undefined) {
      throw new UnrecoverableError(`intent ${id}: unknown step ${job.name}; known: ${STEPS.join(', ')}`);
    }
    try {
      await step(rec);
      // DELETE (or a failure) may have landed while this step was starting something: undo it
      const after = await this.o.store.get(id);
      if (after !== undefined && after.state === 'stopped' && job.name !== 'watch')
        await this.finish(id, true);
    } catch (err) {
      const e = err as Error;
      const final = e instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      this.o.log(
        `intent ${id}: step ${job.name} attempt ${job.attemptsMade + 1}/${job.opts.attempts ?? 1}: ${e.message}`,
      );
      if (final && !this.closing) await this.fail(id, e, job.name);
      throw err;
    }
  }

  private readonly steps: Record<Step, (rec: IntentRecord) => Promise<void>> = {
    lease: (rec) => this.lease(rec),
    server: (rec) => this.server(rec),
    clients: (rec) => this.clients(rec),
    watch: (rec) => this.watch(rec),
  };

  private async lease(rec: IntentRecord): Promise<void> {
    if (rec.clients.length === 0) {
      const p = rec.pipeline;
      const size = p.cohort.cohortsize ?? p.minav;
      if (p.cohort.ipstart !== undefined) {
        throw new UnrecoverableError(`intent ${rec.id}: its ipstart cohort has no client nodes recorded`);
      }
      const all = this.o.inventory.clients().map((n) => n.name);
      const nodes = await this.o.store.leaseClients(rec.id, all, size);
      if (nodes === undefined) {
        throw new Error(
          `not enough free fl-client nodes for a cohort of ${size} (inventory ${this.o.inventory.fileName} lists ${all.length}); will retry`,
        );
      }
      const clients: ClientRecord[] = nodes.map((name, part) => ({
        node: name,
        address: this.o.inventory.byName(name)?.address ?? '',
        part,
        session: `cli-${rec.id}-p${part}`.slice(0, 128),
        state: 'pending',
      }));
      await this.o.store.advance(rec.id, 'resolved', (r) => {
        if (r.clients.length === 0) r.clients = clients;
      });
    } else {
      await this.o.store.advance(rec.id, 'resolved');
    }
    await this.enqueue('server', rec.id);
  }

  private async server(rec: IntentRecord): Promise<void> {
    const derived = rec.derived;
    if (derived?.targets === undefined)
      throw new UnrecoverableError(`intent ${rec.id}: its record has no derived intent`);
    let server: Awaited<ReturnType<ServerProvider['deploy']>>;
    try {
      server = await this.o.servers.deploy(derived);
    } catch (err) {
      if (err instanceof ServerUnavailable && err.invalid) throw new UnrecoverableError(err.message);
      throw err;
    }
    // recorded even when the intent was stopped meanwhile, so that its cleanup finds the server
    await this.o.store.update(
      rec.id,
      (r) => {
        r.server = { ...server };
        return true;
      },
      true,
    );
    const after = await this.o.store.advance(rec.id, 'server-ready');
    if (after?.state === 'server-ready') this.o.metrics.stage('server-ready', after.stages.accepted);
    await this.enqueue('clients', rec.id);
  }

  private async clients(rec: IntentRecord): Promise<void> {
    const server = rec.server;
    if (server === undefined) throw new UnrecoverableError(`intent ${rec.id}: no FL server recorded`);
    const p = rec.pipeline;
    const results = await Promise.allSettled(
      rec.clients.map(async (c) => {
        const node = this.o.inventory.byName(c.node);
        if (node === undefined)
          throw new AdapterError('invalid', c.node, `node ${c.node} is not in the inventory`);
        return this.o.adapters.startClient(node.name, restUrl(node), {
          source: p.source,
          model: p.model,
          server: server.address,
          cohsize: rec.clients.length,
          part: c.part,
          session: c.session,
        });
      }),
    );
    const failures: string[] = [];
    let invalid = false;
    await this.o.store.update(rec.id, (r) => {
      results.forEach((res, i) => {
        const c = r.clients[i];
        if (c === undefined) return;
        if (res.status === 'fulfilled') {
          c.state = res.value.state;
          c.startedAt ??= new Date().toISOString();
          delete c.error;
        } else {
          c.state = 'unreachable';
          c.error = (res.reason as Error).message;
        }
      });
      return true;
    });
    results.forEach((res, i) => {
      if (res.status === 'rejected') {
        const e = res.reason as Error;
        failures.push(`client ${rec.clients[i]?.node}: ${e.message}`);
        if (e instanceof AdapterError && e.kind === 'invalid') invalid = true;
      }
    });
    if (failures.length > 0) {
      const msg = `starting FL clients failed on ${failures.length} of ${rec.clients.length} nodes: ${failures.join('; ')}`;
      throw invalid ? new UnrecoverableError(msg) : new Error(msg);
    }
    const after = await this.o.store.advance(rec.id, 'clients-started');
    if (after?.state === 'clients-started') this.o.metrics.stage('clients-started', after.stages.accepted);
    await this.enqueue('watch', rec.id);
  }

  private serverUrl(address: string): { node: string; url: string } {
    const ip = address.slice(0, address.lastIndexOf(':'));
    const node = this.o.inventory.byAddress(ip);
    return { node: node?.name ?? ip, url: restUrl(node ?? { address: ip, restPort: 5000 }) };
  }

  private async findServerSession(rec: IntentRecord): Promise<string> {
    if (rec.server?.session !== undefined) return rec.server.session;
    const { node, url } = this.serverUrl(rec.server?.address ?? '');
    const st = await this.o.adapters.status(node, url);
    const s = st.sessions.find(
      (x) => x.role === 'server' && x.address === rec.server?.address && !isEnded(x.state),
    );
    if (s === undefined) throw new Error(`no running FL server session at ${rec.server?.address} on ${node}`);
    await this.o.store.update(rec.id, (r) => {
      if (r.server) r.server.session = s.session;
      return true;
    });
    return s.session;
  }

  private async watch(rec: IntentRecord): Promise<void> {
    const address = rec.server?.address;
    if (address === undefined) throw new UnrecoverableError(`intent ${rec.id}: no FL server recorded`);
    const session = await this.findServerSession(rec);
    const { node, url } = this.serverUrl(address);
    let consecutiveErrors = 0;
    let polls = 0;
    for (;;) {
      if (this.closing) throw new Error('MLFO is shutting down; the watch resumes on restart');
      const current = await this.o.store.get(rec.id);
      if (current === undefined || isTerminal(current.state)) return;
      let s: SessionStatus;
      try {
        s = await this.o.adapters.session(node, url, session);
        consecutiveErrors = 0;
      } catch (err) {
        if (err instanceof AdapterError && err.kind === 'not-found') {
          throw new UnrecoverableError(`FL server session ${session} is gone from ${node} (${url})`);
        }
        if (++consecutiveErrors >= 10) throw err;
        await sleep(this.o.pollMs);
        continue;
      }
      const clientStates =
        polls++ % 5 === 0 || isEnded(s.state) ? await this.clientStates(current) : undefined;
      const training = s.state === 'running' || s.round > 0 || isEnded(s.state);
      const updated = await this.o.store.update(rec.id, (r) => {
        r.round = s.round;
        r.numRounds = s.numRounds ?? r.pipeline.numround;
        r.rounds = s.rounds.map((x) => ({
          round: x.round,
          ...(x.loss !== undefined ? { loss: x.loss } : {}),
          ...(x.accuracy !== undefined ? { accuracy: x.accuracy } : {}),
          ...(x.fitResults !== undefined ? { fitResults: x.fitResults } : {}),
          ...(x.fitFailures !== undefined ? { fitFailures: x.fitFailures } : {}),
          ...(x.durationMs !== undefined ? { durationMs: x.durationMs } : {}),
        }));
        if (s.accuracy !== undefined) r.accuracy = s.accuracy;
        if (s.loss !== undefined) r.loss = s.loss;
        if (clientStates) for (const c of r.clients) c.state = clientStates.get(c.node) ?? c.state;
        if (training && r.state === 'clients-started') {
          r.state = 'training';
          r.stages.training = new Date().toISOString();
          this.o.metrics.stage('first-round', r.stages.accepted);
        }
        return true;
      });
      const labels = { intent: rec.intentID, cohort: rec.id };
      this.o.metrics.intentRound.set(labels, s.round);
      if (s.accuracy !== undefined) this.o.metrics.intentAccuracy.set(labels, s.accuracy);
      if (updated !== undefined && isTerminal(updated.state)) return;
      if (s.state === 'completed') {
        await this.o.store.advance(rec.id, 'completed');
        this.o.metrics.count('completed');
        await this.finish(rec.id, false);
        this.o.log(`intent ${rec.id}: completed after ${s.round} rounds, accuracy ${s.accuracy ?? 'n/a'}`);
        return;
      }
      if (isEnded(s.state)) {
        throw new UnrecoverableError(
          `FL server session ${session} on ${node} ended ${s.state}${s.errors.length ? `: ${s.errors.join('; ')}` : ''}`,
        );
      }
      await sleep(this.o.pollMs);
    }
  }

  private async clientStates(rec: IntentRecord): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    await Promise.all(
      rec.clients.map(async (c) => {
        const node = this.o.inventory.byName(c.node);
        if (node === undefined) return;
        try {
          out.set(c.node, (await this.o.adapters.session(node.name, restUrl(node), c.session)).state);
        } catch {
          out.set(c.node, 'unreachable');
        }
      }),
    );
    return out;
  }

  /** Marks the intent failed with the error and stops everything it started. */
  async fail(id: string, err: Error, step?: string): Promise<void> {
    const rec = await this.o.store.get(id);
    if (rec === undefined || isTerminal(rec.state)) return;
    await this.o.store.advance(id, 'failed', (r) => {
      r.error = `${step ? `step ${step}: ` : ''}${err.message}`;
    });
    this.o.metrics.count('failed');
    await this.finish(id, true);
  }

  /** DELETE /intents/:id: stops the intent's sessions on all its nodes. */
  async stop(id: string): Promise<IntentRecord | undefined> {
    const rec = await this.o.store.get(id);
    if (rec === undefined) return undefined;
    if (!isTerminal(rec.state)) {
      await this.o.store.advance(id, 'stopped');
      this.o.metrics.count('stopped');
      await this.finish(id, true);
    }
    return this.o.store.get(id);
  }

  /** Frees what an ended intent holds; with `stopSessions`, stops its clients and its own server too. */
  private async finish(id: string, stopSessions: boolean): Promise<void> {
    const rec = await this.o.store.get(id);
    if (rec === undefined) return;
    if (stopSessions) {
      const errors: string[] = [];
      await Promise.all(
        rec.clients.map(async (c) => {
          const node = this.o.inventory.byName(c.node);
          if (node === undefined) return;
          try {
            await this.o.adapters.stop(node.name, restUrl(node), c.session);
          } catch (err) {
            // an unreachable node runs nothing of ours
            if (!(err instanceof AdapterError && err.kind === 'transient'))
              errors.push((err as Error).message);
          }
        }),
      );
      if (rec.server !== undefined) {
        try {
          await this.o.releaseServer(rec);
        } catch (err) {
          errors.push(`FL server ${rec.server.address}: ${(err as Error).message}`);
        }
      }
      if (errors.length > 0) this.o.log(`intent ${id}: cleanup: ${errors.join('; ')}`);
    }
    await this.o.store.releaseClients(
      id,
      rec.clients.map((c) => c.node),
    );
    await this.o.store.release(rec.cohortKey ?? rec.intentID, id);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
