// A small TCP port forwarder, run as its own Node program so it outlives the process that started
// the network: `forwarder.ts [--run <runId>] [--report-fd <n>] <listenHost:port> <targetHost:port>
// [<listenHost:port> <targetHost:port> ...]`. Each pair is a net.Server piping every connection to
// its target; an error on either side closes both. One process carries all pairs of a run. A pair
// whose port cannot be listened on is reported and skipped; the others go on. With --report-fd,
// the outcome of every listen is written there as one JSON line, then the descriptor is closed.
// `startForwarder` launches it detached and waits for that report (used by the emulation backends).

import { spawn } from 'node:child_process';
import { closeSync, openSync, realpathSync, writeSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { shutdownOnSignal } from '../../common/shutdown-on-signal.ts';

export const FORWARDER_PATH = fileURLToPath(import.meta.url);

/** Whether an argv element is this program (its source or its compiled dist/ copy). */
export function isForwarderScript(arg: string): boolean {
  return /(^|\/)forwarder\.[jt]s$/.test(arg);
}

export interface ForwardPair {
  listenHost: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
}

export interface ForwarderReport {
  listening: ForwardPair[];
  failed: { pair: ForwardPair; reason: string }[];
}

const USAGE =
  'usage: forwarder.ts [--run <runId>] [--report-fd <n>] <listenHost:port> <targetHost:port> [<listenHost:port> <targetHost:port> ...]';

function parseEndpoint(text: string, what: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m?.[1] || !(port >= 1 && port <= 65535)) {
    throw new Error(`forwarder: ${what} ${JSON.stringify(text)} is not <host>:<port 1-65535>\n${USAGE}`);
  }
  return { host: m[1], port };
}

export function describePair(p: ForwardPair): string {
  return `${p.listenHost}:${p.listenPort} -> ${p.targetHost}:${p.targetPort}`;
}

/** The program's arguments for these pairs (after the script path). */
export function forwarderArgs(pairs: readonly ForwardPair[], opts: { runId?: string } = {}): string[] {
  return [
    ...(opts.runId !== undefined ? ['--run', opts.runId] : []),
    ...pairs.flatMap((p) => [`${p.listenHost}:${p.listenPort}`, `${p.targetHost}:${p.targetPort}`]),
  ];
}

export function parseForwarderArgs(argv: readonly string[]): {
  runId?: string;
  reportFd?: number;
  pairs: ForwardPair[];
} {
  const out: { runId?: string; reportFd?: number; pairs: ForwardPair[] } = { pairs: [] };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--run' || a === '--report-fd') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`forwarder: ${a} needs a value\n${USAGE}`);
      if (a === '--run') out.runId = v;
      else if (/^\d+$/.test(v)) out.reportFd = Number(v);
      else
        throw new Error(`forwarder: --report-fd ${JSON.stringify(v)} is not a descriptor number\n${USAGE}`);
    } else {
      rest.push(a);
    }
  }
  if (rest.length === 0 || rest.length % 2 !== 0) {
    throw new Error(`forwarder: expected listen/target pairs, got ${rest.length} endpoint(s)\n${USAGE}`);
  }
  for (let i = 0; i < rest.length; i += 2) {
    const l = parseEndpoint(rest[i] as string, 'listen address');
    const t = parseEndpoint(rest[i + 1] as string, 'target address');
    out.pairs.push({ listenHost: l.host, listenPort: l.port, targetHost: t.host, targetPort: t.port });
  }
  return out;
}

function forward(pair: ForwardPair, client: Socket): void {
  const upstream = connect({ host: pair.targetHost, port: pair.targetPort, allowHalfOpen: true });
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  upstream.on('error', (err) => {
    console.log(`${describePair(pair)}: ${err.message}`);
    close();
  });
  client.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
  client.pipe(upstream);
  upstream.pipe(client);
}

function listen(pair: ForwardPair): Promise<Server | string> {
  return new Promise((resolve) => {
    const server = createServer({ allowHalfOpen: true }, (client) => forward(pair, client));
    server.once('error', (err: NodeJS.ErrnoException) => resolve(`${err.code ?? 'error'}: ${err.message}`));
    server.listen({ host: pair.listenHost, port: pair.listenPort, exclusive: true }, () => resolve(server));
  });
}

async function main(argv: readonly string[]): Promise<void> {
  const args = parseForwarderArgs(argv);
  const report: ForwarderReport = { listening: [], failed: [] };
  const servers: Server[] = [];
  for (const pair of args.pairs) {
    const r = await listen(pair);
    if (typeof r === 'string') {
      report.failed.push({ pair, reason: r });
      console.log(`cannot listen on ${pair.listenHost}:${pair.listenPort}: ${r}`);
    } else {
      servers.push(r);
      report.listening.push(pair);
      console.log(`listening ${describePair(pair)}`);
    }
  }
  if (args.reportFd !== undefined) {
    try {
      writeSync(args.reportFd, `${JSON.stringify(report)}\n`);
      closeSync(args.reportFd);
    } catch (err) {
      console.log(`cannot write the report to fd ${args.reportFd}: ${(err as Error).message}`);
    }
  }
  if (servers.length === 0) {
    console.log('nothing to forward: every listen failed');
    process.exit(1);
  }
  shutdownOnSignal(() => {
    for (const s of servers) s.close();
  });
}

export interface StartForwarderOptions {
  /** stdout/stderr of the forwarder are appended here */
  logFile: string;
  /** written into its argv, so leftovers of a run can be found by its id */
  runId?: string;
  /** called with the pid and argv as soon as the process exists (before it reports) */
  onSpawn?: (pid: number, argv: string[]) => void;
  timeoutMs?: number;
}

/**
 * Starts the forwarder in its own session (it outlives the caller) and resolves with which
 * pairs listen. Rejects when it exits or stays silent before reporting (it is then killed).
 */
export function startForwarder(
  pairs: readonly ForwardPair[],
  opts: StartForwarderOptions,
): Promise<{ pid: number; argv: string[]; report: ForwarderReport }> {
  // from the TypeScript source through tsx; the compiled dist/ copy runs on plain node (faster start)
  const loader = FORWARDER_PATH.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  const argv = [
    process.execPath,
    ...loader,
    FORWARDER_PATH,
    ...forwarderArgs(pairs, opts.runId !== undefined ? { runId: opts.runId } : {}),
    '--report-fd',
    '3',
  ];
  const fd = openSync(opts.logFile, 'a');
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd, 'pipe'] });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined)
    return Promise.reject(new Error(`could not start the port forwarder (${argv.join(' ')})`));
  opts.onSpawn?.(pid, argv);
  const timeoutMs = opts.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const report = child.stdio[3] as Socket;
    let text = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(
        new Error(`port forwarder (pid ${pid}) did not report within ${timeoutMs} ms; see ${opts.logFile}`),
      );
    }, timeoutMs);
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      report.destroy();
      child.unref();
      if (err) {
        reject(err);
        return;
      }
      try {
        resolve({ pid, argv, report: JSON.parse(text) as ForwarderReport });
      } catch {
        reject(
          new Error(`port forwarder (pid ${pid}) reported ${JSON.stringify(text)}; see ${opts.logFile}`),
        );
      }
    };
    report.setEncoding('utf8');
    report.on('data', (d: string) => {
      text += d;
    });
    const exitedEarly = () =>
      finish(
        new Error(
          `port forwarder exited (${child.exitCode ?? child.signalCode}) before reporting; see ${opts.logFile}`,
        ),
      );
    report.on('end', () => {
      if (text.trim()) finish();
      else if (child.exitCode !== null || child.signalCode !== null) exitedEarly();
      else child.once('exit', exitedEarly);
    });
    report.on('error', (err) => finish(err));
  });
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  try {
    return script !== undefined && realpathSync(script) === realpathSync(FORWARDER_PATH);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  });
}
