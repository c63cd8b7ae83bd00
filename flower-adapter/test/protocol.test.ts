// Wire conformance over real gRPC on 127.0.0.1. The peer on the other side is built straight from
// transport.proto with @grpc/proto-loader (no serde.ts, no grpc-client.ts / grpc-server.ts code):
// (a) a minimal Flower client drives our server, (b) a minimal Flower server drives our client.

import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { runFlowerClient, type ClientEvent } from '../src/runtime/grpc-client.ts';
import {
  SERVER_CONNECTION_WINDOW_BYTES,
  SERVER_STREAM_WINDOW_BYTES,
  startFlowerGrpcServer,
  type FlowerGrpcServer,
} from '../src/runtime/grpc-server.ts';
import type { FitIns, NDArray, NumPyClient } from '../src/runtime/types.ts';

const PROTO = fileURLToPath(new URL('../src/proto/transport.proto', import.meta.url));
const pkgDef = protoLoader.loadSync(PROTO, {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
});
// biome-ignore lint/suspicious/noExplicitAny: loadPackageDefinition is untyped by nature
const FlowerService = (grpc.loadPackageDefinition(pkgDef) as any).flwr.proto
  .FlowerService as grpc.ServiceClientConstructor;
// biome-ignore lint/suspicious/noExplicitAny: peer messages are plain proto-loader objects
type Msg = Record<string, any>;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** .npy of a float32 vector, written by hand (numpy 1.24 layout), independent of npy.ts. */
function npyF32(values: number[]): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${values.length},), }`;
  const header = dict + ' '.repeat(117 - dict.length) + '\n';
  const data = Buffer.alloc(4 * values.length);
  for (const [i, v] of values.entries()) data.writeFloatLE(v, 4 * i);
  return Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0]),
    Buffer.from(header, 'latin1'),
    data,
  ]);
}
function readNpyF32(b: Uint8Array): number[] {
  const buf = Buffer.from(b);
  assert.equal(buf.subarray(0, 6).toString('latin1'), '\x93NUMPY');
  const hlen = buf.readUInt16LE(8);
  assert.match(
    buf.subarray(10, 10 + hlen).toString('latin1'),
    /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(\d+,\), \}/,
  );
  const out: number[] = [];
  for (let o = 10 + hlen; o < buf.length; o += 4) out.push(buf.readFloatLE(o));
  return out;
}

/** A queue of events with a bounded wait, so a broken test fails instead of hanging. */
class Inbox<T> {
  private items: T[] = [];
  private waiters: ((v: T) => void)[] = [];
  push(v: T): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  get size(): number {
    return this.items.length;
  }
  next(timeoutMs = 5000): Promise<T> {
    const v = this.items.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`nothing arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (x: T) => {
        clearTimeout(timer);
        resolve(x);
      };
      this.waiters.push(done);
    });
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// (a) minimal Flower client against our server

interface RawPeer {
  call: grpc.ClientDuplexStream<Msg, Msg>;
  /** every ServerMessage as received: its raw bytes and the proto-loader object */
  inbox: Inbox<{ raw: Buffer; msg: Msg }>;
  status: Promise<grpc.StatusObject>;
  gotMetadata: () => boolean;
  close(): void;
}

function joinRaw(address: string): RawPeer {
  const join = FlowerService.service['Join']!;
  const inbox = new Inbox<{ raw: Buffer; msg: Msg }>();
  const service = {
    Join: {
      ...join,
      responseDeserialize: (b: Buffer) => ({ raw: Buffer.from(b), msg: join.responseDeserialize(b) as Msg }),
    },
  };
  const Ctor = grpc.makeGenericClientConstructor(service, 'FlowerService');
  const client = new Ctor(address, grpc.credentials.createInsecure());
  const call = (client as unknown as { Join(): grpc.ClientDuplexStream<Msg, Msg> }).Join();
  let metadata = false;
  call.on('metadata', () => {
    metadata = true;
  });
  call.on('data', (d: { raw: Buffer; msg: Msg }) => inbox.push(d));
  call.on('error', () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return { call, inbox, status, gotMetadata: () => metadata, close: () => client.close() };
}

const OK_STATUS = { code: 'OK', message: 'Success' };
/** Status{OK, "Success"} as read back with defaults off: code 0 is not on the wire. */
const OK_WIRE = { message: 'Success' };

async function withServer(fn: (s: FlowerGrpcServer, peers: RawPeer[]) => Promise<void>): Promise<void> {
  const server = await startFlowerGrpcServer({ host: '127.0.0.1', port: 0 });
  const peers: RawPeer[] = [];
  try {
    await fn(server, peers);
  } finally {
    for (const p of peers) p.call.cancel();
    await server.stop(0);
    for (const p of peers) p.close();
  }
}

async function connect(server: FlowerGrpcServer, peers: RawPeer[]): Promise<RawPeer> {
  const before = server.clientManager.numAvailable();
  const p = joinRaw(server.address);
  peers.push(p);
  assert.ok(await server.clientManager.waitFor(before + 1, 5000), 'client registered');
  return p;
}

describe('our server, driven by a minimal proto-loader client', () => {
  it('speaks first and runs the lock-step sequence getParameters → fit → evaluate → reconnect', async () => {
    await withServer(async (server, peers) => {
      const events: string[] = [];
      server.clientManager.onChange((e, c) => events.push(`${e}:${c.cid}`));
      const peer = await connect(server, peers);
      const [proxy] = server.clientManager.all();
      assert.ok(proxy);
      assert.match(proxy.cid, /^[0-9a-f-]{36}$/);
      assert.match(proxy.peer, /127\.0\.0\.1:\d+/);

      // nothing on the wire until the server has something to say, not even response headers
      await delay(200);
      assert.equal(peer.inbox.size, 0);
      assert.equal(peer.gotMetadata(), false);

      const gp = proxy.getParameters({ config: {} });
      const m1 = await peer.inbox.next();
      assert.equal(hex(m1.raw), '1a00');
      assert.equal(m1.msg['msg'], 'get_parameters_ins');
      assert.ok(peer.gotMetadata());
      peer.call.write({
        get_parameters_res: {
          status: OK_STATUS,
          parameters: { tensors: [npyF32([1, 2])], tensor_type: 'numpy.ndarray' },
        },
      });
      const gpr = await gp;
      assert.deepEqual(gpr.status, { code: 0, message: 'Success' });
      assert.deepEqual(readNpyF32(gpr.parameters.tensors[0]!), [1, 2]);

      const fitIns: FitIns = { parameters: gpr.parameters, config: { server_round: 1, lr: 0.5 } };
      const fit = proxy.fit(fitIns, 5000);
      // strict lock-step: a second instruction while one is outstanding is refused
      await assert.rejects(
        proxy.evaluate({ parameters: gpr.parameters, config: {} }),
        /while fit_ins is outstanding/,
      );
      const m2 = await peer.inbox.next();
      assert.equal(m2.msg['msg'], 'fit_ins');
      assert.deepEqual(m2.msg['fit_ins'].config, {
        server_round: { sint64: 1, scalar: 'sint64' },
        lr: { double: 0.5, scalar: 'double' },
      });
      assert.deepEqual(readNpyF32(m2.msg['fit_ins'].parameters.tensors[0]), [1, 2]);
      assert.equal(peer.inbox.size, 0);
      peer.call.write({
        fit_res: {
          status: OK_STATUS,
          parameters: { tensors: [npyF32([2, 3])], tensor_type: 'numpy.ndarray' },
          num_examples: 10,
          metrics: { loss: { double: 0.25 } },
        },
      });
      const fr = await fit;
      assert.equal(fr.numExamples, 10);
      assert.deepEqual(fr.metrics, { loss: 0.25 });
      assert.deepEqual(readNpyF32(fr.parameters.tensors[0]!), [2, 3]);

      const ev = proxy.evaluate({ parameters: fr.parameters, config: {} });
      assert.equal((await peer.inbox.next()).msg['msg'], 'evaluate_ins');
      peer.call.write({
        evaluate_res: {
          status: OK_STATUS,
          loss: 0.125,
          num_examples: 7,
          metrics: { accuracy: { double: 0.75 } },
        },
      });
      assert.deepEqual(await ev, {
        status: { code: 0, message: 'Success' },
        loss: 0.125,
        numExamples: 7,
        metrics: { accuracy: 0.75 },
      });

      const rc = proxy.reconnect({});
      const m4 = await peer.inbox.next();
      assert.equal(hex(m4.raw), '0a00');
      peer.call.write({ disconnect_res: { reason: 'RECONNECT' } });
      assert.deepEqual(await rc, { reason: 1 });
      // the server then ends the stream with OK and forgets the client
      assert.equal((await peer.status).code, grpc.status.OK);
      assert.equal(server.clientManager.numAvailable(), 0);
      assert.equal(proxy.closed, true);
      assert.deepEqual(events, [`connect:${proxy.cid}`, `disconnect:${proxy.cid}`]);
      await assert.rejects(proxy.fit(fitIns), /stream is closed/);

      // exact byte counting: payload + 5-byte frame prefix per message
      const sent = [m1, m2, m4].reduce((n, m) => n + m.raw.length + 5, 0);
      assert.ok(server.bytes.sent > sent && proxy.bytes.sent === server.bytes.sent);
      assert.ok(proxy.bytes.received > 0 && proxy.bytes.received === server.bytes.received);
    });
  });

  it('accepts a client that cancels its stream instead of answering ReconnectIns', async () => {
    await withServer(async (server, peers) => {
      const peer = await connect(server, peers);
      const proxy = server.clientManager.all()[0]!;
      const rc = proxy.reconnect({}, 5000);
      assert.equal(hex((await peer.inbox.next()).raw), '0a00');
      peer.call.cancel();
      assert.equal(await rc, undefined);
      assert.equal(server.clientManager.numAvailable(), 0);
    });
  });

  it('accepts a client that half-closes instead of answering ReconnectIns', async () => {
    await withServer(async (server, peers) => {
      const peer = await connect(server, peers);
      const proxy = server.clientManager.all()[0]!;
      const rc = proxy.reconnect({ seconds: 5 });
      assert.equal(hex((await peer.inbox.next()).raw), '0a020805');
      peer.call.end();
      assert.equal(await rc, undefined);
      assert.equal((await peer.status).code, grpc.status.OK);
    });
  });

  it('ends a slow client with DEADLINE_EXCEEDED "Timeout of 1.0sec was exceeded." and unregisters it', async () => {
    await withServer(async (server, peers) => {
      const peer = await connect(server, peers);
      const proxy = server.clientManager.all()[0]!;
      const gone = new Promise((r) => server.clientManager.onChange((e) => e === 'disconnect' && r(e)));
      const t0 = Date.now();
      const fit = proxy.fit(
        { parameters: { tensors: [npyF32([1])], tensorType: 'numpy.ndarray' }, config: {} },
        1000,
      );
      await peer.inbox.next();
      await assert.rejects(fit, /fit_ins failed: Timeout of 1.0sec was exceeded\./);
      assert.ok(Date.now() - t0 >= 950);
      const st = await peer.status;
      assert.equal(st.code, grpc.status.DEADLINE_EXCEEDED);
      assert.equal(st.details, 'Timeout of 1.0sec was exceeded.');
      await gone;
      assert.equal(server.clientManager.numAvailable(), 0);
      assert.equal(proxy.closed, true);
    });
  });

  it('rejects a reply of the wrong kind instead of reading a default message', async () => {
    await withServer(async (server, peers) => {
      const peer = await connect(server, peers);
      const proxy = server.clientManager.all()[0]!;
      const fit = proxy.fit({ parameters: { tensors: [], tensorType: '' }, config: {} });
      await peer.inbox.next();
      peer.call.write({ evaluate_res: { status: OK_STATUS, loss: 1, num_examples: 1 } });
      await assert.rejects(fit, /expected fit_res in reply to fit_ins, got evaluate_res/);
      const st = await peer.status;
      assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
      assert.match(st.details, /expected fit_res/);
      assert.equal(server.clientManager.numAvailable(), 0);
    });
  });

  it('rejects a reply whose Scalar oneof is unset, naming the key', async () => {
    await withServer(async (server, peers) => {
      const peer = await connect(server, peers);
      const proxy = server.clientManager.all()[0]!;
      const fit = proxy.fit({ parameters: { tensors: [], tensorType: '' }, config: {} });
      await peer.inbox.next();
      peer.call.write({ fit_res: { status: OK_STATUS, num_examples: 1, metrics: { acc: {} } } });
      await assert.rejects(fit, /FitRes.metrics key 'acc': Scalar has no value/);
    });
  });

  it('samples distinct clients, waits for the minimum and times out', async () => {
    await withServer(async (server, peers) => {
      const cm = server.clientManager;
      assert.deepEqual(await cm.sample(1, 1, 100), []);
      assert.equal(await cm.waitFor(1, 50), false);
      const waiting = cm.sample(2, 3, 5000);
      for (let i = 0; i < 3; i++) await connect(server, peers);
      const picked = await waiting;
      assert.equal(picked.length, 2);
      assert.notEqual(picked[0]!.cid, picked[1]!.cid);
      assert.equal((await cm.sample(10, 1, 100)).length, 3);
      const seen = new Set<string>();
      for (let i = 0; i < 60; i++) for (const c of await cm.sample(1, 1, 100)) seen.add(c.cid);
      assert.equal(seen.size, 3, 'every client gets picked sometimes');
    });
  });

  it('stop() ends open streams with UNAVAILABLE "Cancelling all calls", rejects their calls, and is safe twice', async () => {
    const server = await startFlowerGrpcServer({ host: '127.0.0.1', port: 0 });
    const peer = joinRaw(server.address);
    try {
      assert.ok(await server.clientManager.waitFor(1, 5000));
      const proxy = server.clientManager.all()[0]!;
      const fit = proxy
        .fit({ parameters: { tensors: [], tensorType: '' }, config: {} })
        .catch((e: Error) => e);
      const waiting = server.clientManager.waitFor(5, 60_000);
      const t0 = Date.now();
      await Promise.all([server.stop(200), server.stop(5000)]);
      assert.ok(Date.now() - t0 < 2000);
      assert.match(String(await fit), /server stopped/);
      assert.equal(await waiting, false);
      const st = await peer.status;
      assert.equal(st.code, grpc.status.UNAVAILABLE);
      assert.equal(st.details, 'Cancelling all calls');
      await server.stop();
    } finally {
      peer.close();
    }
  });

  it('proxy.close() ends the stream with UNAVAILABLE', async () => {
    await withServer(async (server, peers) => {
      const peer = await connect(server, peers);
      server.clientManager.all()[0]!.close('bye');
      const st = await peer.status;
      assert.equal(st.code, grpc.status.UNAVAILABLE);
      assert.equal(st.details, 'bye');
      assert.equal(server.clientManager.numAvailable(), 0);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// (b) minimal Flower server against our client

/** Adds 1 to every weight; 10 examples. */
class PlusOneClient implements NumPyClient {
  constructor(private readonly weights: NDArray[]) {}
  async getParameters(): Promise<NDArray[]> {
    return this.weights;
  }
  async fit(parameters: NDArray[], config: Record<string, unknown>) {
    const out = parameters.map((p) => ({ ...p, data: (p.data as Float32Array).map((v) => v + 1) }));
    return {
      parameters: out,
      numExamples: 10,
      metrics: { round: config['server_round'] as number, loss: 0.5 },
    };
  }
  async evaluate(parameters: NDArray[]) {
    const sum = parameters.reduce((s, p) => s + (p.data as Float32Array).reduce((a, b) => a + b, 0), 0);
    return { loss: sum, numExamples: 10, metrics: { accuracy: 0.875 } };
  }
}

interface RawServer {
  address: string;
  port: number;
  /** one entry per Join stream */
  streams: Inbox<{
    call: grpc.ServerDuplexStream<Msg, Msg>;
    inbox: Inbox<{ raw: Buffer; msg: Msg } | 'end' | 'cancelled'>;
  }>;
  stop(): Promise<void>;
}

async function rawServer(port = 0): Promise<RawServer> {
  const join = FlowerService.service['Join']!;
  const server = new grpc.Server();
  const streams: RawServer['streams'] = new Inbox();
  server.addService(
    {
      Join: {
        ...join,
        requestDeserialize: (b: Buffer) => ({ raw: Buffer.from(b), msg: join.requestDeserialize(b) }),
      },
    },
    {
      Join: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
        const inbox = new Inbox<{ raw: Buffer; msg: Msg } | 'end' | 'cancelled'>();
        call.on('data', (d: { raw: Buffer; msg: Msg }) => inbox.push(d));
        call.on('end', () => inbox.push('end'));
        call.on('cancelled', () => inbox.push('cancelled'));
        call.on('error', () => {});
        streams.push({ call, inbox });
      },
    },
  );
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${bound}`,
    port: bound,
    streams,
    stop: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

async function reply(
  inbox: Inbox<{ raw: Buffer; msg: Msg } | 'end' | 'cancelled'>,
): Promise<{ raw: Buffer; msg: Msg }> {
  const r = await inbox.next();
  assert.ok(typeof r === 'object', `expected a ClientMessage, got ${String(r)}`);
  return r;
}

/** A cancel (RST_STREAM) may show up as 'end' before 'cancelled'; a half-close never gives 'cancelled'. */
async function untilCancelled(inbox: Inbox<{ raw: Buffer; msg: Msg } | 'end' | 'cancelled'>): Promise<void> {
  for (;;) {
    const e = await inbox.next();
    assert.ok(e === 'end' || e === 'cancelled', `expected the stream to be cancelled, got ${String(e)}`);
    if (e === 'cancelled') return;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const weights = (): NDArray[] => [
  { dtype: 'f4', shape: [2], data: new Float32Array([1, 2]) },
  { dtype: 'f4', shape: [3], data: new Float32Array([3, 4, 5]) },
];

describe('our client, driven by a minimal proto-loader server', () => {
  it('answers getParameters → fit → evaluate → reconnect in order and resolves', async () => {
    const srv = await rawServer();
    try {
      const events: ClientEvent[] = [];
      const run = runFlowerClient({
        server: srv.address,
        client: new PlusOneClient(weights()),
        onEvent: (e) => events.push(e),
      });
      run.catch(() => {}); // an assertion failing below must not leave an unhandled rejection
      const { call, inbox } = await srv.streams.next();
      // the client sends nothing on its own
      await delay(150);
      assert.equal(inbox.size, 0);

      call.write({ get_parameters_ins: {} });
      const gp = (await reply(inbox)).msg;
      assert.equal(gp['msg'], 'get_parameters_res');
      assert.deepEqual(gp['get_parameters_res'].status, OK_WIRE);
      assert.equal(gp['get_parameters_res'].parameters.tensor_type, 'numpy.ndarray');
      assert.deepEqual(gp['get_parameters_res'].parameters.tensors.map(readNpyF32), [
        [1, 2],
        [3, 4, 5],
      ]);

      call.write({
        fit_ins: {
          parameters: { tensors: [npyF32([10, 20]), npyF32([30, 40, 50])], tensor_type: 'numpy.ndarray' },
          config: { server_round: { sint64: 1 } },
        },
      });
      const fr = (await reply(inbox)).msg['fit_res'];
      assert.deepEqual(fr.status, OK_WIRE);
      assert.equal(fr.num_examples, 10);
      assert.deepEqual(fr.parameters.tensors.map(readNpyF32), [
        [11, 21],
        [31, 41, 51],
      ]);
      assert.equal(fr.parameters.tensor_type, 'numpy.ndarray');
      assert.deepEqual(fr.metrics, {
        round: { sint64: 1, scalar: 'sint64' },
        loss: { double: 0.5, scalar: 'double' },
      });

      call.write({ get_properties_ins: {} });
      const pr = (await reply(inbox)).msg['get_properties_res'];
      assert.equal(pr.status.code, 'GET_PROPERTIES_NOT_IMPLEMENTED');

      call.write({
        evaluate_ins: { parameters: { tensors: [npyF32([1, 2])], tensor_type: 'numpy.ndarray' }, config: {} },
      });
      const er = (await reply(inbox)).msg['evaluate_res'];
      assert.deepEqual(er, {
        status: OK_WIRE,
        loss: 3,
        num_examples: 10,
        metrics: { accuracy: { double: 0.875, scalar: 'double' } },
      });

      call.write({ reconnect_ins: {} });
      const dr = await reply(inbox);
      assert.equal(hex(dr.raw), '0a020801');
      assert.equal(dr.msg['disconnect_res'].reason, 'RECONNECT');
      assert.equal(await inbox.next(), 'end', 'client half-closes after DisconnectRes');
      call.end();

      const result = await run;
      assert.equal(result.reason, 'reconnect');
      assert.equal(result.rounds, 1);
      assert.equal(result.reconnectSeconds, undefined);
      assert.ok(result.bytes.sent > 0 && result.bytes.received > 0);
      assert.deepEqual(
        events.map((e) => (e.type === 'instruction' ? `instruction:${e.kind}` : e.type)),
        [
          'connected',
          'instruction:getParameters',
          'instruction:fit',
          'fit-done',
          'instruction:getProperties',
          'instruction:evaluate',
          'evaluate-done',
          'instruction:reconnect',
        ],
      );
      const fitDone = events.find((e) => e.type === 'fit-done');
      assert.ok(fitDone?.type === 'fit-done' && fitDone.numExamples === 10 && fitDone.ms >= 0);
      const evDone = events.find((e) => e.type === 'evaluate-done');
      assert.ok(evDone?.type === 'evaluate-done' && evDone.loss === 3);
    } finally {
      await srv.stop();
    }
  });

  it('waits for a server that starts late', async () => {
    const port = await freePort();
    const run = runFlowerClient({
      server: `127.0.0.1:${port}`,
      client: new PlusOneClient(weights()),
      connectTimeoutMs: 10_000,
    });
    run.catch(() => {}); // an assertion failing below must not leave an unhandled rejection
    await delay(700);
    const srv = await rawServer(port);
    try {
      const { call, inbox } = await srv.streams.next(10_000);
      call.write({ reconnect_ins: { seconds: 7 } });
      assert.equal((await reply(inbox)).msg['disconnect_res'].reason, 'RECONNECT');
      call.end();
      const result = await run;
      assert.equal(result.reason, 'reconnect');
      assert.equal(result.reconnectSeconds, 7);
    } finally {
      await srv.stop();
    }
  });

  it('rejects with the server address when nothing listens', async () => {
    const port = await freePort();
    await assert.rejects(
      runFlowerClient({
        server: `127.0.0.1:${port}`,
        client: new PlusOneClient(weights()),
        connectTimeoutMs: 400,
      }),
      new RegExp(`Flower server at 127\\.0\\.0\\.1:${port} is not reachable within 400 ms`),
    );
  });

  it('rejects naming the gRPC status when the server breaks the stream', async () => {
    const srv = await rawServer();
    try {
      const run = runFlowerClient({ server: srv.address, client: new PlusOneClient(weights()) });
      run.catch(() => {}); // an assertion failing below must not leave an unhandled rejection
      const { call } = await srv.streams.next();
      call.emit('error', { code: grpc.status.DEADLINE_EXCEEDED, details: 'Timeout of 1.0sec was exceeded.' });
      await assert.rejects(
        run,
        /broke the Join stream: DEADLINE_EXCEEDED \(4\) "Timeout of 1.0sec was exceeded."/,
      );
    } finally {
      await srv.stop();
    }
  });

  it('cancels the stream and rejects when the NumPyClient throws', async () => {
    const srv = await rawServer();
    try {
      const failing = new PlusOneClient(weights());
      failing.fit = async () => {
        throw new Error('out of memory');
      };
      const run = runFlowerClient({ server: srv.address, client: failing });
      run.catch(() => {}); // an assertion failing below must not leave an unhandled rejection
      const { call, inbox } = await srv.streams.next();
      call.write({ fit_ins: { parameters: { tensors: [npyF32([1])] }, config: {} } });
      await assert.rejects(run, /fit_ins failed: out of memory/);
      await untilCancelled(inbox);
    } finally {
      await srv.stop();
    }
  });

  it('resolves "aborted" when the signal fires, cancelling the stream', async () => {
    const srv = await rawServer();
    try {
      const ac = new AbortController();
      const run = runFlowerClient({
        server: srv.address,
        client: new PlusOneClient(weights()),
        signal: ac.signal,
      });
      run.catch(() => {}); // an assertion failing below must not leave an unhandled rejection
      const { inbox } = await srv.streams.next();
      ac.abort();
      assert.equal((await run).reason, 'aborted');
      await untilCancelled(inbox);
    } finally {
      await srv.stop();
    }
  });

  it('rejects a ServerMessage with no instruction set', async () => {
    const srv = await rawServer();
    try {
      const run = runFlowerClient({ server: srv.address, client: new PlusOneClient(weights()) });
      run.catch(() => {}); // an assertion failing below must not leave an unhandled rejection
      const { call } = await srv.streams.next();
      call.write({});
      await assert.rejects(run, /sent an invalid message: ServerMessage \(0 bytes\) carries no instruction/);
    } finally {
      await srv.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('our client against our server', () => {
  it('runs a short session end to end', async () => {
    const server = await startFlowerGrpcServer({ host: '127.0.0.1', port: 0 });
    try {
      const run = runFlowerClient({ server: server.address, client: new PlusOneClient(weights()) });
      run.catch(() => {}); // an assertion failing below must not leave an unhandled rejection
      const [proxy] = await server.clientManager.sample(1, 1, 5000);
      assert.ok(proxy);
      const init = await proxy.getParameters({ config: {} });
      const fit = await proxy.fit({ parameters: init.parameters, config: { server_round: 1 } }, 5000);
      assert.equal(fit.numExamples, 10);
      assert.deepEqual(fit.metrics, { round: 1, loss: 0.5 });
      assert.deepEqual(await proxy.reconnect({}, 5000), { reason: 1 });
      const result = await run;
      assert.equal(result.reason, 'reconnect');
      assert.equal(result.rounds, 1);
      assert.equal(result.bytes.sent, proxy.bytes.received);
      assert.equal(result.bytes.received, proxy.bytes.sent);
    } finally {
      await server.stop(0);
    }
  });
});

describe('our server: HTTP/2 flow control', () => {
  it('advertises wide receive windows once a Join stream arrives (plain HTTP/2 peer)', async () => {
    const server = await startFlowerGrpcServer({ host: '127.0.0.1', port: 0 });
    const session = http2.connect(`http://${server.address}`);
    try {
      await new Promise<void>((resolve, reject) => {
        session.once('error', reject);
        session.on('remoteSettings', (st) => {
          if (st.initialWindowSize === SERVER_STREAM_WINDOW_BYTES) resolve();
        });
        const stream = session.request({
          ':method': 'POST',
          ':path': '/flwr.proto.FlowerService/Join',
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        stream.on('error', () => {});
      });
      assert.equal(session.remoteSettings.initialWindowSize, SERVER_STREAM_WINDOW_BYTES);
      // the connection-level window arrives as WINDOW_UPDATE: the peer may send this much in total
      await new Promise((r) => setTimeout(r, 50));
      assert.ok((session.state.remoteWindowSize ?? 0) >= SERVER_CONNECTION_WINDOW_BYTES - 65535);
    } finally {
      session.destroy();
      await server.stop(0);
    }
  });
});
