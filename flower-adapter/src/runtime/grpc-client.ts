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
    return await runSession(client, opts, bytes, state);
  } finally {
    client.close();
  }
}

function runSession(
  client: grpc.Client,
  opts: FlowerClientOptions,
  bytes: ByteCounters,
  state: { rounds: number },
): Promise<ClientRunResult> {
  const { server, signal } = opts;
  const numpy = opts.client;
  const emit = (e: ClientEvent) => {
    try {
      opts.onEvent?.(e);
    } catch (err) {
      process.emitWarning(`runFlowerClient onEvent listener threw on '${e.type}': ${(err as Error).message}`);
    }
  };

  return new Promise<ClientRunResult>((resolve, reject) => {
    const call = client.makeBidiStreamRequest<Buffer, Buffer>(
      JOIN_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    let settled = false;
    let reconnectSeconds: number | undefined;
    let disconnecting = false;
    let linger: NodeJS.Timeout | undefined;
    let queue = Promise.resolve();

    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(linger);
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const done = (reason: 'reconnect' | 'aborted') => {
      const r: ClientRunResult = { reason, rounds: state.rounds, bytes };
      if (reason === 'reconnect' && reconnectSeconds !== undefined) r.reconnectSeconds = reconnectSeconds;
      resolve(r);
    };
    const fail = (err: Error) =>
      settle(() => {
        call.cancel();
        reject(err);
      });
    const onAbort = () =>
      settle(() => {
        call.cancel();
        done('aborted');
      });
    signal?.addEventListener('abort', onAbort, { once: true });

    /** The reply (or, for fit, its bytes already encoded), and what to report once it has been written. */
    const answer = async (
      msg: ServerMessage,
    ): Promise<{ after?: () => void } & ({ reply: ClientMessage } | { kind: 'fit'; out: Buffer })> => {
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
        case 'fit': {
          const arrays = parametersToArrays(msg.ins.parameters);
          const t0 = performance.now();
          const r = await numpy.fit(arrays, msg.ins.config);
          const ms = performance.now() - t0;
          const numExamples = checkCount(r.numExamples, 'NumPyClient.fit');
          const metrics = r.metrics ?? {};
          // the model goes straight from the arrays into the message (one copy, not two)
          const out = encodeFitResFromArrays({ status: SUCCESS, numExamples, metrics }, r.parameters);
          return {
            kind: 'fit',
            out,
            after: () => {
              state.rounds += 1;
              emit({ type: 'fit-done', numExamples, metrics, ms });
            },
          };
        }
        case 'evaluate': {
          const arrays = parametersToArrays(msg.ins.parameters);
          const t0 = performance.now();
          const r = await numpy.evaluate(arrays, msg.ins.config);
          const ms = performance.now() - t0;
          const numExamples = checkCount(r.numExamples, 'NumPyClient.evaluate');
          if (typeof r.loss !== 'number')
            throw new Error(`NumPyClient.evaluate returned loss=${String(r.loss)}; it must be a number`);
          const metrics = r.metrics ?? {};
          return {
            reply: { kind: 'evaluate', res: { status: SUCCESS, loss: r.loss, numExamples, metrics } },
            after: () => emit({ type: 'evaluate-done', loss: r.loss, numExamples, metrics, ms }),
          };
        }
        case 'reconnect':
          // Flower 1.19 answers RECONNECT (not ACK) whatever `seconds` says.
          return { reply: { kind: 'disconnect', res: { reason: Reason.RECONNECT } } };
      }
    };

    const handle = async (msg: ServerMessage) => {
      if (settled) return;
      emit({ type: 'instruction', kind: msg.kind });
      let kind: ClientMessage['kind'];
      let after: (() => void) | undefined;
      let out: Buffer;
      try {
        const a = await answer(msg);
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
          `Flower client (server ${server}): ${SERVER_MESSAGE_FIELD[msg.kind]} failed: ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      }
      if (settled) return;
      bytes.sent += out.length + GRPC_FRAME_PREFIX_BYTES;
      call.write(out);
      after?.();
      if (kind === 'disconnect') {
        call.end();
        // Give the server a moment to see DisconnectRes and end the stream, then hang up anyway.
        linger = setTimeout(
          () =>
            settle(() => {
              call.cancel();
              done('reconnect');
            }),
          RECONNECT_LINGER_MS,
        );
      }
    };

    call.on('data', (buf: Buffer) => {
      bytes.received += buf.length + GRPC_FRAME_PREFIX_BYTES;
      if (settled) return;
      let msg: ServerMessage;
      try {
        msg = decodeServerMessage(buf);
      } catch (e) {
        fail(
          new Error(`Flower server at ${server} sent an invalid message: ${(e as Error).message}`, {
            cause: e,
          }),
        );
        return;
      }
      if (disconnecting) {
        fail(
          new Error(`Flower server at ${server} sent ${SERVER_MESSAGE_FIELD[msg.kind]} after ReconnectIns`),
        );
        return;
      }
      if (msg.kind === 'reconnect') {
        disconnecting = true;
        reconnectSeconds = msg.ins.seconds;
      }
      queue = queue.then(() => handle(msg)).catch((e: Error) => fail(e));
    });
    // Non-OK statuses also arrive as 'error'; 'status' below decides the outcome.
    call.on('error', () => {});
    call.on('status', (st: grpc.StatusObject) => {
      if (disconnecting) {
        settle(() => done('reconnect'));
        return;
      }
      const name = grpc.status[st.code] ?? String(st.code);
      const what =
        st.code === grpc.status.OK
          ? `Flower server at ${server} ended the Join stream (status OK) before sending ReconnectIns`
          : `Flower server at ${server} broke the Join stream: ${name} (${st.code}) "${st.details}"`;
      fail(new FlowerStreamError(what, st.code, st.details));
    });
    emit({ type: 'connected' });
  });
}
