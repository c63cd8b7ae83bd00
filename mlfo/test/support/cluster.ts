// Test support: flower-adapters as real processes on loopback addresses of a /24 private to this
// test process, an inventory file for them, MLFOs as child processes (bin/mlfo.mjs, so a test can
// kill -9 one), and small HTTP helpers. Everything started here is stopped by its own handle.

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import {
  type StartedAdapter,
  spawnAdapter,
  waitForHttp,
} from '../../../flower-adapter/test/support/spawn-adapter.ts';
import { type StartedRedis, startRedis } from './redis.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = join(ROOT, 'bin', 'mlfo.mjs');

/** A loopback /24 per test file and process, e.g. 127.61.12 */
export function testNet(salt: number): string {
  return `127.${20 + ((process.pid + salt * 37) % 80)}.${(process.pid >> 3) % 250}`;
}

export interface NodeSpec {
  name: string;
  address: string;
  role: 'fl-server' | 'fl-client';
}

export function writeInventory(file: string, clientNet: string, nodes: NodeSpec[]): string {
  const lines = [`clientNet: ${clientNet}`, 'nodes:'];
  for (const n of nodes) lines.push(`  - {name: ${n.name}, address: ${n.address}, role: ${n.role}}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

export async function startAdapters(
  nodes: NodeSpec[],
  logDir: string,
  opts: { batchSize?: number; readyTimeoutMs?: number } = {},
): Promise<Map<string, StartedAdapter>> {
  const out = new Map<string, StartedAdapter>();
  const batchSize = opts.batchSize ?? Math.max(1, nodes.length);
  for (let i = 0; i < nodes.length; i += batchSize) {
    const batch = nodes.slice(i, i + batchSize);
    const started = await Promise.allSettled(
      batch.map((n) =>
        spawnAdapter({
          host: n.address,
          nodeId: n.name,
          logFile: join(logDir, `${n.name}.log`),
          readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
        }),
      ),
    );
    started.forEach((r, j) => {
      if (r.status === 'fulfilled') out.set(batch[j]!.name, r.value);
    });
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await Promise.all([...out.values()].map((a) => a.stop()));
      throw (failed as PromiseRejectedResult).reason;
    }
  }
  return out;
}

/**
 * A temp dir, a private redis-server and flower-adapters for `adapterNodes`: what every MLFO
 * end-to-end test (and bench/mlfo-harness.ts) starts before its MLFO(s). stop() stops the adapters,
 * deletes every Redis key under the prefix, stops Redis and removes the dir (kept when
 * MLFO_TEST_KEEP is set, unless keepDir says otherwise); it is safe to call more than once. Stop the
 * MLFO(s) first. If starting fails, what was started is stopped before the error is thrown.
 */
export interface ClusterBase {
  net: string;
  dir: string;
  prefix: string;
  redis: StartedRedis;
  adapters: Map<string, StartedAdapter>;
  stop(): Promise<void>;
}

export interface ClusterBaseOptions {
  /** temp dir name start, e.g. 'mlfo-standalone' */
  tmpName: string;
  net: string;
  /** nodes to start flower-adapters for */
  adapterNodes: NodeSpec[];
  /** Redis key prefix for the MLFO(s); default mlfo-test-<pid>-<now> */
  prefix?: string;
  /** keep the temp dir at stop(); default: whether MLFO_TEST_KEEP is set */
  keepDir?: boolean;
  adapterBatchSize?: number;
  adapterReadyTimeoutMs?: number;
}

export async function startClusterBase(opts: ClusterBaseOptions): Promise<ClusterBase> {
  const dir = mkdtempSync(join(tmpdir(), `${opts.tmpName}-`));
  const prefix = opts.prefix ?? `mlfo-test-${process.pid}-${Date.now()}`;
  const keepDir = opts.keepDir ?? process.env['MLFO_TEST_KEEP'] !== undefined;
  let redis: StartedRedis | undefined;
  let adapters: Map<string, StartedAdapter> | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await Promise.all([...(adapters?.values() ?? [])].map((a) => a.stop()));
      if (redis) {
        const r = new Redis(redis.url);
        const keys = await r.keys(`${prefix}*`);
        if (keys.length > 0) await r.del(...keys);
        r.disconnect();
        await redis.stop();
      }
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    redis = await startRedis();
    adapters = await startAdapters(opts.adapterNodes, dir, {
      batchSize: opts.adapterBatchSize,
      readyTimeoutMs: opts.adapterReadyTimeoutMs,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { net: opts.net, dir, prefix, redis, adapters, stop };
}

export interface StandaloneCluster extends ClusterBase {
  inventory: string;
  mlfo: MlfoProcess;
}

/**
 * startClusterBase, an inventory of `inventoryNodes` (default: the adapter nodes) and a standalone
 * MLFO on <net>.1:8000 (MoMo 9000) using that Redis, inventory, the digits catalog and the prefix,
 * with `mlfoArgs` appended. stop() stops the MLFO, then what startClusterBase started; safe to call
 * more than once.
 */
export async function startStandaloneCluster(
  opts: ClusterBaseOptions & {
    inventoryNodes?: NodeSpec[];
    mlfoArgs?: string[];
    mlfoEnv?: Record<string, string>;
  },
): Promise<StandaloneCluster> {
  const base = await startClusterBase(opts);
  let mlfo: MlfoProcess | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await mlfo?.stop();
      await base.stop();
    })();
    return stopping;
  };
  try {
    const inventory = writeInventory(
      join(base.dir, 'inventory.yaml'),
      opts.net,
      opts.inventoryNodes ?? opts.adapterNodes,
    );
    mlfo = await startMlfoProcess({
      host: `${opts.net}.1`,
      intentPort: 8000,
      logFile: join(base.dir, 'mlfo.log'),
      env: opts.mlfoEnv,
      args: [
        '--role',
        'standalone',
        '--momo-port',
        '9000',
        '--redis',
        base.redis.url,
        '--inventory',
        inventory,
        '--catalog',
        join(ROOT, 'intents', 'catalog.digits.yaml'),
        '--prefix',
        base.prefix,
        ...(opts.mlfoArgs ?? []),
      ],
    });
    return { ...base, inventory, mlfo, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface MlfoProcess {
  url: string;
  child: ChildProcess;
  log: string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMlfoProcess(opts: {
  args: string[];
  host: string;
  intentPort: number;
  logFile: string;
  env?: Record<string, string>;
}): Promise<MlfoProcess> {
  const out = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(
    process.execPath,
    [BIN, '--host', opts.host, '--intent-port', String(opts.intentPort), ...opts.args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MLFO_FROM_SOURCE: '1', ...opts.env },
    },
  );
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://${opts.host}:${opts.intentPort}`;
  const handle: MlfoProcess = {
    url,
    child,
    log: opts.logFile,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      out.end();
    },
  };
  try {
    await waitForHttp(`${url}/healthz`, 60_000, () => child.exitCode === null);
  } catch (err) {
    await handle.stop();
    throw new Error(
      `mlfo on ${url}: ${(err as Error).message}\n${readFileSync(opts.logFile, 'utf8').slice(-2000)}`,
    );
  }
  return handle;
}

export async function postIntent(
  url: string,
  yaml: string,
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new FormData();
  form.set('file', new Blob([yaml], { type: 'application/yaml' }), 'intent.yaml');
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  const r = await fetch(`${url}/receive`, { method: 'POST', body: form, headers });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

export interface IntentView {
  id: string;
  intentID: string;
  state: string;
  error?: string;
  server?: { address: string; session?: string; sharedWith?: string[] };
  clients: Array<{ node: string; session: string; state: string }>;
  rounds: Array<{ round: number; accuracy?: number; loss?: number; fitResults?: number }>;
  accuracy?: number;
  stages: Record<string, string>;
}

export async function getIntent(url: string, id: string): Promise<IntentView> {
  const r = await fetch(`${url}/intents/${encodeURIComponent(id)}`);
  if (r.status !== 200) throw new Error(`GET /intents/${id}: HTTP ${r.status}: ${await r.text()}`);
  return (await r.json()) as IntentView;
}

export async function waitIntent(
  url: () => string,
  id: string,
  states: string[],
  timeoutMs: number,
): Promise<IntentView> {
  const deadline = Date.now() + timeoutMs;
  let last: IntentView | string = 'no answer';
  while (Date.now() < deadline) {
    try {
      last = await getIntent(url(), id);
      if (states.includes(last.state)) return last;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `intent ${id} not in ${states.join('|')} within ${timeoutMs} ms; last: ${JSON.stringify(last)}`,
  );
}

/** bin/sendintent.mjs as a child process; resolves with its exit code and output. */
export function runSendintent(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'sendintent.mjs'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MLFO_API_TOKEN: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface AdapterSession {
  session: string;
  role: string;
  state: string;
  rounds?: Array<{ round: number; fitResults?: number }>;
}

export async function adapterSessions(a: StartedAdapter): Promise<AdapterSession[]> {
  const r = await fetch(`${a.url}/status`);
  return ((await r.json()) as { sessions: AdapterSession[] }).sessions;
}

/** The seed's intents with modelkind simple (fast to train), written into dir. */
export function simpleIntents(dir: string, suffix = ''): string[] {
  return ['intent.yaml', '2intent.yaml', '3intent.yaml'].map((f) => {
    const text = readFileSync(join(ROOT, 'intents', f), 'utf8')
      .replace(/intentID: (\S+)/, `intentID: $1${suffix}`)
      .replace('privacylevel: high', 'privacylevel: high\n        modelkind: simple');
    const p = join(dir, `${suffix}${f}`);
    writeFileSync(p, text);
    return p;
  });
}

/** A three-cohort config [4, 2, 2] in the seed's format, 2 rounds, pointing at the given intents. */
export function writeCohortConfig(
  dir: string,
  intents: string[],
  mlfoUrl: string,
  name = 'cohorts.yaml',
): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      `mlfoadd: ${mlfoUrl}/receive`,
      'timegap: 0',
      'cohortdistr: [4, 2, 2]',
      `intentdist: [${intents.join(', ')}]`,
      'sameserverdist: [nor, "no", "no"]',
      'fracfitdist: ["1", "1", "1"]',
      'minfitdist: ["4", "2", "2"]',
      'minavdist: ["4", "2", "2"]',
      'numrounddist: ["2", "2", "2"]',
      '',
    ].join('\n'),
  );
  return file;
}
