// Domain types of the FL runtime, shaped after Flower's `flwr.common.typing`.
// The wire (protobuf, gRPC) stays in serde.ts and the grpc-* modules; strategies, the server
// loop and the client loop only see these types.

/** A value in a config or metrics map. Integral numbers travel as Flower's sint64, others as double. */
export type Scalar = number | bigint | boolean | string | Uint8Array;
export type Config = Record<string, Scalar>;
export type Metrics = Record<string, Scalar>;

export type Dtype = 'f2' | 'f4' | 'f8' | 'i1' | 'i2' | 'i4' | 'i8' | 'u1' | 'u2' | 'u4' | 'u8' | 'b1';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** A dense array as numpy would hold it, always C order. `f2` data is kept as raw Uint16 bits. */
export interface NDArray {
  dtype: Dtype;
  shape: number[];
  data: TypedArray;
}

/** Model parameters as Flower sends them: one serialized array (.npy bytes) per tensor. */
export interface Parameters {
  tensors: Uint8Array[];
  tensorType: string;
}

export enum Code {
  OK = 0,
  GET_PROPERTIES_NOT_IMPLEMENTED = 1,
  GET_PARAMETERS_NOT_IMPLEMENTED = 2,
  FIT_NOT_IMPLEMENTED = 3,
  EVALUATE_NOT_IMPLEMENTED = 4,
}

export enum Reason {
  UNKNOWN = 0,
  RECONNECT = 1,
  POWER_DISCONNECTED = 2,
  WIFI_UNAVAILABLE = 3,
  ACK = 4,
}

export interface Status {
  code: Code;
  message: string;
}

export interface GetParametersIns {
  config: Config;
}
export interface GetParametersRes {
  status: Status;
  parameters: Parameters;
}
export interface GetPropertiesIns {
  config: Config;
}
export interface GetPropertiesRes {
  status: Status;
  properties: Config;
}
export interface FitIns {
  parameters: Parameters;
  config: Config;
}
export interface FitRes {
  status: Status;
  parameters: Parameters;
  numExamples: number;
  metrics: Metrics;
}
export interface EvaluateIns {
  parameters: Parameters;
  config: Config;
}
export interface EvaluateRes {
  status: Status;
  /** float32 on the wire */
  loss: number;
  numExamples: number;
  metrics: Metrics;
}
export interface ReconnectIns {
  /** undefined = unset on the wire (Flower's end-of-session message `0a 00`) */
  seconds?: number;
}
export interface DisconnectRes {
  reason: Reason;
}

/** One instruction from server to client (the ServerMessage oneof). */
export type ServerMessage =
  | { kind: 'reconnect'; ins: ReconnectIns }
  | { kind: 'getProperties'; ins: GetPropertiesIns }
  | { kind: 'getParameters'; ins: GetParametersIns }
  | { kind: 'fit'; ins: FitIns }
  | { kind: 'evaluate'; ins: EvaluateIns };

/** One reply from client to server (the ClientMessage oneof). */
export type ClientMessage =
  | { kind: 'disconnect'; res: DisconnectRes }
  | { kind: 'getProperties'; res: GetPropertiesRes }
  | { kind: 'getParameters'; res: GetParametersRes }
  | { kind: 'fit'; res: FitRes }
  | { kind: 'evaluate'; res: EvaluateRes };

/** Traffic counted on one client's stream (protobuf payload bytes plus gRPC framing). */
export interface ByteCounters {
  sent: number;
  received: number;
}

/**
 * The server's handle on one connected client (Flower's ClientProxy). Every call sends one
 * instruction and resolves with the client's reply, or rejects on timeout, on a broken stream,
 * or when the reply is of the wrong kind. A rejected call leaves the proxy closed.
 */
export interface ClientProxy {
  readonly cid: string;
  /** peer address as gRPC reports it, e.g. "ipv4:10.0.1.10:41234" */
  readonly peer: string;
  readonly closed: boolean;
  readonly bytes: ByteCounters;
  getProperties(ins: GetPropertiesIns, timeoutMs?: number): Promise<GetPropertiesRes>;
  getParameters(ins: GetParametersIns, timeoutMs?: number): Promise<GetParametersRes>;
  fit(ins: FitIns, timeoutMs?: number): Promise<FitRes>;
  evaluate(ins: EvaluateIns, timeoutMs?: number): Promise<EvaluateRes>;
  /**
   * Sends ReconnectIns and waits for DisconnectRes. Resolves with undefined when the client
   * closed its stream instead of answering (real Flower clients do).
   */
  reconnect(ins: ReconnectIns, timeoutMs?: number): Promise<DisconnectRes | undefined>;
  /** Ends the stream from the server side (gRPC status CANCELLED/UNAVAILABLE to the client). */
  close(reason?: string): void;
}

/** The set of connected clients (Flower's ClientManager). */
export interface ClientManager {
  numAvailable(): number;
  all(): ClientProxy[];
  /** Resolves true once at least `n` clients are connected, false after `timeoutMs`. */
  waitFor(n: number, timeoutMs: number): Promise<boolean>;
  /**
   * Waits (up to timeoutMs) for `minNumClients` then picks `numClients` distinct clients uniformly
   * at random (all available if fewer). Returns [] when the wait timed out.
   */
  sample(numClients: number, minNumClients: number, timeoutMs: number): Promise<ClientProxy[]>;
  /** Subscribe to connect/disconnect events; returns an unsubscribe function. */
  onChange(listener: (event: 'connect' | 'disconnect', client: ClientProxy) => void): () => void;
}

/** The training side of a client (Flower's NumPyClient): arrays in, arrays out. */
export interface NumPyClient {
  getParameters(config: Config): Promise<NDArray[]>;
  fit(
    parameters: NDArray[],
    config: Config,
  ): Promise<{ parameters: NDArray[]; numExamples: number; metrics: Metrics }>;
  evaluate(
    parameters: NDArray[],
    config: Config,
  ): Promise<{ loss: number; numExamples: number; metrics: Metrics }>;
  getProperties?(config: Config): Promise<Config>;
}
