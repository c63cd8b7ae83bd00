// MLFO entry point: reads the configuration, loads catalog and inventory (refusing to start on a
// bad one), and wires Redis, the orchestration queue and worker, the intent API and MoMo for the
// role: edge (API + clients, servers from the parent over MoMo), cloud (MoMo + FL servers) or
// standalone (all in one). SIGTERM/SIGINT close the listeners, the worker and the queue.

import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { isEnded } from '../../common/ended-states.ts';
import { shutdownOnSignal } from '../../common/shutdown-on-signal.ts';
import { AdapterClient } from './adapter-client.ts';
import { createApi } from './api/app.ts';
import { ConfigError, type MlfoConfig, readConfig, USAGE } from './config.ts';
import { loadCatalog } from './intent/catalog.ts';
import { IntentStore, isTerminal } from './intent-store.ts';
import { type Inventory, loadInventory } from './inventory.ts';
import { MlfoMetrics } from './metrics.ts';
import { startMomoServer, type StartedMomoServer } from './momo/momo.ts';
import { momoDeployHandler } from './orchestration/momo-deploy.ts';
import { Orchestrator, QUEUE_NAME } from './orchestration/orchestrator.ts';
import { ServerPlacement } from './orchestration/server-placement.ts';
import {
  LocalServerProvider,
  MomoServerProvider,
  type ServerProvider,
} from './orchestration/server-provider.ts';
import { edgeServerRelease } from './orchestration/server-release.ts';

export interface StartedMlfo {
  readonly intentPort: number;
  readonly momoPort?: number;
  stop(): Promise<void>;
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

export async function startMlfo(
  cfg: MlfoConfig,
  log: (msg: string) => void = console.log,
): Promise<StartedMlfo> {
  const catalog = loadCatalog(cfg.catalogFile);
  for (const w of catalog.warnings) log(`catalog warning: ${w}`);
  const inventory = loadInventory(cfg.inventoryFile);
  if (!LOOPBACK.test(cfg.host) && cfg.apiToken === undefined) {
    log(
      `WARNING: listening on ${cfg.host}, beyond loopback, without MLFO_API_TOKEN: anyone who reaches it can submit, delete and reset intents`,
    );
  }
  const redisOpts = { maxRetriesPerRequest: null, lazyConnect: true } as const;
  const redis = new Redis(cfg.redisUrl, redisOpts);
  const queueRedis = new Redis(cfg.redisUrl, redisOpts);
  const workerRedis = new Redis(cfg.redisUrl, redisOpts);
  const connections = [redis, queueRedis, workerRedis];
  const toClose: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const f of toClose.reverse()) await f().catch((e: Error) => log(`stop: ${e.message}`));
    for (const c of connections) c.disconnect();
  };
  try {
    try {
      await Promise.all(connections.map((c) => c.connect()));
    } catch (err) {
      throw new Error(`Redis at ${cfg.redisUrl}: cannot connect: ${(err as Error).message}`);
    }
    const store = new IntentStore(redis, cfg.prefix);
    const adapters = new AdapterClient(cfg.adapterTimeoutMs);
    let orchestrator: Orchestrator | undefined;
    const metrics = mlfoMetrics(cfg, store, () => orchestrator);
    const placement =
      cfg.role === 'edge'
        ? undefined
        : new ServerPlacement({
            redis,
            prefix: cfg.prefix,
            inventory,
            catalog,
            adapters,
            serverWaitS: cfg.serverWaitS,
            log,
          });

    let momo: StartedMomoServer | undefined;
    if (placement !== undefined) {
      momo = await startMomoServer({
        host: cfg.host,
        port: cfg.momoPort,
        deploy: momoDeployHandler({ placement, metrics, log }),
      });
      toClose.push(() => momo!.stop());
      log(`MoMo on ${cfg.host}:${momo.port}`);
    }

    if (cfg.role !== 'cloud') {
      orchestrator = await startOrchestrator(cfg, {
        queueRedis,
        workerRedis,
        store,
        inventory,
        adapters,
        metrics,
        placement,
        log,
      });
      const orch = orchestrator;
      toClose.push(() => orch.close());
    }

    const api = createApi({
      role: cfg.role,
      store,
      metrics,
      log,
      ...(cfg.apiToken !== undefined ? { apiToken: cfg.apiToken } : {}),
      ...(orchestrator !== undefined
        ? { orchestrator, submit: { catalog, inventory, store, orchestrator, role: cfg.role } }
        : {}),
      ...(placement !== undefined ? { placement } : {}),
    });
    const http = await listen(api, cfg);
    toClose.push(() => http.close());
    const intentPort = http.port;
    log(
      `MLFO (${cfg.role}) intent API on http://${cfg.host}:${intentPort}; catalog ${cfg.catalogFile}; inventory ${cfg.inventoryFile} (${inventory.nodes.length} nodes)`,
    );
    let stopped = false;
    return {
      intentPort,
      ...(momo !== undefined ? { momoPort: momo.port } : {}),
      async stop() {
        if (stopped) return;
        stopped = true;
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function mlfoMetrics(
  cfg: MlfoConfig,
  store: IntentStore,
  orchestrator: () => Orchestrator | undefined,
): MlfoMetrics {
  return new MlfoMetrics(
    cfg.role,
    async () => orchestrator()?.queue.getJobCounts() ?? {},
    async () => {
      const recs = (await store.list()).filter((r) => !isTerminal(r.state));
      return {
        servers: recs.filter((r) => r.server?.owned).length,
        clients: recs.reduce((n, r) => n + r.clients.filter((c) => !isEnded(c.state)).length, 0),
      };
    },
    async () => (await store.list()).map((r) => r.state),
  );
}

/** The intent API listening on cfg's host and port; close() also drops open connections. */
async function listen(
  api: ReturnType<typeof createApi>,
  cfg: MlfoConfig,
): Promise<{ port: number; close(): Promise<void> }> {
  const http = await new Promise<Server>((ok, fail) => {
    const s = api.listen(cfg.intentPort, cfg.host, () => ok(s));
    s.once('error', (e) =>
      fail(new Error(`intent API: cannot listen on ${cfg.host}:${cfg.intentPort}: ${e.message}`)),
    );
  });
  const addr = http.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : cfg.intentPort,
    close: () =>
      new Promise<void>((r) => {
        http.close(() => r());
        http.closeAllConnections();
      }),
  };
}

async function startOrchestrator(
  cfg: MlfoConfig,
  d: {
    queueRedis: Redis;
    workerRedis: Redis;
    store: IntentStore;
    inventory: Inventory;
    adapters: AdapterClient;
    metrics: MlfoMetrics;
    placement: ServerPlacement | undefined;
    log: (msg: string) => void;
  },
): Promise<Orchestrator> {
  const { placement } = d;
  const servers: ServerProvider =
    placement === undefined
      ? new MomoServerProvider(cfg.parent!, d.metrics)
      : new LocalServerProvider(placement);
  const orchestrator = new Orchestrator({
    queueConnection: d.queueRedis,
    workerConnection: d.workerRedis,
    prefix: cfg.prefix,
    store: d.store,
    inventory: d.inventory,
    adapters: d.adapters,
    servers,
    metrics: d.metrics,
    attempts: cfg.stepAttempts,
    backoffMs: cfg.stepBackoffMs,
    lockMs: cfg.lockMs,
    pollMs: cfg.pollMs,
    log: d.log,
    releaseServer:
      placement !== undefined
        ? (rec) => placement.release(rec.derived.intentID)
        : edgeServerRelease({ store: d.store, inventory: d.inventory, adapters: d.adapters }),
  });
  await orchestrator.start();
  d.log(`orchestration queue ${cfg.prefix}:${QUEUE_NAME} on ${cfg.redisUrl}`);
  return orchestrator;
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let cfg: ReturnType<typeof readConfig>;
  try {
    cfg = readConfig(argv, process.env);
  } catch (err) {
    console.error(`mlfo: ${(err as Error).message}`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  if (cfg === 'help') {
    console.log(USAGE);
    return;
  }
  const log = (msg: string) => console.log(`${new Date().toISOString()} mlfo[${cfg.role}] ${msg}`);
  let mlfo: StartedMlfo;
  try {
    mlfo = await startMlfo(cfg, log);
  } catch (err) {
    console.error(`mlfo: cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  shutdownOnSignal(() => mlfo.stop(), {
    onSignal: (sig) => log(`${sig}: closing the API, MoMo, the worker and the queue`),
    forceAfterMs: 15_000,
  });
}
