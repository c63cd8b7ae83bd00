// Wire <-> domain conversion for Flower's grpc-bidi messages. protobufjs (loaded once from
// ../proto/transport.proto) does the byte work; this module decides which fields are written so
// the output matches Flower's Python serde byte for byte (proto3 defaults omitted, sub-messages
// always present, ints as zigzag sint64), and it refuses what Flower would choke on (unset oneofs).

import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { ClientMessage, Config, Parameters, Scalar, ServerMessage, Status } from './types.ts';

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
