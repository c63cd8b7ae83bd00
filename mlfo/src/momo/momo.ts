// MoMo over gRPC: the cloud MLFO serves `momo.Orchestrate/Deploy`, an edge MLFO calls it. This
// module only moves messages; what a Deploy does is the handler's business. A handler error
// carrying a gRPC status code (MomoError) reaches the caller with that code and message.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = join(dirname(fileURLToPath(import.meta.url)), 'momo.proto');

export interface MomoConstraints {
  privacylevel: string;
  sourcekind: string;
  modelkind: string;
  fracfit: string;
  minfit: string;
  minav: string;
  numround: string;
  sameserv: string;
  avgalgo: string;
  /** field 10, ours: strategy settings by Flower's names (see momo.proto) */
  strategysettings?: Record<string, string>;
}

export interface MomoTarget {
  ID: string;
  operation: string;
  operand: string;
  Constraints: MomoConstraints;
}

export interface MomoIntent {
  intentID: string;
  Targets: MomoTarget[];
}

export class MomoError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'MomoError';
  }
}

type DeployHandler = (intent: MomoIntent, peer: string) => Promise<string>;

interface OrchestrateClient extends grpc.Client {
  Deploy(
    req: MomoIntent,
    meta: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
  ): grpc.ClientUnaryCall;
}

let cached: { service: grpc.ServiceDefinition; Client: grpc.ServiceClientConstructor } | undefined;

function load() {
  if (!cached) {
    const def = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true, arrays: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      momo: { Orchestrate: grpc.ServiceClientConstructor };
    };
    cached = { service: pkg.momo.Orchestrate.service, Client: pkg.momo.Orchestrate };
  }
  return cached;
}

export interface StartedMomoServer {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startMomoServer(opts: {
  host: string;
  port: number;
  deploy: DeployHandler;
}): Promise<StartedMomoServer> {
  const server = new grpc.Server();
  server.addService(load().service, {
    Deploy: (
      call: grpc.ServerUnaryCall<MomoIntent, { status: string }>,
      cb: grpc.sendUnaryData<{ status: string }>,
    ) => {
      opts.deploy(call.request, call.getPeer()).then(
        (status) => cb(null, { status }),
        (err: Error) => {
          const code = err instanceof MomoError ? err.code : grpc.status.INTERNAL;
          cb({ code, details: err.message, name: err.name, message: err.message });
        },
      );
    },
  });
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync(`${host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? fail(new Error(`MoMo: cannot listen on ${host}:${opts.port}: ${err.message}`)) : ok(p),
    ),
  );
  let stopped = false;
  return {
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((r) => server.tryShutdown(() => r()));
    },
  };
}

/** Calls Deploy on the MLFO at `address` ("host:port"); resolves with its status string. */
export async function momoDeploy(address: string, intent: MomoIntent, deadlineMs = 120_000): Promise<string> {
  const { Client } = load();
  const client = new Client(address, grpc.credentials.createInsecure()) as unknown as OrchestrateClient;
  try {
    return await new Promise<string>((ok, fail) => {
      client.Deploy(intent, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
        if (err)
          fail(
            new MomoError(err.code, `MoMo Deploy to ${address}: ${grpc.status[err.code]}: ${err.details}`),
          );
        else ok(res?.status ?? '');
      });
    });
  } finally {
    client.close();
  }
}
