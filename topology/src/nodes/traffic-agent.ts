// The traffic agent: the background application of the seed (app.1 → appserv.0), run inside a
// traffic-source or traffic-sink host. On the sink it is the app server: TCP echo (latency
// probes) and TCP discard (the built-in bulk flow). On the source it is the client: one small
// request/response per second over its own connection (app latency), and the bulk flow at the
// topology's rate: an iperf3 client it restarts with backoff whenever it ends (the sink started
// later, restarted, …), or, without iperf3, a paced TCP sender of its own. Both serve Prometheus
// metrics on /metrics: app latency, the agent's own flow bytes, and the host's interface bytes
// from /proc/net/dev (per network namespace), so app traffic shows even when iperf3 carries it.
//
//   traffic-agent --role sink --node-id appserv.0 --host 10.0.0.2
//   traffic-agent --role source --node-id app.1 --host 10.0.1.2 --peer 10.0.0.2 --rate-mbps 20 --bulk iperf3 --iperf3 /usr/bin/iperf3

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { parseArgs } from 'node:util';
import client from 'prom-client';
import { registerNetDevCounters } from '../../../common/net-dev.ts';
import { shutdownOnSignal } from '../../../common/shutdown-on-signal.ts';

export const USAGE = `usage: traffic-agent --role sink|source --host IP [options]
  --role           sink (app server) or source (latency prober and bulk sender)
  --host           address to bind servers to and to send from
  --node-id        host name in metrics (default: --host)
  --metrics-port   Prometheus /metrics (default 9102)
  --echo-port      the sink's echo server, probed by the source (default 9103)
  --discard-port   the sink's discard server, the built-in bulk flow's target (default 9104)
  --peer           source: the sink's address
  --rate-mbps      source: bulk rate in Mbit/s (default 0: no bulk flow)
  --bulk           source: iperf3 (an iperf3 client, restarted when it ends) or builtin (default builtin)
  --iperf3         source: the iperf3 binary (default iperf3)
  --iperf3-port    source: the sink's iperf3 server port (default 5201)
  --probe-interval-ms  source: time between latency probes (default 1000)`;

export interface AgentConfig {
  role: 'sink' | 'source';
  host: string;
  nodeId: string;
  metricsPort: number;
  echoPort: number;
  discardPort: number;
  peer?: string;
  rateMbps: number;
  bulk: 'iperf3' | 'builtin';
  iperf3: string;
  iperf3Port: number;
  probeIntervalMs: number;
}

export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
}

export function readAgentConfig(argv: string[]): AgentConfig | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        role: { type: 'string' },
        host: { type: 'string' },
        'node-id': { type: 'string' },
        'metrics-port': { type: 'string' },
        'echo-port': { type: 'string' },
        'discard-port': { type: 'string' },
        peer: { type: 'string' },
        'rate-mbps': { type: 'string' },
        bulk: { type: 'string' },
        iperf3: { type: 'string' },
        'iperf3-port': { type: 'string' },
        'probe-interval-ms': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new AgentConfigError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values['help'] === true) return 'help';
  const str = (k: string): string | undefined => {
    const v = values[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const num = (k: string, fallback: number, min: number, max: number, integer = true): number => {
    const text = str(k);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new AgentConfigError(
        `--${k}: got ${JSON.stringify(text)}; allowed: ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`,
      );
    }
    return n;
  };
  const role = str('role');
  if (role !== 'sink' && role !== 'source') {
    throw new AgentConfigError(`--role: got ${JSON.stringify(role ?? '')}; allowed: sink, source\n${USAGE}`);
  }
  const host = str('host');
  if (host === undefined) throw new AgentConfigError(`--host: missing; give the host's address\n${USAGE}`);
  const bulk = str('bulk') ?? 'builtin';
  if (bulk !== 'iperf3' && bulk !== 'builtin') {
    throw new AgentConfigError(`--bulk: got ${JSON.stringify(bulk)}; allowed: iperf3, builtin`);
  }
  const cfg: AgentConfig = {
    role,
    host,
    nodeId: str('node-id') ?? host,
    metricsPort: num('metrics-port', 9102, 0, 65535),
    echoPort: num('echo-port', 9103, 1, 65535),
    discardPort: num('discard-port', 9104, 1, 65535),
    rateMbps: num('rate-mbps', 0, 0, 100_000, false),
    bulk,
    iperf3: str('iperf3') ?? 'iperf3',
    iperf3Port: num('iperf3-port', 5201, 1, 65535),
    probeIntervalMs: num('probe-interval-ms', 1000, 10, 3_600_000),
  };
  const peer = str('peer');
  if (role === 'source' && peer === undefined) {
    throw new AgentConfigError("--peer: missing; a source needs the sink's address");
  }
  if (peer !== undefined) cfg.peer = peer;
  return cfg;
}

export type Flow = 'probe' | 'echo' | 'bulk';

export class AgentMetrics {
  readonly registry = new client.Registry();
  readonly latency: client.Histogram<'peer'>;
  readonly requests: client.Counter<'peer' | 'outcome'>;
  readonly bytesSent: client.Counter<'flow'>;
  readonly bytesReceived: client.Counter<'flow'>;
  readonly connections: client.Gauge<'flow'>;
  readonly bulkStarts: client.Counter<'generator'>;

  constructor(nodeId: string) {
    this.registry.setDefaultLabels({ node: nodeId });
    const registers = [this.registry];
    this.latency = new client.Histogram({
      name: 'mlfo_app_request_duration_seconds',
      help: 'Round-trip time of one application request/response (64 bytes echoed by the app server over the prober’s own TCP connection), seconds',
      labelNames: ['peer'],
      buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers,
    });
    this.requests = new client.Counter({
      name: 'mlfo_app_requests_total',
      help: 'Application requests sent by the latency prober, by outcome (ok, error, timeout)',
      labelNames: ['peer', 'outcome'],
      registers,
    });
    this.bytesSent = new client.Counter({
      name: 'mlfo_app_bytes_sent_total',
      help: 'Bytes the agent wrote to its own flows (probe: latency requests; echo: the app server’s answers; bulk: the built-in paced sender); an iperf3 flow is not counted here but in node_network_*',
      labelNames: ['flow'],
      registers,
    });
    this.bytesReceived = new client.Counter({
      name: 'mlfo_app_bytes_received_total',
      help: 'Bytes the agent read from its own flows (probe: echoed answers; echo: requests reaching the app server; bulk: the discard server)',
      labelNames: ['flow'],
      registers,
    });
    this.connections = new client.Gauge({
      name: 'mlfo_app_connections',
      help: 'Open TCP connections of the agent’s flows',
      labelNames: ['flow'],
      registers,
    });
    this.bulkStarts = new client.Counter({
      name: 'mlfo_app_bulk_starts_total',
      help: 'Starts of the bulk flow (an iperf3 client process, or a connection of the built-in sender); more than one means it was restarted',
      labelNames: ['generator'],
      registers,
    });
    for (const f of ['probe', 'echo', 'bulk'] as const) {
      this.bytesSent.labels(f).inc(0);
      this.bytesReceived.labels(f).inc(0);
    }
    // the host's interfaces (/proc/net/dev is per network namespace), named as the adapters and
    // MLFOs name theirs, so one node_network_* query covers every kind of host
    registerNetDevCounters(registers);
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** Doubles from 0.5 s to 10 s; back to the start after a run that lasted 10 s or more. */
class Backoff {
  private next = 500;
  delay(ranMs: number): number {
    if (ranMs >= 10_000) this.next = 500;
    const d = this.next;
    this.next = Math.min(10_000, this.next * 2);
    return d;
  }
}

function listen(server: Server | HttpServer, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`${what}: cannot listen on ${host}:${port}: ${e.message}`)));
    server.listen(port, host, () => resolve());
  });
}

/** The sink's app servers: echo (answers every byte) and discard (reads and drops). */
function appServers(m: AgentMetrics): { servers: Server[]; sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  const track = (s: Socket, flow: Flow) => {
    sockets.add(s);
    m.connections.labels(flow).inc();
    s.on('error', () => s.destroy());
    s.on('close', () => {
      sockets.delete(s);
      m.connections.labels(flow).dec();
    });
  };
  const echo = createServer((s) => {
    track(s, 'echo');
    s.setNoDelay(true);
    s.on('data', (d) => {
      m.bytesReceived.labels('echo').inc(d.length);
      s.write(d);
      m.bytesSent.labels('echo').inc(d.length);
    });
  });
  const discard = createServer((s) => {
    track(s, 'bulk');
    s.on('data', (d) => m.bytesReceived.labels('bulk').inc(d.length));
  });
  return { servers: [echo, discard], sockets };
}

const PROBE_BYTES = 64;

/** One request/response per interval over its own connection, reconnecting with backoff. */
async function probeLoop(cfg: AgentConfig, m: AgentMetrics, signal: AbortSignal): Promise<void> {
  const peer = cfg.peer!;
  const backoff = new Backoff();
  let seq = 0;
  while (!signal.aborted) {
    const started = Date.now();
    let socket: Socket | undefined;
    try {
      socket = await openConnection(peer, cfg.echoPort, cfg.host, signal);
      socket.setNoDelay(true);
      m.connections.labels('probe').inc();
      try {
        for (;;) {
          if (signal.aborted) return;
          const tick = Date.now();
          const req = Buffer.alloc(PROBE_BYTES, 0x2e);
          req.writeUInt32BE(++seq, 0);
          const t0 = process.hrtime.bigint();
          const answer = await exchange(socket, req, Math.max(2000, cfg.probeIntervalMs), signal);
          if (answer === 'aborted') return;
          if (answer === 'timeout') {
            m.requests.labels(peer, 'timeout').inc();
            throw new Error(`no answer to probe ${seq} within ${Math.max(2000, cfg.probeIntervalMs)} ms`);
          }
          m.bytesSent.labels('probe').inc(PROBE_BYTES);
          m.bytesReceived.labels('probe').inc(answer.length);
          if (answer.readUInt32BE(0) !== seq) throw new Error(`probe ${seq}: answer out of sequence`);
          m.latency.labels(peer).observe(Number(process.hrtime.bigint() - t0) / 1e9);
          m.requests.labels(peer, 'ok').inc();
          await sleep(Math.max(0, cfg.probeIntervalMs - (Date.now() - tick)), signal);
        }
      } finally {
        m.connections.labels('probe').dec();
      }
    } catch (err) {
      if (signal.aborted) return;
      if (!/^no answer/.test((err as Error).message)) m.requests.labels(peer, 'error').inc();
      const wait = backoff.delay(Date.now() - started);
      console.log(
        `${new Date().toISOString()} latency probe to ${peer}:${cfg.echoPort}: ${(err as Error).message}; again in ${wait} ms`,
      );
      await sleep(wait, signal);
    } finally {
      socket?.destroy();
    }
  }
}

function openConnection(host: string, port: number, from: string, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, localAddress: from });
    const onAbort = () => {
      s.destroy();
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    s.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      s.removeAllListeners('error');
      s.on('error', () => undefined);
      resolve(s);
    });
    s.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      reject(e);
    });
  });
}

/** Writes `req` and collects as many bytes back; 'timeout' or 'aborted' otherwise. */
function exchange(
  s: Socket,
  req: Buffer,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Buffer | 'timeout' | 'aborted'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const finish = (v: Buffer | 'timeout' | 'aborted' | Error) => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    const onData = (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= req.length) finish(Buffer.concat(chunks));
    };
    const onClose = () => finish(new Error('connection closed by the app server'));
    const onAbort = () => finish('aborted');
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    s.on('data', onData);
    s.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    s.write(req);
  });
}

/** The built-in bulk flow: TCP to the sink's discard server at rateMbps, paced in 10 ms steps. */
async function builtinBulkLoop(cfg: AgentConfig, m: AgentMetrics, signal: AbortSignal): Promise<void> {
  const peer = cfg.peer!;
  const bytesPerMs = (cfg.rateMbps * 1e6) / 8 / 1000;
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  const backoff = new Backoff();
  while (!signal.aborted) {
    const started = Date.now();
    let socket: Socket | undefined;
    try {
      socket = await openConnection(peer, cfg.discardPort, cfg.host, signal);
      m.bulkStarts.labels('builtin').inc();
      m.connections.labels('bulk').inc();
      const s = socket;
      let closed = false;
      s.once('close', () => {
        closed = true;
      });
      const drainOrClose = () =>
        new Promise<void>((resolve) => {
          const done = () => {
            s.off('drain', done);
            s.off('close', done);
            resolve();
          };
          s.once('drain', done);
          s.once('close', done);
        });
      try {
        // credit accrues with time; at most 100 ms of it, so a stall is not followed by a burst
        let credit = 0;
        let last = Date.now();
        while (!signal.aborted) {
          if (closed) throw new Error('connection closed by the app server');
          const now = Date.now();
          credit = Math.min(credit + (now - last) * bytesPerMs, 100 * bytesPerMs);
          last = now;
          while (credit >= 1 && !closed && !signal.aborted) {
            const n = Math.min(chunk.length, Math.floor(credit));
            credit -= n;
            m.bytesSent.labels('bulk').inc(n);
            if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await drainOrClose();
          }
          await sleep(10, signal);
        }
      } finally {
        m.connections.labels('bulk').dec();
      }
    } catch (err) {
      if (signal.aborted) return;
      const wait = backoff.delay(Date.now() - started);
      console.log(
        `${new Date().toISOString()} bulk flow to ${peer}:${cfg.discardPort}: ${(err as Error).message}; again in ${wait} ms`,
      );
      await sleep(wait, signal);
    } finally {
      socket?.destroy();
    }
  }
}

/** An iperf3 client at rateMbps for as long as the agent runs, restarted with backoff whenever it ends. */
async function iperf3Loop(
  cfg: AgentConfig,
  m: AgentMetrics,
  signal: AbortSignal,
  current: { child?: ChildProcess },
): Promise<void> {
  const backoff = new Backoff();
  const argv = [
    '-c',
    cfg.peer!,
    '-p',
    String(cfg.iperf3Port),
    '-b',
    `${cfg.rateMbps}M`,
    '-t',
    '0',
    '-B',
    cfg.host,
    '-i',
    '10',
    '--forceflush',
  ];
  while (!signal.aborted) {
    const started = Date.now();
    const child = spawn(cfg.iperf3, argv, { stdio: ['ignore', 'inherit', 'inherit'] });
    current.child = child;
    m.bulkStarts.labels('iperf3').inc();
    const how = await new Promise<string>((resolve) => {
      child.once('error', (e) => resolve(`could not start: ${e.message}`));
      child.once('exit', (code, sig) => resolve(sig ? `killed by ${sig}` : `exited with code ${code}`));
    });
    current.child = undefined;
    if (signal.aborted) return;
    const wait = backoff.delay(Date.now() - started);
    console.log(`${new Date().toISOString()} ${cfg.iperf3} ${argv.join(' ')}: ${how}; again in ${wait} ms`);
    await sleep(wait, signal);
  }
}

export interface RunningAgent {
  metricsUrl: string;
  stop(): Promise<void>;
}

export async function startAgent(
  cfg: AgentConfig,
  log: (m: string) => void = console.log,
): Promise<RunningAgent> {
  const m = new AgentMetrics(cfg.nodeId);
  const ac = new AbortController();
  const closers: Array<() => Promise<void>> = [];
  const loops: Promise<void>[] = [];
  const current: { child?: ChildProcess } = {};
  const stop = async () => {
    ac.abort();
    const child = current.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    }
    await Promise.all(loops);
    for (const c of closers.reverse()) await c();
  };
  const closeServer = (s: Server | HttpServer, sockets?: Set<Socket>) => () =>
    new Promise<void>((r) => {
      s.close(() => r());
      for (const x of sockets ?? []) x.destroy();
      if ('closeAllConnections' in s) s.closeAllConnections();
    });
  try {
    if (cfg.role === 'sink') {
      const { servers, sockets } = appServers(m);
      const [echo, discard] = servers as [Server, Server];
      await listen(echo, cfg.echoPort, cfg.host, 'echo server');
      closers.push(closeServer(echo, sockets));
      await listen(discard, cfg.discardPort, cfg.host, 'discard server');
      closers.push(closeServer(discard, sockets));
    }
    const http = createHttpServer((req, res) => {
      if (req.method === 'GET' && req.url === '/metrics') {
        m.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': m.registry.contentType }).end(text),
          (e: Error) => res.writeHead(500).end(e.message),
        );
      } else if (req.method === 'GET' && req.url === '/healthz') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ok: true, role: cfg.role, node: cfg.nodeId }));
      } else {
        res.writeHead(404).end(`no route ${req.method} ${req.url}; routes: GET /metrics, GET /healthz\n`);
      }
    });
    await listen(http, cfg.metricsPort, cfg.host, 'metrics');
    closers.push(closeServer(http));
    const addr = http.address();
    const metricsPort = typeof addr === 'object' && addr !== null ? addr.port : cfg.metricsPort;
    if (cfg.role === 'source') {
      loops.push(probeLoop(cfg, m, ac.signal));
      if (cfg.rateMbps > 0) {
        loops.push(
          cfg.bulk === 'iperf3' ? iperf3Loop(cfg, m, ac.signal, current) : builtinBulkLoop(cfg, m, ac.signal),
        );
      }
    }
    const what =
      cfg.role === 'sink'
        ? `app server: echo :${cfg.echoPort}, discard :${cfg.discardPort}`
        : `source → ${cfg.peer}: latency probe every ${cfg.probeIntervalMs} ms, bulk ${cfg.rateMbps > 0 ? `${cfg.rateMbps} Mbit/s by ${cfg.bulk}` : 'off'}`;
    log(
      `${new Date().toISOString()} traffic-agent ${cfg.nodeId} on ${cfg.host}: ${what}; metrics http://${cfg.host}:${metricsPort}/metrics`,
    );
    return { metricsUrl: `http://${cfg.host}:${metricsPort}/metrics`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let cfg: ReturnType<typeof readAgentConfig>;
  try {
    cfg = readAgentConfig(argv);
  } catch (err) {
    console.error(`traffic-agent: ${(err as Error).message}`);
    process.exit(2);
  }
  if (cfg === 'help') {
    console.log(USAGE);
    return;
  }
  let agent: RunningAgent;
  try {
    agent = await startAgent(cfg);
  } catch (err) {
    console.error(`traffic-agent: cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  shutdownOnSignal(() => agent.stop(), {
    onSignal: (sig) =>
      console.log(`${new Date().toISOString()} traffic-agent ${cfg.nodeId}: ${sig}, stopping`),
  });
}
