// flower-adapter entry point: reads flags and environment, wires the metrics, the session
// registry, the FL runtime picked by name and the REST app together, and stops every session on
// SIGTERM/SIGINT. What lives where, and where a new strategy, runtime, dataset or model goes:
// flower-adapter/README.md.

import { networkInterfaces, hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { shutdownOnSignal } from '../../common/shutdown-on-signal.ts';
import { AdapterMetrics } from './metrics.ts';
import { createApp } from './rest/app.ts';
import { SessionRegistry } from './sessions/session-registry.ts';
import {
  createRuntime,
  DEFAULT_RUNTIME,
  RUNTIME_NAMES,
  type RuntimeName,
  runtimeName,
} from './sessions/runtime-registry.ts';
import { initTf } from './ml/tf.ts';
import type { NodeContext } from './sessions/session.ts';

const USAGE = `usage: flower-adapter [--host H] [--rest-port N] [--fl-port N] [--data-dir DIR] [--node-id ID] [--advertise-host H] [--runtime NAME]
  --host            address to bind REST and FL gRPC to (env FLOWER_ADAPTER_HOST, default 0.0.0.0)
  --rest-port       REST port (env FLOWER_ADAPTER_REST_PORT, default 5000)
  --fl-port         Flower gRPC port of FL servers started here (env FLOWER_ADAPTER_FL_PORT, default 6000)
  --data-dir        datasets directory (env FLOWER_ADAPTER_DATA_DIR, default ./data)
  --node-id         name of this node in status and metrics (env FLOWER_ADAPTER_NODE_ID, default the hostname)
  --advertise-host  address clients should use to reach FL servers started here
                    (env FLOWER_ADAPTER_ADVERTISE_HOST, default --host, or this node's first non-loopback IPv4 when --host is 0.0.0.0)
  --runtime         FL runtime that runs the sessions: ${RUNTIME_NAMES.join(', ')} (env FLOWER_ADAPTER_RUNTIME, default ${DEFAULT_RUNTIME})`;

export interface AdapterConfig {
  host: string;
  restPort: number;
  flPort: number;
  dataDir: string;
  nodeId: string;
  advertiseHost: string;
  runtime: RuntimeName;
}

function port(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new Error(`--${name}: got ${JSON.stringify(text)}; allowed: an integer port 0–65535`);
  }
  return n;
}

function firstIpv4(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export function readConfig(argv: string[], env: NodeJS.ProcessEnv): AdapterConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      'rest-port': { type: 'string' },
      'fl-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'node-id': { type: 'string' },
      'advertise-host': { type: 'string' },
      runtime: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const host = values.host ?? env['FLOWER_ADAPTER_HOST'] ?? '0.0.0.0';
  const advertise = values['advertise-host'] ?? env['FLOWER_ADAPTER_ADVERTISE_HOST'];
  return {
    host,
    restPort: port('rest-port', values['rest-port'] ?? env['FLOWER_ADAPTER_REST_PORT'] ?? '5000'),
    flPort: port('fl-port', values['fl-port'] ?? env['FLOWER_ADAPTER_FL_PORT'] ?? '6000'),
    dataDir: resolve(values['data-dir'] ?? env['FLOWER_ADAPTER_DATA_DIR'] ?? 'data'),
    nodeId: values['node-id'] ?? env['FLOWER_ADAPTER_NODE_ID'] ?? hostname(),
    advertiseHost: advertise ?? (host === '0.0.0.0' || host === '::' ? firstIpv4() : host),
    runtime: runtimeName(values.runtime ?? env['FLOWER_ADAPTER_RUNTIME'] ?? DEFAULT_RUNTIME),
  };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let cfg: AdapterConfig;
  try {
    cfg = readConfig(argv, process.env);
  } catch (err) {
    console.error(`flower-adapter: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const log = (msg: string) => console.log(`${new Date().toISOString()} [${cfg.nodeId}] ${msg}`);
  let registry: SessionRegistry | undefined;
  const metrics = new AdapterMetrics(cfg.nodeId, () => registry?.list().map((s) => s.gauges()) ?? [], {
    flTargets: () => registry?.flTargets() ?? [],
  });
  const { runtime, ...node } = cfg;
  const ctx: NodeContext = { ...node, metrics, log };
  registry = new SessionRegistry(createRuntime(runtime), ctx);
  const app = createApp({ registry, metrics, nodeId: cfg.nodeId, startedAt: new Date() });
  const server = app.listen(cfg.restPort, cfg.host);
  await new Promise<void>((ok, fail) => {
    server.once('listening', ok);
    server.once('error', fail);
  }).catch((err: Error) => {
    console.error(`flower-adapter: cannot listen on ${cfg.host}:${cfg.restPort}: ${err.message}`);
    process.exit(1);
  });
  log(
    `REST on ${cfg.host}:${cfg.restPort}, FL servers on :${cfg.flPort} (advertised as ${cfg.advertiseHost}), data in ${cfg.dataDir}`,
  );

  // every session needs the TF backend: set it up now, while the node idles, rather than in the
  // first /cli or /serv of a cohort that 50 nodes receive at once
  void initTf().catch((e: Error) => log(`TensorFlow.js backend setup failed: ${e.message}`));

  shutdownOnSignal(
    async () => {
      await registry?.reset().catch((e: Error) => log(`reset failed: ${e.message}`));
      server.close();
      server.closeAllConnections();
    },
    { onSignal: (signal) => log(`${signal}: stopping every session`) },
  );
}
