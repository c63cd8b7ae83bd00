// MoMo over real gRPC on loopback: our client against our server, and a peer that writes the
// protobuf bytes by hand from the seed's field numbers, so a changed field number fails here.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  MomoError,
  type MomoIntent,
  momoDeploy,
  type StartedMomoServer,
  startMomoServer,
} from '../src/momo/momo.ts';

const received: Array<{ intent: MomoIntent; peer: string }> = [];
let server: StartedMomoServer;

before(async () => {
  server = await startMomoServer({
    host: '127.0.0.1',
    port: 0,
    deploy: async (intent, peer) => {
      received.push({ intent, peer });
      if (intent.intentID === 'bad') throw new MomoError(grpc.status.INVALID_ARGUMENT, 'no such operand');
      return '10.0.0.101:6000';
    },
  });
});

after(() => server.stop());

const intent: MomoIntent = {
  intentID: 'edgeintent01-fed',
  Targets: [
    {
      ID: 'cloud0-001',
      operation: 'aggregate.global',
      operand: 'model.federated',
      Constraints: {
        privacylevel: 'high',
        sourcekind: 'handmnist',
        modelkind: 'complex',
        fracfit: '0.5',
        minfit: '1',
        minav: '2',
        numround: '20',
        sameserv: 'no',
        avgalgo: 'FedAvg',
        // field 10 (ours): decoded as an empty map when absent, as from a seed-generation MLFO
        strategysettings: {},
      },
    },
  ],
};

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function field(num: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([...varint((num << 3) | 2), ...varint(payload.length)]), payload]);
}

const str = (num: number, s: string) => field(num, Buffer.from(s, 'utf8'));

describe('MoMo Deploy', () => {
  it('carries the whole intent and returns the FL server address', async () => {
    const status = await momoDeploy(`127.0.0.1:${server.port}`, intent);
    assert.equal(status, '10.0.0.101:6000');
    assert.deepEqual(received.at(-1)!.intent, intent);
  });

  it('a handler error arrives with its gRPC code and message', async () => {
    await assert.rejects(
      momoDeploy(`127.0.0.1:${server.port}`, { ...intent, intentID: 'bad' }),
      (e: MomoError) => {
        assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
        assert.match(e.message, /no such operand/);
        return true;
      },
    );
  });

  it('an unreachable MLFO fails within the deadline, naming the address', async () => {
    await assert.rejects(momoDeploy('127.0.0.1:1', intent, 2000), /127\.0\.0\.1:1/);
  });

  it("speaks the seed's field numbers on the wire", async () => {
    const c = intent.Targets[0]!.Constraints;
    const constraints = Buffer.concat([
      str(1, c.privacylevel),
      str(2, c.sourcekind),
      str(3, c.modelkind),
      str(4, c.fracfit),
      str(5, c.minfit),
      str(6, c.minav),
      str(7, c.numround),
      str(8, c.sameserv),
      str(9, c.avgalgo),
    ]);
    const target = Buffer.concat([
      str(1, 'cloud0-001'),
      str(2, 'aggregate.global'),
      str(3, 'model.federated'),
      field(4, constraints),
    ]);
    const raw = Buffer.concat([str(1, 'seed-generation'), field(2, target)]);
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const reply = await new Promise<Buffer>((ok, fail) =>
      client.makeUnaryRequest(
        '/momo.Orchestrate/Deploy',
        (b: Buffer) => b,
        (b: Buffer) => b,
        raw,
        (err, res) => (err ? fail(err) : ok(res!)),
      ),
    );
    client.close();
    assert.deepEqual(received.at(-1)!.intent, { ...intent, intentID: 'seed-generation' });
    assert.deepEqual(reply, str(1, '10.0.0.101:6000'));
  });

  it('carries the strategy settings in field 10, a name → text map, beside the seed fields', async () => {
    const c = intent.Targets[0]!.Constraints;
    const constraints = Buffer.concat([
      str(1, c.privacylevel),
      str(9, 'FedAvgM'),
      field(10, Buffer.concat([str(1, 'server_momentum'), str(2, '0.5')])),
      field(10, Buffer.concat([str(1, 'server_learning_rate'), str(2, '0.9')])),
    ]);
    const target = Buffer.concat([str(1, 'cloud0-001'), field(4, constraints)]);
    const raw = Buffer.concat([str(1, 'with-settings'), field(2, target)]);
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    await new Promise<Buffer>((ok, fail) =>
      client.makeUnaryRequest(
        '/momo.Orchestrate/Deploy',
        (b: Buffer) => b,
        (b: Buffer) => b,
        raw,
        (err, res) => (err ? fail(err) : ok(res!)),
      ),
    );
    client.close();
    const got = received.at(-1)!.intent.Targets[0]!.Constraints;
    assert.equal(got.avgalgo, 'FedAvgM');
    assert.deepEqual(got.strategysettings, { server_momentum: '0.5', server_learning_rate: '0.9' });
  });
});
