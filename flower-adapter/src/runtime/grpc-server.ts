// Flower-compatible grpc-bidi server: grpc-js accepts `/flwr.proto.FlowerService/Join` streams,
// each stream becomes a ClientProxy (random UUID) in the ClientManager, and the proxy runs the
// strict lock-step exchange (one instruction out, one reply in) with per-call timeouts.
// Messages cross grpc-js as raw Buffers so serde.ts owns every byte and traffic is counted exactly.

import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  CLIENT_MESSAGE_FIELD,
  createServerMessageEncoder,
  decodeClientMessage,
  FLOWER_MAX_MESSAGE_BYTES,
  GRPC_FRAME_PREFIX_BYTES,
  JOIN_PATH,
  SERVER_MESSAGE_FIELD,
} from './serde.ts';
import type {
  ByteCounters,
  ClientManager,
  ClientMessage,
  ClientProxy,
  DisconnectRes,
  EvaluateIns,
  EvaluateRes,
  FitIns,
  FitRes,
  GetParametersIns,
  GetParametersRes,
  GetPropertiesIns,
  GetPropertiesRes,
  ReconnectIns,
  ServerMessage,
} from './types.ts';

export interface FlowerGrpcServerOptions {
  host: string;
  /** 0 picks a free port */
  port: number;
  /** max send and receive message size; Flower 1.16+ uses 2 GiB - 1 */
  maxMessageBytes?: number;
}

export interface FlowerGrpcServer {
  /** host:boundPort (IPv6 hosts in brackets) */
  readonly address: string;
  readonly port: number;
  readonly clientManager: ClientManager;
  /** totals over every stream this server has carried (payload plus 5-byte gRPC frame prefix) */
  readonly bytes: ByteCounters;
  /**
   * Stops accepting streams, lets open ones end by themselves for `graceMs` (default 1000, like
   * Flower's stop(grace=1)), then ends the rest with UNAVAILABLE "Cancelling all calls".
   * Safe to call more than once; a shorter grace on a later call takes effect.
   */
  stop(graceMs?: number): Promise<void>;
}

/** Flower's maximum_concurrent_rpcs: one worker thread per Join stream. */
const MAX_CONCURRENT_STREAMS = 1000;
/** Longest delay setTimeout honours; longer waits are treated as "no timeout". */
const MAX_TIMER_MS = 2147483647;
/** After the grace period, how long ended streams get to flush their status before sessions are destroyed. */
const FORCE_FLUSH_MS = 100;

/**
 * HTTP/2 receive windows the server advertises (per stream, and for the whole connection). Node's
 * default is 64 KiB for both, which makes a ~400 KB FitRes cross loopback in a few dozen
 * WINDOW_UPDATE round trips and, with many clients on one connection, serialises their uploads;
 * grpc-js has no server option for this (its 'grpc-node.flow_control_window' is client-only), so
 * the settings are sent once per connection when its first Join stream arrives. Standard HTTP/2
 * SETTINGS / WINDOW_UPDATE frames: gRPC C-core (Flower's Python client) honours them as any peer.
 */
export const SERVER_STREAM_WINDOW_BYTES = 8 * 1024 * 1024;
export const SERVER_CONNECTION_WINDOW_BYTES = 64 * 1024 * 1024;

type Duplex = grpc.ServerDuplexStream<Buffer, Buffer>;

interface TunableSession {
  settings(s: { initialWindowSize: number }): void;
  setLocalWindowSize(n: number): void;
}

const tunedSessions = new WeakSet<object>();

/**
 * The Http2Session under a Join call. grpc-js keeps it private (call.call is the base intercepting
 * call, .stream its Http2Stream), so it is looked up defensively: on another grpc-js layout this
 * returns undefined and the connection keeps Node's default windows (slower, still correct).
 */
function sessionOf(call: Duplex): TunableSession | undefined {
  const inner = (call as unknown as { call?: { stream?: { session?: unknown } } }).call;
  const session = inner?.stream?.session as Partial<TunableSession> | undefined;
  return typeof session?.settings === 'function' && typeof session.setLocalWindowSize === 'function'
    ? (session as TunableSession)
    : undefined;
}

/** gRPC-framed copies (5-byte prefix + message) of message Buffers, shared by every stream sending them. */
const framedMessages = new WeakMap<Buffer, Buffer>();

type Serialize = (this: unknown, value: unknown) => Buffer;

/**
 * grpc-js frames each outgoing message into a fresh Buffer (prefix + a full copy), once per stream.
 * The server's encoder hands every client of a fan-out the same message Buffer, so this frames it
 * once and lets all streams write that one frame (Http2Stream.write only reads it): for 50
 * clients and a ~400 KB model that is ~20 MB less copying and garbage per fan-out. The framing
 * itself is still grpc-js's own (the original serializeMessage, run on first use); the hook is
 * on grpc-js's private base call, so on another layout nothing is changed.
 */
function shareFraming(call: Duplex): void {
  const base = (call as unknown as { call?: { serializeMessage?: Serialize } }).call;
  const original = base?.serializeMessage;
  if (base === undefined || typeof original !== 'function') return;
  base.serializeMessage = function (this: unknown, value: unknown): Buffer {
    if (!Buffer.isBuffer(value)) return original.call(this, value);
    let framed = framedMessages.get(value);
    if (framed === undefined) {
      framed = original.call(this, value);
      framedMessages.set(value, framed);
    }
    return framed;
  };
}

/** Raises the connection's receive windows once (see SERVER_STREAM_WINDOW_BYTES). */
function widenReceiveWindows(call: Duplex): void {
  const session = sessionOf(call);
  if (session === undefined || tunedSessions.has(session)) return;
  tunedSessions.add(session);
  try {
    session.settings({ initialWindowSize: SERVER_STREAM_WINDOW_BYTES });
    session.setLocalWindowSize(SERVER_CONNECTION_WINDOW_BYTES);
  } catch {
    // a session that is closing refuses new settings; nothing to tune then
  }
}

type Waiter = { n: number; done: (ok: boolean) => void };

function startTimer(ms: number | undefined, fn: () => void): NodeJS.Timeout | undefined {
  if (ms === undefined || !Number.isFinite(ms) || ms > MAX_TIMER_MS) return undefined;
  return setTimeout(fn, Math.max(0, ms));
}

/** Python's str(float(seconds)), as in Flower's "Timeout of 1.0sec was exceeded." */
function pySeconds(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? s.toFixed(1) : String(s);
}

const EXPECTED_REPLY: Record<ServerMessage['kind'], ClientMessage['kind']> = {
  reconnect: 'disconnect',
  getProperties: 'getProperties',
  getParameters: 'getParameters',
  fit: 'fit',
  evaluate: 'evaluate',
};

interface Pending {
  ins: ServerMessage['kind'];
  resolve: (m: ClientMessage | undefined) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

class GrpcClientProxy implements ClientProxy {
  readonly cid = randomUUID();
  readonly peer: string;
  readonly bytes: ByteCounters = { sent: 0, received: 0 };
  private pending: Pending | undefined;
  private closedReason: string | undefined;

  constructor(
    private readonly call: Duplex,
    private readonly totals: ByteCounters,
    private readonly onClosed: (p: GrpcClientProxy) => void,
    private readonly encode: (m: ServerMessage) => Buffer,
  ) {
    this.peer = call.getPeer();
    call.on('data', (buf: Buffer) => this.onData(buf));
    // A half-close is the client leaving; like Flower's servicer we then return with OK.
    call.on('end', () =>
      this.terminate({ code: grpc.status.OK, details: 'OK' }, 'client closed its stream', true),
    );
    call.on('cancelled', () => this.terminate(undefined, 'client cancelled its stream', true));
    call.on('error', (e: Error) => this.terminate(undefined, `stream error: ${e.message}`));
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  getProperties(ins: GetPropertiesIns, timeoutMs?: number): Promise<GetPropertiesRes> {
    return this.exchange({ kind: 'getProperties', ins }, timeoutMs) as Promise<GetPropertiesRes>;
  }
  getParameters(ins: GetParametersIns, timeoutMs?: number): Promise<GetParametersRes> {
    return this.exchange({ kind: 'getParameters', ins }, timeoutMs) as Promise<GetParametersRes>;
  }
  fit(ins: FitIns, timeoutMs?: number): Promise<FitRes> {
    return this.exchange({ kind: 'fit', ins }, timeoutMs) as Promise<FitRes>;
  }
  evaluate(ins: EvaluateIns, timeoutMs?: number): Promise<EvaluateRes> {
    return this.exchange({ kind: 'evaluate', ins }, timeoutMs) as Promise<EvaluateRes>;
  }
  reconnect(ins: ReconnectIns, timeoutMs?: number): Promise<DisconnectRes | undefined> {
    return this.exchange({ kind: 'reconnect', ins }, timeoutMs) as Promise<DisconnectRes | undefined>;
  }

  close(reason = 'closed by the server'): void {
    this.terminate({ code: grpc.status.UNAVAILABLE, details: reason }, reason);
  }

  private exchange(msg: ServerMessage, timeoutMs?: number): Promise<unknown> {
    const name = SERVER_MESSAGE_FIELD[msg.kind];
    if (this.closedReason !== undefined) {
      return Promise.reject(
        new Error(`client ${this.cid}: cannot send ${name}, the stream is closed (${this.closedReason})`),
      );
    }
    if (this.pending) {
      return Promise.reject(
        new Error(
          `client ${this.cid}: cannot send ${name} while ${SERVER_MESSAGE_FIELD[this.pending.ins]} is outstanding; the protocol allows one instruction at a time`,
        ),
      );
    }
    let buf: Buffer;
    try {
      buf = this.encode(msg);
    } catch (e) {
      return Promise.reject(
        new Error(`client ${this.cid}: cannot encode ${name}: ${(e as Error).message}`, { cause: e }),
      );
    }
    return new Promise((resolve, reject) => {
      const p: Pending = { ins: msg.kind, resolve: (m) => resolve(m?.res), reject };
      this.pending = p;
      p.timer = startTimer(timeoutMs, () => {
        const details = `Timeout of ${pySeconds(timeoutMs!)}sec was exceeded.`;
        this.terminate({ code: grpc.status.DEADLINE_EXCEEDED, details }, details);
      });
      this.count('sent', buf.length);
      this.call.write(buf);
    });
  }

  private count(dir: keyof ByteCounters, payloadBytes: number): void {
    const n = payloadBytes + GRPC_FRAME_PREFIX_BYTES;
    this.bytes[dir] += n;
    this.totals[dir] += n;
  }

  private onData(buf: Buffer): void {
    this.count('received', buf.length);
    if (this.closedReason !== undefined) return;
    const p = this.pending;
    if (!p) {
      const details = 'unprompted ClientMessage: the server had no instruction outstanding';
      this.terminate({ code: grpc.status.FAILED_PRECONDITION, details }, details);
      return;
    }
    let msg: ClientMessage;
    try {
      msg = decodeClientMessage(buf);
    } catch (e) {
      const details = `invalid reply to ${SERVER_MESSAGE_FIELD[p.ins]}: ${(e as Error).message}`;
      this.terminate({ code: grpc.status.INVALID_ARGUMENT, details }, details);
      return;
    }
    const want = EXPECTED_REPLY[p.ins];
    if (msg.kind !== want) {
      const details = `expected ${CLIENT_MESSAGE_FIELD[want]} in reply to ${SERVER_MESSAGE_FIELD[p.ins]}, got ${CLIENT_MESSAGE_FIELD[msg.kind]}`;
      this.terminate({ code: grpc.status.INVALID_ARGUMENT, details }, details);
      return;
    }
    this.pending = undefined;
    clearTimeout(p.timer);
    p.resolve(msg);
    // Like Flower's servicer: after DisconnectRes the client is unregistered and the stream returns OK.
    if (msg.kind === 'disconnect')
      this.terminate({ code: grpc.status.OK, details: 'OK' }, 'client disconnected');
  }

  /**
   * Closes the proxy once: ends the stream with `status` (undefined when the stream is already
   * gone), unregisters it, and settles an outstanding call. A reconnect that is outstanding when
   * the client leaves resolves undefined, as real Flower clients hang up instead of answering.
   */
  terminate(
    status: { code: grpc.status; details: string } | undefined,
    reason: string,
    clientLeft = false,
  ): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    const p = this.pending;
    this.pending = undefined;
    if (p) clearTimeout(p.timer);
    if (status !== undefined) {
      try {
        if (status.code === grpc.status.OK) this.call.end();
        else this.call.emit('error', { code: status.code, details: status.details });
      } catch {
        // the stream may already be torn down by the transport; nothing left to tell the client
      }
    }
    this.onClosed(this);
    if (!p) return;
    if (p.ins === 'reconnect' && clientLeft) p.resolve(undefined);
    else
      p.reject(
        new Error(`client ${this.cid} (${this.peer}): ${SERVER_MESSAGE_FIELD[p.ins]} failed: ${reason}`),
      );
  }
}

class SimpleClientManager implements ClientManager {
  private readonly clients = new Map<string, GrpcClientProxy>();
  private readonly listeners = new Set<(event: 'connect' | 'disconnect', client: ClientProxy) => void>();
  private readonly waiters = new Set<Waiter>();
  private shutDown = false;

  numAvailable(): number {
    return this.clients.size;
  }

  all(): ClientProxy[] {
    return [...this.clients.values()];
  }

  waitFor(n: number, timeoutMs: number): Promise<boolean> {
    if (this.clients.size >= n) return Promise.resolve(true);
    if (this.shutDown) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w: Waiter = {
        n,
        done: (ok) => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(ok);
        },
      };
      const timer = startTimer(timeoutMs, () => w.done(false));
      this.waiters.add(w);
    });
  }

  async sample(numClients: number, minNumClients: number, timeoutMs: number): Promise<ClientProxy[]> {
    if (!(await this.waitFor(minNumClients, timeoutMs))) return [];
    const pool = this.all();
    const k = Math.min(Math.max(0, Math.floor(numClients)), pool.length);
    // partial Fisher-Yates: the first k entries are a uniform sample without replacement
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(Math.random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, k);
  }

  onChange(listener: (event: 'connect' | 'disconnect', client: ClientProxy) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  register(p: GrpcClientProxy): void {
    this.clients.set(p.cid, p);
    this.emit('connect', p);
    for (const w of [...this.waiters]) if (this.clients.size >= w.n) w.done(true);
  }

  unregister(p: GrpcClientProxy): void {
    if (this.clients.delete(p.cid)) this.emit('disconnect', p);
  }

  /** No more waiting: pending waits resolve false so no timer outlives the server. */
  shutdown(): void {
    this.shutDown = true;
    for (const w of [...this.waiters]) w.done(false);
  }

  private emit(event: 'connect' | 'disconnect', p: ClientProxy): void {
    for (const l of [...this.listeners]) {
      try {
        l(event, p);
      } catch (e) {
        process.emitWarning(`ClientManager ${event} listener threw: ${(e as Error).message}`);
      }
    }
  }
}

const joinMethod: grpc.MethodDefinition<Buffer, Buffer> = {
  path: JOIN_PATH,
  requestStream: true,
  responseStream: true,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};

function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The running server: accepts Join streams as proxies, counts their bytes, and stops gracefully. */
class RunningFlowerServer implements FlowerGrpcServer {
  address = '';
  port = 0;
  readonly clientManager = new SimpleClientManager();
  readonly bytes: ByteCounters = { sent: 0, received: 0 };
  private readonly open = new Set<GrpcClientProxy>();
  // one encoder for all proxies: a round's identical FitIns/EvaluateIns is encoded once
  private readonly encode = createServerMessageEncoder();
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private forceAt = Number.POSITIVE_INFINITY;
  private graceTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private finish: () => void = () => {};

  constructor(private readonly server: grpc.Server) {}

  /** A new Join stream becomes a ClientProxy, unless the server is stopping or full. */
  join(call: Duplex): void {
    if (this.stopping || this.open.size >= MAX_CONCURRENT_STREAMS) {
      const details = this.stopping
        ? 'server is shutting down'
        : `more than ${MAX_CONCURRENT_STREAMS} concurrent clients`;
      call.emit('error', {
        code: this.stopping ? grpc.status.UNAVAILABLE : grpc.status.RESOURCE_EXHAUSTED,
        details,
      });
      return;
    }
    widenReceiveWindows(call);
    shareFraming(call);
    const proxy = new GrpcClientProxy(
      call,
      this.bytes,
      (p) => {
        this.open.delete(p);
        this.clientManager.unregister(p);
      },
      this.encode,
    );
    this.open.add(proxy);
    this.clientManager.register(proxy);
  }

  /** Binds host:port; resolves once bound. */
  async listen(host: string, port: number): Promise<void> {
    const bindTo = formatAddress(host, port);
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(bindTo, grpc.ServerCredentials.createInsecure(), (err, boundPort) => {
        if (err) {
          this.server.forceShutdown();
          reject(new Error(`Flower gRPC server cannot listen on ${bindTo}: ${err.message}`, { cause: err }));
        } else resolve(boundPort);
      });
    });
    this.address = formatAddress(host, this.port);
  }

  stop(graceMs = 1000): Promise<void> {
    if (!this.stopped) {
      this.stopping = true;
      this.clientManager.shutdown();
      this.stopped = new Promise<void>((resolve) => {
        this.finish = () => {
          clearTimeout(this.graceTimer);
          clearTimeout(this.flushTimer);
          resolve();
        };
        this.server.tryShutdown(() => this.finish());
      });
    }
    const at = Date.now() + Math.max(0, graceMs);
    if (at < this.forceAt && this.flushTimer === undefined) {
      this.forceAt = at;
      clearTimeout(this.graceTimer);
      this.graceTimer = setTimeout(() => this.force(), Math.max(0, graceMs));
    }
    return this.stopped;
  }

  /** The grace is over: end the open streams, then shut down once their statuses are flushed. */
  private force(): void {
    this.graceTimer = undefined;
    for (const p of [...this.open]) {
      p.terminate({ code: grpc.status.UNAVAILABLE, details: 'Cancelling all calls' }, 'server stopped');
    }
    this.flushTimer ??= setTimeout(() => {
      this.server.forceShutdown();
      this.finish();
    }, FORCE_FLUSH_MS);
  }
}

/** Starts listening; resolves once the port is bound. */
export async function startFlowerGrpcServer(opts: FlowerGrpcServerOptions): Promise<FlowerGrpcServer> {
  const maxBytes = opts.maxMessageBytes ?? FLOWER_MAX_MESSAGE_BYTES;
  const server = new grpc.Server({
    'grpc.max_send_message_length': maxBytes,
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
    'grpc.keepalive_time_ms': 210000,
    'grpc.http2.max_pings_without_data': 0,
    'grpc.keepalive_permit_without_calls': 0,
  });
  const running = new RunningFlowerServer(server);
  server.addService({ Join: joinMethod }, { Join: (call: Duplex) => running.join(call) });
  await running.listen(opts.host, opts.port);
  return running;
}
