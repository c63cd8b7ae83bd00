// Flower-compatible grpc-bidi client: waits for the server to be reachable, opens one Join stream,
// and answers each ServerMessage with exactly one ClientMessage by calling the NumPyClient.
// Ends when the server sends ReconnectIns (reply DisconnectRes{RECONNECT}, half-close) or on abort;
// a broken stream or a failing NumPyClient rejects (the stream is cancelled, as Flower's client crashes).

import * as grpc from '@grpc/grpc-js';
import { arraysToParameters, parametersToArrays } from './npy.ts';
import {
  decodeServerMessage,
  encodeClientMessage,
  encodeFitResFromArrays,
  FLOWER_MAX_MESSAGE_BYTES,
  GRPC_FRAME_PREFIX_BYTES,
  JOIN_PATH,
  SERVER_MESSAGE_FIELD,
} from './serde.ts';
import {
  type ByteCounters,
  type ClientMessage,
  Code,
  type EvaluateIns,
  type FitIns,
  type Metrics,
  type NumPyClient,
  Reason,
  type ServerMessage,
  type Status,
} from './types.ts';

export type ClientEvent =
  | { type: 'connected' }
  | { type: 'instruction'; kind: ServerMessage['kind'] }
  | { type: 'fit-done'; numExamples: number; metrics: Metrics; ms: number }
  | { type: 'evaluate-done'; loss: number; numExamples: number; metrics: Metrics; ms: number };

export interface FlowerClientOptions {
  /** host:port of the Flower server */
  server: string;
  client: NumPyClient;
  signal?: AbortSignal;
  /** how long to wait for the server to become reachable (default 30 s) */
  connectTimeoutMs?: number;
  onEvent?: (e: ClientEvent) => void;
  /** max send and receive message size (default 2 GiB - 1, as Flower 1.16+) */
  maxMessageBytes?: number;
  /** counters to update live while the run goes on (the result's `bytes` is this object when given) */
  bytesOut?: ByteCounters;
}

export interface ClientRunResult {
  reason: 'reconnect' | 'aborted';
  /** completed fit calls */
  rounds: number;
  /** payload plus 5-byte gRPC frame prefix per message */
  bytes: ByteCounters;
  /** ReconnectIns.seconds when the server set it (Flower's client would rejoin after that many seconds) */
  reconnectSeconds?: number;
}

/** The Join stream ended with a non-OK gRPC status (or OK before ReconnectIns). */
export class FlowerStreamError extends Error {
  constructor(
    message: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(message);
    this.name = 'FlowerStreamError';
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/**
 * HTTP/2 receive window (stream and connection) the client advertises; Node's default of 64 KiB
 * makes every ~400 KB instruction wait for several WINDOW_UPDATE round trips.
 */
export const CLIENT_FLOW_CONTROL_WINDOW_BYTES = 8 * 1024 * 1024;
/** After DisconnectRes and half-close, how long to wait for the server to end the stream. */
const RECONNECT_LINGER_MS = 3000;
const SUCCESS: Status = { code: Code.OK, message: 'Success' };

function checkCount(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(`${what} returned numExamples=${String(v)}; it must be an integer >= 0`);
  }
  return v;
}

/** Waits until the channel is READY; 'aborted' if the signal fired first. */
function waitReady(
  client: grpc.Client,
  server: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<'ready' | 'aborted'> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    client.waitForReady(Date.now() + timeoutMs, (err) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) resolve('aborted');
      else if (err) {
        reject(
          new Error(`Flower server at ${server} is not reachable within ${timeoutMs} ms: ${err.message}`, {
            cause: err,
          }),
        );
      } else resolve('ready');
    });
  });
}

/** Runs one Flower client session against `server` until ReconnectIns, abort or failure. */
export async function runFlowerClient(opts: FlowerClientOptions): Promise<ClientRunResult> {
  const bytes = opts.bytesOut ?? { sent: 0, received: 0 };
  const state = { rounds: 0 };
  if (opts.signal?.aborted) return { reason: 'aborted', rounds: 0, bytes };
  const maxBytes = opts.maxMessageBytes ?? FLOWER_MAX_MESSAGE_BYTES;
  const client = new grpc.Client(opts.server, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': maxBytes,
    'grpc.max_receive_message_length': maxBytes,
    // clients may start before the server: retry the connection briskly while waiting for it
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 2000,
    'grpc-node.flow_control_window': CLIENT_FLOW_CONTROL_WINDOW_BYTES,
    // one connection per client, as each Flower client process has: clients started in the same
    // process must not share (and serialise on) a single HTTP/2 connection and its windows
    'grpc.use_local_subchannel_pool': 1,
  });
  try {
    const ready = await waitReady(
      client,
      opts.server,
      opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      opts.signal,
    );
    if (ready === 'aborted') return { reason: 'aborted', rounds: 0, bytes };
    return await new JoinSession(client, opts, bytes, state).run();
  } finally {
    client.close();
  }
}

type Answer = { after?: () => void } & ({ reply: ClientMessage } | { kind: 'fit'; out: Buffer });

/**
 * One Join stream: answers each ServerMessage, in order, with exactly one ClientMessage from the
 * NumPyClient; settles once — on ReconnectIns (after DisconnectRes), abort, or failure.
 */
class JoinSession {
  private call!: grpc.ClientDuplexStream<Buffer, Buffer>;
  private settled = false;
  private reconnectSeconds: number | undefined;
  private disconnecting = false;
  private linger: NodeJS.Timeout | undefined;
  private queue = Promise.resolve();
  private resolve: (r: ClientRunResult) => void = () => {};
  private reject: (e: Error) => void = () => {};
  private readonly onAbort = () =>
    this.settle(() => {
      this.call.cancel();
      this.done('aborted');
    });

  constructor(
    private readonly client: grpc.Client,
    private readonly opts: FlowerClientOptions,
    private readonly bytes: ByteCounters,
    private readonly state: { rounds: number },
  ) {}

  run(): Promise<ClientRunResult> {
    return new Promise<ClientRunResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.call = this.client.makeBidiStreamRequest<Buffer, Buffer>(
        JOIN_PATH,
        (b: Buffer) => b,
        (b: Buffer) => b,
      );
      this.opts.signal?.addEventListener('abort', this.onAbort, { once: true });
      this.call.on('data', (buf: Buffer) => this.onData(buf));
      // Non-OK statuses also arrive as 'error'; 'status' below decides the outcome.
      this.call.on('error', () => {});
      this.call.on('status', (st: grpc.StatusObject) => this.onStatus(st));
      this.emit({ type: 'connected' });
    });
  }

  private emit(e: ClientEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch (err) {
      process.emitWarning(`runFlowerClient onEvent listener threw on '${e.type}': ${(err as Error).message}`);
    }
  }

  private settle(outcome: () => void): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.linger);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    outcome();
  }

  private done(reason: 'reconnect' | 'aborted'): void {
    const r: ClientRunResult = { reason, rounds: this.state.rounds, bytes: this.bytes };
    if (reason === 'reconnect' && this.reconnectSeconds !== undefined)
      r.reconnectSeconds = this.reconnectSeconds;
    this.resolve(r);
  }

  private fail(err: Error): void {
    this.settle(() => {
      this.call.cancel();
      this.reject(err);
    });
  }

  private onData(buf: Buffer): void {
    const server = this.opts.server;
    this.bytes.received += buf.length + GRPC_FRAME_PREFIX_BYTES;
    if (this.settled) return;
    let msg: ServerMessage;
    try {
      msg = decodeServerMessage(buf);
    } catch (e) {
      this.fail(
        new Error(`Flower server at ${server} sent an invalid message: ${(e as Error).message}`, {
          cause: e,
        }),
      );
      return;
    }
    if (this.disconnecting) {
      this.fail(
        new Error(`Flower server at ${server} sent ${SERVER_MESSAGE_FIELD[msg.kind]} after ReconnectIns`),
      );
      return;
    }
    if (msg.kind === 'reconnect') {
      this.disconnecting = true;
      this.reconnectSeconds = msg.ins.seconds;
    }
    this.queue = this.queue.then(() => this.handle(msg)).catch((e: Error) => this.fail(e));
  }

  private onStatus(st: grpc.StatusObject): void {
    if (this.disconnecting) {
      this.settle(() => this.done('reconnect'));
      return;
    }
    const server = this.opts.server;
    const name = grpc.status[st.code] ?? String(st.code);
    const what =
      st.code === grpc.status.OK
        ? `Flower server at ${server} ended the Join stream (status OK) before sending ReconnectIns`
        : `Flower server at ${server} broke the Join stream: ${name} (${st.code}) "${st.details}"`;
    this.fail(new FlowerStreamError(what, st.code, st.details));
  }

  /** Answers one instruction and writes the reply; after DisconnectRes, half-closes and lingers. */
  private async handle(msg: ServerMessage): Promise<void> {
    if (this.settled) return;
    this.emit({ type: 'instruction', kind: msg.kind });
    let kind: ClientMessage['kind'];
    let after: (() => void) | undefined;
    let out: Buffer;
    try {
      const a = await this.answer(msg);
      after = a.after;
      if ('out' in a) {
        kind = a.kind;
        out = a.out;
      } else {
        kind = a.reply.kind;
        out = encodeClientMessage(a.reply);
      }
    } catch (e) {
      throw new Error(
        `Flower client (server ${this.opts.server}): ${SERVER_MESSAGE_FIELD[msg.kind]} failed: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    if (this.settled) return;
    this.bytes.sent += out.length + GRPC_FRAME_PREFIX_BYTES;
    this.call.write(out);
    after?.();
    if (kind === 'disconnect') {
      this.call.end();
      // Give the server a moment to see DisconnectRes and end the stream, then hang up anyway.
      this.linger = setTimeout(
        () =>
          this.settle(() => {
            this.call.cancel();
            this.done('reconnect');
          }),
        RECONNECT_LINGER_MS,
      );
    }
  }

  /** The reply (or, for fit, its bytes already encoded), and what to report once it has been written. */
  private async answer(msg: ServerMessage): Promise<Answer> {
    const numpy = this.opts.client;
    switch (msg.kind) {
      case 'getParameters': {
        const arrays = await numpy.getParameters(msg.ins.config);
        return {
          reply: {
            kind: 'getParameters',
            res: { status: SUCCESS, parameters: arraysToParameters(arrays) },
          },
        };
      }
      case 'getProperties': {
        if (!numpy.getProperties) {
          const status = {
            code: Code.GET_PROPERTIES_NOT_IMPLEMENTED,
            message: 'Client does not implement `get_properties`',
          };
          return { reply: { kind: 'getProperties', res: { status, properties: {} } } };
        }
        const properties = await numpy.getProperties(msg.ins.config);
        return { reply: { kind: 'getProperties', res: { status: SUCCESS, properties } } };
      }
      case 'fit':
        return this.answerFit(msg.ins);
      case 'evaluate':
        return this.answerEvaluate(msg.ins);
      case 'reconnect':
        // Flower 1.19 answers RECONNECT (not ACK) whatever `seconds` says.
        return { reply: { kind: 'disconnect', res: { reason: Reason.RECONNECT } } };
    }
  }

  private async answerFit(ins: FitIns): Promise<Answer> {
    const arrays = parametersToArrays(ins.parameters);
    const t0 = performance.now();
    const r = await this.opts.client.fit(arrays, ins.config);
    const ms = performance.now() - t0;
    const numExamples = checkCount(r.numExamples, 'NumPyClient.fit');
    const metrics = r.metrics ?? {};
    // the model goes straight from the arrays into the message (one copy, not two)
    const out = encodeFitResFromArrays({ status: SUCCESS, numExamples, metrics }, r.parameters);
    return {
      kind: 'fit',
      out,
      after: () => {
        this.state.rounds += 1;
        this.emit({ type: 'fit-done', numExamples, metrics, ms });
      },
    };
  }

  private async answerEvaluate(ins: EvaluateIns): Promise<Answer> {
    const arrays = parametersToArrays(ins.parameters);
    const t0 = performance.now();
    const r = await this.opts.client.evaluate(arrays, ins.config);
    const ms = performance.now() - t0;
    const numExamples = checkCount(r.numExamples, 'NumPyClient.evaluate');
    if (typeof r.loss !== 'number')
      throw new Error(`NumPyClient.evaluate returned loss=${String(r.loss)}; it must be a number`);
    const metrics = r.metrics ?? {};
    return {
      reply: { kind: 'evaluate', res: { status: SUCCESS, loss: r.loss, numExamples, metrics } },
      after: () => this.emit({ type: 'evaluate-done', loss: r.loss, numExamples, metrics, ms }),
    };
  }
}
