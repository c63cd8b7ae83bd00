// Starts a flower-adapter as a child process and waits until its REST API answers /healthz.
// The returned handle stops exactly that process (SIGTERM, then SIGKILL after a grace period);
// if readiness fails, the process is stopped before the error is rethrown.

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'flower-adapter.mjs');

export interface AdapterProcessOptions {
  host: string;
  restPort?: number;
  flPort?: number;
  nodeId: string;
  dataDir?: string;
  /** file that receives the process's stdout and stderr; inherited output when absent */
  logFile?: string;
  readyTimeoutMs?: number;
  env?: Record<string, string>;
}

export interface StartedAdapter {
  readonly url: string;
  readonly pid: number;
  readonly nodeId: string;
  readonly child: ChildProcess;
  /** true once the process has exited */
  readonly exited: boolean;
  /** SIGKILL without grace: simulates a crash */
  kill(): void;
  stop(graceMs?: number): Promise<void>;
}

export async function waitForHttp(
  url: string,
  timeoutMs: number,
  isAlive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`process exited before ${url} answered`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (last: ${last})`);
}

export async function spawnAdapter(opts: AdapterProcessOptions): Promise<StartedAdapter> {
  const restPort = opts.restPort ?? 5000;
  const args = [
    // as the bin's shebang does: a small young generation keeps a node's memory down
    '--max-semi-space-size=2',
    BIN,
    '--host',
    opts.host,
    '--rest-port',
    String(restPort),
    '--fl-port',
    String(opts.flPort ?? 6000),
    '--node-id',
    opts.nodeId,
  ];
  if (opts.dataDir) args.push('--data-dir', opts.dataDir);
  let out: ReturnType<typeof createWriteStream> | undefined;
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    out = createWriteStream(opts.logFile, { flags: 'a' });
  }
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', out ? 'pipe' : 'inherit', out ? 'pipe' : 'inherit'],
    env: { ...process.env, ...opts.env },
  });
  if (out) {
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      r();
    }),
  );
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${restPort}`;
  const handle: StartedAdapter = {
    url,
    pid: child.pid ?? -1,
    nodeId: opts.nodeId,
    child,
    get exited() {
      return exited;
    },
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
    async stop(graceMs = 5000) {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exit;
        clearTimeout(t);
      }
      out?.end();
    },
  };
  try {
    await waitForHttp(`${url}/healthz`, opts.readyTimeoutMs ?? 30000, () => !exited);
  } catch (err) {
    await handle.stop(1000);
    throw new Error(
      `flower-adapter ${opts.nodeId} on ${url}: ${(err as Error).message}${opts.logFile ? ` (log: ${opts.logFile})` : ''}`,
    );
  }
  return handle;
}
