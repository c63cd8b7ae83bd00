// Wire <-> domain conversion for Flower's grpc-bidi messages. protobufjs (loaded once from
// ../proto/transport.proto) does the byte work; this module decides which fields are written so
// the output matches Flower's Python serde byte for byte (proto3 defaults omitted, sub-messages
// always present, ints as zigzag sint64), and it refuses what Flower would choke on (unset oneofs).

import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { npyDataBytes, npyPreamble, TENSOR_TYPE_NDARRAY } from './npy.ts';
import type {
  ClientMessage,
  Config,
  FitRes,
  NDArray,
  Parameters,
  Scalar,
  ServerMessage,
  Status,
} from './types.ts';

export const PROTO_PATH = fileURLToPath(new URL('../proto/transport.proto', import.meta.url));
export const JOIN_PATH = '/flwr.proto.FlowerService/Join';
/** Flower 1.16+ max send/receive message size on both channel and server (2 GiB - 1). */
export const FLOWER_MAX_MESSAGE_BYTES = 2147483647;
/** gRPC's per-message prefix (compressed flag + 4-byte length), counted in ByteCounters. */
export const GRPC_FRAME_PREFIX_BYTES = 5;

const root = new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true });
const ServerMessageType = root.lookupType('flwr.proto.ServerMessage');
const ClientMessageType = root.lookupType('flwr.proto.ClientMessage');
const ScalarType = root.lookupType('flwr.proto.Scalar');
const FitResType = root.lookupType('flwr.proto.ClientMessage.FitRes');

/** Wire name of each ServerMessage oneof case. */
export const SERVER_MESSAGE_FIELD = {
  reconnect: 'reconnect_ins',
  getProperties: 'get_properties_ins',
  getParameters: 'get_parameters_ins',
  fit: 'fit_ins',
  evaluate: 'evaluate_ins',
} as const satisfies Record<ServerMessage['kind'], string>;

/** Wire name of each ClientMessage oneof case. */
export const CLIENT_MESSAGE_FIELD = {
  disconnect: 'disconnect_res',
  getProperties: 'get_properties_res',
  getParameters: 'get_parameters_res',
  fit: 'fit_res',
  evaluate: 'evaluate_res',
} as const satisfies Record<ClientMessage['kind'], string>;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

// Shapes protobufjs reads and writes (keepCase: wire field names). 64-bit ints come back as Long
// when the `long` package is present, as number otherwise; we accept both.
type LongLike = number | { low: number; high: number; unsigned?: boolean };
type PbObject = Record<string, unknown>;
interface PbScalar {
  scalar?: string;
  double?: number;
  uint64?: LongLike;
  sint64?: LongLike;
  bool?: boolean;
  string?: string;
  bytes?: Uint8Array;
}

function toLongBits(v: bigint, unsigned: boolean): { low: number; high: number; unsigned: boolean } {
  return { low: Number(BigInt.asIntN(32, v)), high: Number(BigInt.asIntN(32, v >> 32n)), unsigned };
}

function longToBigInt(v: LongLike, unsigned: boolean): bigint {
  if (typeof v === 'number') return BigInt(v);
  const x = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return unsigned ? x : BigInt.asIntN(64, x);
}

function int64ToNumber(v: unknown, where: string): number {
  if (v === undefined || v === null) return 0;
  const x = longToBigInt(v as LongLike, false);
  if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Error(`${where}: value ${x} is outside the safe integer range of a JS number`);
  }
  return Number(x);
}

function view(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Flower's Python mapping: bool, bytes, float→double, int→sint64 (uint64 above 2^63-1), str. */
function scalarToPb(v: Scalar, where: string): PbScalar {
  switch (typeof v) {
    case 'boolean':
      return { bool: v };
    case 'string':
      return { string: v };
    case 'number':
      // -0 stays a double so it survives the trip; other integral values are Python ints.
      return Number.isSafeInteger(v) && !Object.is(v, -0) ? { sint64: v } : { double: v };
    case 'bigint':
      if (v >= INT64_MIN && v <= INT64_MAX) return { sint64: toLongBits(v, false) };
      if (v > INT64_MAX && v <= UINT64_MAX) return { uint64: toLongBits(v, true) };
      throw new Error(`${where}: bigint ${v} does not fit sint64 or uint64 (allowed -2^63 .. 2^64-1)`);
    default:
      if (v instanceof Uint8Array) return { bytes: v };
      throw new Error(
        `${where}: unsupported value of type ${typeof v}; allowed: number, bigint, boolean, string, Uint8Array`,
      );
  }
}

function scalarFromPb(s: PbScalar | null | undefined, where: string): Scalar {
  const which = s?.scalar;
  if (s === null || s === undefined || which === undefined) {
    throw new Error(`${where}: Scalar has no value (oneof 'scalar' is unset); a value must always be set`);
  }
  switch (which) {
    case 'double':
      return s.double as number;
    case 'bool':
      return s.bool as boolean;
    case 'string':
      return s.string as string;
    case 'bytes':
      return view(s.bytes as Uint8Array);
    case 'sint64':
    case 'uint64': {
      const x = longToBigInt(s[which] as LongLike, which === 'uint64');
      return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
    }
    default:
      throw new Error(`${where}: Scalar case '${which}' is not supported`);
  }
}

function mapToPb(m: Config | undefined, where: string): Record<string, PbScalar> {
  const out: Record<string, PbScalar> = {};
  for (const [k, v] of Object.entries(m ?? {})) out[k] = scalarToPb(v, `${where} key '${k}'`);
  return out;
}

function mapFromPb(m: unknown, where: string): Config {
  const out: Config = {};
  for (const [k, v] of Object.entries((m ?? {}) as Record<string, PbScalar | null>)) {
    out[k] = scalarFromPb(v, `${where} key '${k}'`);
  }
  return out;
}

function statusToPb(s: Status): PbObject {
  const o: PbObject = {};
  if (s.code !== 0) o['code'] = s.code;
  if (s.message !== '') o['message'] = s.message;
  return o;
}

function statusFromPb(s: unknown): Status {
  const o = (s ?? {}) as { code?: number; message?: string };
  return { code: o.code ?? 0, message: o.message ?? '' };
}

function parametersToPb(p: Parameters): PbObject {
  const o: PbObject = { tensors: p.tensors };
  if (p.tensorType !== '') o['tensor_type'] = p.tensorType;
  return o;
}

function parametersFromPb(p: unknown): Parameters {
  const o = (p ?? {}) as { tensors?: Uint8Array[]; tensor_type?: string };
  return { tensors: (o.tensors ?? []).map(view), tensorType: o.tensor_type ?? '' };
}

function checkInt(v: number, where: string): number {
  if (!Number.isSafeInteger(v)) throw new Error(`${where}: ${v} is not an integer (int64 field)`);
  return v;
}

function finish(w: protobuf.Writer): Buffer {
  const u = w.finish();
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Encodes one instruction as a flwr.proto.ServerMessage. */
export function encodeServerMessage(m: ServerMessage): Buffer {
  let body: PbObject;
  switch (m.kind) {
    case 'reconnect': {
      body = {};
      // Flower omits an unset (None) seconds; proto3 also never writes 0.
      const s = m.ins.seconds;
      if (s !== undefined && checkInt(s, 'ReconnectIns.seconds') !== 0) body['seconds'] = s;
      break;
    }
    case 'getProperties':
      body = { config: mapToPb(m.ins.config, 'GetPropertiesIns.config') };
      break;
    case 'getParameters':
      body = { config: mapToPb(m.ins.config, 'GetParametersIns.config') };
      break;
    case 'fit':
      body = { parameters: parametersToPb(m.ins.parameters), config: mapToPb(m.ins.config, 'FitIns.config') };
      break;
    case 'evaluate':
      body = {
        parameters: parametersToPb(m.ins.parameters),
        config: mapToPb(m.ins.config, 'EvaluateIns.config'),
      };
      break;
    default:
      throw new Error(`encodeServerMessage: unknown kind ${JSON.stringify((m as { kind: unknown }).kind)}`);
  }
  return finish(ServerMessageType.encode({ [SERVER_MESSAGE_FIELD[m.kind]]: body }));
}

type CachedIns = {
  parameters: Parameters;
  tensors: readonly Uint8Array[];
  tensorType: string;
  config: Buffer;
  bytes: Buffer;
};

/**
 * Returns an encoder that behaves like encodeServerMessage but, within one synchronous run (for
 * instance the fan-out of a round, where every proxy encodes its instruction before the first
 * await), reuses the bytes of a FitIns/EvaluateIns it has just encoded when the next one of the
 * same kind carries the same Parameters object (same tensor Uint8Arrays, same tensorType) and a
 * config that encodes to the same bytes. FedAvg sends all sampled clients identical instructions,
 * so a round's model is encoded once instead of once per client (~model size of copying and
 * garbage each). The remembered bytes are dropped at the next microtask, so nothing built after an
 * await (a later round, a changed model) can ever be answered from the cache; the only thing not
 * re-checked is tensor bytes rewritten in place between two calls of the same synchronous run.
 * The returned Buffers are shared between calls: callers must not modify them.
 */
export function createServerMessageEncoder(): (m: ServerMessage) => Buffer {
  const cached = new Map<'fit' | 'evaluate', CachedIns>();
  let clearQueued = false;
  const clear = (): void => {
    cached.clear();
    clearQueued = false;
  };
  return (m: ServerMessage): Buffer => {
    if (m.kind !== 'fit' && m.kind !== 'evaluate') return encodeServerMessage(m);
    const { parameters, config } = m.ins;
    const where = m.kind === 'fit' ? 'FitIns.config' : 'EvaluateIns.config';
    // The config is small: encode it every time (this also validates it as encodeServerMessage does).
    const configBytes = finish(
      ServerMessageType.encode({ [SERVER_MESSAGE_FIELD[m.kind]]: { config: mapToPb(config, where) } }),
    );
    const hit = cached.get(m.kind);
    if (
      hit !== undefined &&
      hit.parameters === parameters &&
      hit.tensorType === parameters.tensorType &&
      sameTensors(hit.tensors, parameters.tensors) &&
      hit.config.equals(configBytes)
    ) {
      return hit.bytes;
    }
    const bytes = encodeServerMessage(m);
    cached.set(m.kind, {
      parameters,
      tensors: [...parameters.tensors],
      tensorType: parameters.tensorType,
      config: configBytes,
      bytes,
    });
    if (!clearQueued) {
      clearQueued = true;
      queueMicrotask(clear);
    }
    return bytes;
  };
}

function sameTensors(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Encodes one reply as a flwr.proto.ClientMessage. */
export function encodeClientMessage(m: ClientMessage): Buffer {
  let body: PbObject;
  switch (m.kind) {
    case 'disconnect':
      body = m.res.reason !== 0 ? { reason: m.res.reason } : {};
      break;
    case 'getProperties':
      body = {
        status: statusToPb(m.res.status),
        properties: mapToPb(m.res.properties, 'GetPropertiesRes.properties'),
      };
      break;
    case 'getParameters':
      body = { status: statusToPb(m.res.status), parameters: parametersToPb(m.res.parameters) };
      break;
    case 'fit':
      body = {
        status: statusToPb(m.res.status),
        parameters: parametersToPb(m.res.parameters),
        metrics: mapToPb(m.res.metrics, 'FitRes.metrics'),
      };
      if (checkInt(m.res.numExamples, 'FitRes.numExamples') !== 0) body['num_examples'] = m.res.numExamples;
      break;
    case 'evaluate':
      body = { status: statusToPb(m.res.status), metrics: mapToPb(m.res.metrics, 'EvaluateRes.metrics') };
      if (!Object.is(m.res.loss, 0)) body['loss'] = m.res.loss;
      if (checkInt(m.res.numExamples, 'EvaluateRes.numExamples') !== 0)
        body['num_examples'] = m.res.numExamples;
      break;
    default:
      throw new Error(`encodeClientMessage: unknown kind ${JSON.stringify((m as { kind: unknown }).kind)}`);
  }
  return finish(ClientMessageType.encode({ [CLIENT_MESSAGE_FIELD[m.kind]]: body }));
}

/** Bytes of `v` as a protobuf varint (v a non-negative safe integer). */
function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}

/**
 * The bytes of encodeClientMessage({ kind: 'fit', res: { ...res, parameters:
 * arraysToParameters(arrays) } }), written without building the .npy files first: each array is
 * copied once, straight into the message (the usual route copies the model twice, into the .npy
 * bytes and then into the protobuf buffer). Status, num_examples and metrics still go through
 * protobufjs; only the Parameters field (tensors as .npy, tensor_type "numpy.ndarray") is
 * framed here. Errors read as the usual route's.
 */
export function encodeFitResFromArrays(res: Omit<FitRes, 'parameters'>, arrays: readonly NDArray[]): Buffer {
  const parts = arrays.map((a, i) => {
    try {
      return { preamble: npyPreamble(a), data: npyDataBytes(a) };
    } catch (e) {
      throw new Error(`tensor ${i}: ${(e as Error).message}`, { cause: e });
    }
  });
  // FitRes fields in number order: status (1), parameters (2), num_examples (3), metrics (4).
  const status = finish(FitResType.encode({ status: statusToPb(res.status) }));
  const tailBody: PbObject = { metrics: mapToPb(res.metrics, 'FitRes.metrics') };
  if (checkInt(res.numExamples, 'FitRes.numExamples') !== 0) tailBody['num_examples'] = res.numExamples;
  const tail = finish(FitResType.encode(tailBody));
  const tensorType = Buffer.from(TENSOR_TYPE_NDARRAY, 'utf8');
  let paramsLen = 1 + varintLength(tensorType.length) + tensorType.length;
  for (const p of parts) {
    const n = p.preamble.length + p.data.length;
    paramsLen += 1 + varintLength(n) + n;
  }
  const bodyLen = status.length + 1 + varintLength(paramsLen) + paramsLen + tail.length;
  const out = Buffer.allocUnsafe(1 + varintLength(bodyLen) + bodyLen);
  let pos = 0;
  out[pos++] = 0x22; // ClientMessage.fit_res (4, LEN)
  pos = writeVarint(out, pos, bodyLen);
  out.set(status, pos);
  pos += status.length;
  out[pos++] = 0x12; // FitRes.parameters (2, LEN)
  pos = writeVarint(out, pos, paramsLen);
  for (const p of parts) {
    out[pos++] = 0x0a; // Parameters.tensors (1, LEN)
    pos = writeVarint(out, pos, p.preamble.length + p.data.length);
    out.set(p.preamble, pos);
    pos += p.preamble.length;
    out.set(p.data, pos);
    pos += p.data.length;
  }
  out[pos++] = 0x12; // Parameters.tensor_type (2, LEN)
  pos = writeVarint(out, pos, tensorType.length);
  out.set(tensorType, pos);
  pos += tensorType.length;
  out.set(tail, pos);
  pos += tail.length;
  if (pos !== out.length) throw new Error(`encodeFitResFromArrays: wrote ${pos} of ${out.length} bytes`);
  return out;
}

function decodeWith(type: protobuf.Type, bytes: Uint8Array): PbObject {
  try {
    return type.decode(bytes) as unknown as PbObject;
  } catch (e) {
    throw new Error(
      `cannot decode ${type.fullName.slice(1)} (${bytes.length} bytes): ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

/** Decodes a flwr.proto.ServerMessage; an unset oneof is an error. */
export function decodeServerMessage(bytes: Uint8Array): ServerMessage {
  const msg = decodeWith(ServerMessageType, bytes);
  const which = msg['msg'] as string | undefined;
  const b = (which ? msg[which] : undefined) as PbObject | undefined;
  switch (which) {
    case 'reconnect_ins':
      return {
        kind: 'reconnect',
        ins: Object.hasOwn(b!, 'seconds')
          ? { seconds: int64ToNumber(b!['seconds'], 'ReconnectIns.seconds') }
          : {},
      };
    case 'get_properties_ins':
      return { kind: 'getProperties', ins: { config: mapFromPb(b!['config'], 'GetPropertiesIns.config') } };
    case 'get_parameters_ins':
      return { kind: 'getParameters', ins: { config: mapFromPb(b!['config'], 'GetParametersIns.config') } };
    case 'fit_ins':
      return {
        kind: 'fit',
        ins: {
          parameters: parametersFromPb(b!['parameters']),
          config: mapFromPb(b!['config'], 'FitIns.config'),
        },
      };
    case 'evaluate_ins':
      return {
        kind: 'evaluate',
        ins: {
          parameters: parametersFromPb(b!['parameters']),
          config: mapFromPb(b!['config'], 'EvaluateIns.config'),
        },
      };
    default:
      throw new Error(
        `ServerMessage (${bytes.length} bytes) carries no instruction: oneof 'msg' is unset; expected one of ${Object.values(SERVER_MESSAGE_FIELD).join(', ')}`,
      );
  }
}

/** Decodes a flwr.proto.ClientMessage; an unset oneof is an error. */
export function decodeClientMessage(bytes: Uint8Array): ClientMessage {
  const msg = decodeWith(ClientMessageType, bytes);
  const which = msg['msg'] as string | undefined;
  const b = (which ? msg[which] : undefined) as PbObject | undefined;
  switch (which) {
    case 'disconnect_res':
      return { kind: 'disconnect', res: { reason: (b!['reason'] as number | undefined) ?? 0 } };
    case 'get_properties_res':
      return {
        kind: 'getProperties',
        res: {
          status: statusFromPb(b!['status']),
          properties: mapFromPb(b!['properties'], 'GetPropertiesRes.properties'),
        },
      };
    case 'get_parameters_res':
      return {
        kind: 'getParameters',
        res: { status: statusFromPb(b!['status']), parameters: parametersFromPb(b!['parameters']) },
      };
    case 'fit_res':
      return {
        kind: 'fit',
        res: {
          status: statusFromPb(b!['status']),
          parameters: parametersFromPb(b!['parameters']),
          numExamples: int64ToNumber(b!['num_examples'], 'FitRes.num_examples'),
          metrics: mapFromPb(b!['metrics'], 'FitRes.metrics'),
        },
      };
    case 'evaluate_res':
      return {
        kind: 'evaluate',
        res: {
          status: statusFromPb(b!['status']),
          loss: (b!['loss'] as number | undefined) ?? 0,
          numExamples: int64ToNumber(b!['num_examples'], 'EvaluateRes.num_examples'),
          metrics: mapFromPb(b!['metrics'], 'EvaluateRes.metrics'),
        },
      };
    default:
      throw new Error(
        `ClientMessage (${bytes.length} bytes) carries no reply: oneof 'msg' is unset; expected one of ${Object.values(CLIENT_MESSAGE_FIELD).join(', ')}`,
      );
  }
}

/** Encodes a single flwr.proto.Scalar (exposed for tests and debugging). */
export function encodeScalar(v: Scalar, key = 'value'): Buffer {
  return finish(ScalarType.encode(scalarToPb(v, `Scalar '${key}'`)));
}

/** Decodes a single flwr.proto.Scalar; an unset oneof is an error naming `key`. */
export function decodeScalar(bytes: Uint8Array, key = 'value'): Scalar {
  return scalarFromPb(decodeWith(ScalarType, bytes) as PbScalar, `Scalar '${key}'`);
}
