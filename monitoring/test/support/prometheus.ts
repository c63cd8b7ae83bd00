// Test support: Debian's promtool and a real Prometheus server started for one test on a free
// loopback port with its own data directory, queried over its HTTP API and stopped (that process
// only, then its directory removed). Tests that need them skip with the reason when the binaries
// are missing (scripts/setup.sh installs the `prometheus` package as root).

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export const PROMTOOL = which('promtool');
export const PROMETHEUS = which('prometheus');
export const promtoolSkip =
  PROMTOOL === undefined ? 'promtool not installed (apt package prometheus)' : false;
export const prometheusSkip =
  PROMETHEUS === undefined ? 'prometheus not installed (apt package prometheus)' : false;

/** Runs promtool; returns its exit code and output. */
export function promtool(...args: string[]): { code: number; output: string } {
  const r = spawnSync(PROMTOOL ?? 'promtool', args, { encoding: 'utf8' });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok, fail) => {
    srv.once('error', fail);
    srv.listen(0, host, ok);
  });
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface QueryResult {
  status: string;
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

export interface StartedPrometheus {
  url: string;
  dir: string;
  query(expr: string): Promise<QueryResult>;
  stop(): Promise<void>;
}

/** Starts Prometheus with `configYaml` on `listen` (default a free 127.0.0.1 port); resolves once /-/ready answers 200. */
export async function startPrometheus(
  configYaml: string,
  opts: { listen?: string; readyTimeoutMs?: number } = {},
): Promise<StartedPrometheus> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'mlfo-prom-test-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, configYaml);
  const listen = opts.listen ?? `127.0.0.1:${await freePort()}`;
  const url = `http://${listen}`;
  const child: ChildProcess = spawn(
    PROMETHEUS ?? 'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=${listen}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const stop = async () => {
    if (!gone) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (gone) {
      await stop();
      throw new Error(`prometheus exited before it was ready: ${stderr}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus at ${url} not ready within ${readyTimeoutMs} ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dir,
    async query(expr) {
      const r = await fetch(`${url}/api/v1/query`, {
        method: 'POST',
        body: new URLSearchParams({ query: expr }),
      });
      return (await r.json()) as QueryResult;
    },
    stop,
  };
}
