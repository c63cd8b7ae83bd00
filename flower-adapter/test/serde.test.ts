// serde: the golden bytes of FLOWER-PROTOCOL.md §5 both ways, and Flower's Scalar mapping.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arraysToParameters, decodeNpy, float32Array } from '../src/runtime/npy.ts';
import {
  createServerMessageEncoder,
  decodeClientMessage,
  decodeScalar,
  decodeServerMessage,
  encodeClientMessage,
  encodeFitResFromArrays,
  encodeScalar,
  encodeServerMessage,
} from '../src/runtime/serde.ts';
import {
  type ClientMessage,
  Code,
  type NDArray,
  Reason,
  type Scalar,
  type ServerMessage,
} from '../src/runtime/types.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/[\s|]/g, ''), 'hex'));
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');

describe('golden bytes (FLOWER-PROTOCOL.md §5)', () => {
  const serverGolden: [string, ServerMessage, string][] = [
    ['GetParametersIns{}', { kind: 'getParameters', ins: { config: {} } }, '1a00'],
    ['ReconnectIns{} (seconds unset)', { kind: 'reconnect', ins: {} }, '0a00'],
    ['ReconnectIns{seconds: 5}', { kind: 'reconnect', ins: { seconds: 5 } }, '0a020805'],
  ];
  for (const [name, msg, h] of serverGolden) {
    it(`ServerMessage ${name} = ${h}`, () => {
      assert.equal(hex(encodeServerMessage(msg)), h);
      assert.deepEqual(decodeServerMessage(bytes(h)), msg);
    });
  }

  it('ReconnectIns{seconds: 0} is written like unset (proto3 default)', () => {
    assert.equal(hex(encodeServerMessage({ kind: 'reconnect', ins: { seconds: 0 } })), '0a00');
  });

  it('ClientMessage DisconnectRes{RECONNECT} = 0a 02 08 01', () => {
    const msg: ClientMessage = { kind: 'disconnect', res: { reason: Reason.RECONNECT } };
    assert.equal(hex(encodeClientMessage(msg)), '0a020801');
    assert.deepEqual(decodeClientMessage(bytes('0a020801')), msg);
  });

  it('ClientMessage EvaluateRes (status OK "Success", loss 0.5 as float, metrics accuracy 0.75)', () => {
    const golden = `2a29 0a09 1207 ${ascii('Success')} 15 0000003f 180a 2215 0a08 ${ascii('accuracy')} 1209 09 000000000000e83f`;
    const msg: ClientMessage = {
      kind: 'evaluate',
      res: {
        status: { code: Code.OK, message: 'Success' },
        loss: 0.5,
        numExamples: 10,
        metrics: { accuracy: 0.75 },
      },
    };
    assert.equal(hex(encodeClientMessage(msg)), hex(bytes(golden)));
    assert.deepEqual(decodeClientMessage(bytes(golden)), msg);
  });

  it('ServerMessage FitIns with float32 [1,2] and config {server_round: 1} (180 bytes)', () => {
    const npy = encodeNpy2();
    const golden = `22b101 | 0a9a01 | 0a8801 ${hex(npy)} | 120d ${ascii('numpy.ndarray')} | 1212 0a0c ${ascii('server_round')} 1202 4002`;
    const msg: ServerMessage = {
      kind: 'fit',
      ins: { parameters: arraysToParameters([float32Array([2], [1, 2])]), config: { server_round: 1 } },
    };
    const wire = encodeServerMessage(msg);
    assert.equal(wire.length, 180);
    assert.equal(hex(wire), hex(bytes(golden)));
    const back = decodeServerMessage(wire);
    assert.equal(back.kind, 'fit');
    if (back.kind !== 'fit') return;
    assert.deepEqual(back.ins.config, { server_round: 1 });
    assert.equal(back.ins.parameters.tensorType, 'numpy.ndarray');
    assert.equal(hex(back.ins.parameters.tensors[0]!), hex(npy));
    assert.deepEqual([...decodeNpy(back.ins.parameters.tensors[0]!).data], [1, 2]);
  });
});

/** The 136-byte .npy of float32 [1, 2]: the 128-byte numpy header then 00 00 80 3f 00 00 00 40. */
function encodeNpy2(): Uint8Array {
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const header = dict + ' '.repeat(117 - dict.length) + '\n';
  return bytes(`934e554d50590100 7600 ${ascii(header)} 0000803f 00000040`);
}

describe('round trips of every message kind', () => {
  const params = arraysToParameters([float32Array([2, 2], [1, 2, 3, 4])]);
  const server: ServerMessage[] = [
    { kind: 'getProperties', ins: { config: { a: 'x' } } },
    { kind: 'evaluate', ins: { parameters: params, config: { round: 3, lr: 0.01 } } },
  ];
  const client: ClientMessage[] = [
    { kind: 'disconnect', res: { reason: Reason.UNKNOWN } },
    {
      kind: 'getProperties',
      res: { status: { code: Code.GET_PROPERTIES_NOT_IMPLEMENTED, message: 'no' }, properties: {} },
    },
    { kind: 'getParameters', res: { status: { code: Code.OK, message: 'Success' }, parameters: params } },
    {
      kind: 'fit',
      res: {
        status: { code: Code.OK, message: 'Success' },
        parameters: params,
        numExamples: 1234567890123,
        metrics: { loss: 0.25, ok: true, tag: 'x', raw: new Uint8Array([1, 2]) },
      },
    },
    {
      kind: 'evaluate',
      res: { status: { code: Code.OK, message: '' }, loss: 0, numExamples: 0, metrics: {} },
    },
  ];
  for (const m of server)
    it(`ServerMessage ${m.kind}`, () => assert.deepEqual(decodeServerMessage(encodeServerMessage(m)), m));
  for (const m of client)
    it(`ClientMessage ${m.kind}`, () => assert.deepEqual(decodeClientMessage(encodeClientMessage(m)), m));

  it('writes sub-messages even when empty, as Flower does', () => {
    const m: ClientMessage = {
      kind: 'fit',
      res: {
        status: { code: Code.OK, message: '' },
        parameters: { tensors: [], tensorType: '' },
        numExamples: 0,
        metrics: {},
      },
    };
    assert.equal(hex(encodeClientMessage(m)), '22040a001200');
  });

  it('reads a missing status or parameters as the proto3 defaults', () => {
    assert.deepEqual(decodeClientMessage(bytes('2200')), {
      kind: 'fit',
      res: {
        status: { code: 0, message: '' },
        parameters: { tensors: [], tensorType: '' },
        numExamples: 0,
        metrics: {},
      },
    });
  });

  it('keeps EvaluateRes.loss to float32 precision', () => {
    const m = decodeClientMessage(
      encodeClientMessage({
        kind: 'evaluate',
        res: { status: { code: 0, message: 'Success' }, loss: 2.3198981, numExamples: 1, metrics: {} },
      }),
    );
    assert.equal(m.kind === 'evaluate' && m.res.loss, Math.fround(2.3198981));
  });
});

describe('Scalar mapping', () => {
  const cases: [string, Scalar, string, unknown?][] = [
    ['1 → sint64 (zigzag)', 1, '4002'],
    ['-3 → sint64 (zigzag)', -3, '4005'],
    ['0 → sint64 0 (oneof always written)', 0, '4000'],
    ['2^53-1 → sint64', Number.MAX_SAFE_INTEGER, '40feffffffffffff1f'],
    ['0.75 → double', 0.75, '09000000000000e83f'],
    ['-0 → double', -0, '090000000000000080'],
    ['1e20 → double (not a safe integer)', 1e20, `09${hex(new Uint8Array(new Float64Array([1e20]).buffer))}`],
    ['true → bool', true, '6801'],
    ['false → bool', false, '6800'],
    ["'hi' → string", 'hi', '72026869'],
    ["'' → string", '', '7200'],
    ['bytes', new Uint8Array([0xde, 0xad]), '7a02dead'],
    ['bigint 7n → sint64 (read back as number)', 7n, '400e', 7],
    ['bigint -2^63 → sint64', -(2n ** 63n), '40ffffffffffffffffff01'],
    ['bigint 2^63 → uint64', 2n ** 63n, '3080808080808080808001'],
    ['bigint 2^64-1 → uint64', 2n ** 64n - 1n, '30ffffffffffffffffff01'],
    ['bigint 2^60 → sint64 (read back as bigint)', 2n ** 60n, '40808080808080808020'],
  ];
  for (const [name, v, h, back] of cases) {
    it(name, () => {
      assert.equal(hex(encodeScalar(v)), h);
      const got = decodeScalar(bytes(h));
      if (typeof v === 'number' && Object.is(v, -0)) assert.ok(Object.is(got, -0));
      else assert.deepEqual(got, back ?? v);
    });
  }

  it('rejects values Flower cannot carry', () => {
    assert.throws(
      () => encodeScalar(2n ** 64n, 'big'),
      /Scalar 'big': bigint 18446744073709551616 does not fit/,
    );
    assert.throws(() => encodeScalar(-(2n ** 63n) - 1n, 'neg'), /does not fit sint64 or uint64/);
    assert.throws(
      () => encodeScalar({} as unknown as number, 'obj'),
      /unsupported value of type object; allowed/,
    );
    assert.throws(
      () =>
        encodeServerMessage({
          kind: 'fit',
          ins: { parameters: { tensors: [], tensorType: '' }, config: { lr: null as unknown as number } },
        }),
      /FitIns.config key 'lr': unsupported value/,
    );
  });

  it('rejects an unset Scalar oneof from the peer, naming the key', () => {
    assert.throws(
      () => decodeScalar(new Uint8Array(), 'x'),
      /Scalar 'x': Scalar has no value \(oneof 'scalar' is unset\)/,
    );
    // EvaluateRes{metrics: {accuracy: Scalar{}}}
    const wire = bytes(`2a0e 220c 0a08 ${ascii('accuracy')} 1200`);
    assert.throws(() => decodeClientMessage(wire), /EvaluateRes.metrics key 'accuracy': Scalar has no value/);
    // map entry without a value at all
    const noValue = bytes(`1a07 0a05 0a03 ${ascii('abc')}`);
    assert.throws(
      () => decodeServerMessage(noValue),
      /GetParametersIns.config key 'abc': Scalar has no value/,
    );
  });

  it('rejects an unset message oneof and garbage', () => {
    assert.throws(
      () => decodeServerMessage(new Uint8Array()),
      /ServerMessage \(0 bytes\) carries no instruction: oneof 'msg' is unset/,
    );
    assert.throws(() => decodeClientMessage(new Uint8Array()), /ClientMessage \(0 bytes\) carries no reply/);
    assert.throws(
      () => decodeClientMessage(bytes('2aff')),
      /cannot decode flwr.proto.ClientMessage \(2 bytes\)/,
    );
  });

  it('rejects non-integral int64 fields on encode', () => {
    assert.throws(
      () =>
        encodeClientMessage({
          kind: 'fit',
          res: {
            status: { code: 0, message: '' },
            parameters: { tensors: [], tensorType: '' },
            numExamples: 1.5,
            metrics: {},
          },
        }),
      /FitRes.numExamples: 1.5 is not an integer/,
    );
  });
});

describe('createServerMessageEncoder (one encoding per fan-out)', () => {
  const parameters = arraysToParameters([float32Array([3], [1, 2, 3])]);
  const fit = (config: Record<string, Scalar>): ServerMessage => ({
    kind: 'fit',
    ins: { parameters, config },
  });

  it('writes exactly what encodeServerMessage writes, for every kind', () => {
    const encode = createServerMessageEncoder();
    const msgs: ServerMessage[] = [
      fit({ lr: 0.1 }),
      { kind: 'evaluate', ins: { parameters, config: { server_round: 2 } } },
      { kind: 'getParameters', ins: { config: {} } },
      { kind: 'getProperties', ins: { config: { a: 'b' } } },
      { kind: 'reconnect', ins: { seconds: 3 } },
    ];
    for (const m of msgs) assert.equal(hex(encode(m)), hex(encodeServerMessage(m)));
  });

  it('reuses the bytes for the same parameters and an equal config in one synchronous run', () => {
    const encode = createServerMessageEncoder();
    const config = { server_round: 1 };
    const a = encode(fit(config));
    assert.equal(encode(fit(config)), a, 'same config object');
    assert.equal(encode(fit({ server_round: 1 })), a, 'equal config, other object');
    const ev = encode({ kind: 'evaluate', ins: { parameters, config } });
    assert.notEqual(ev, a, 'evaluate_ins is not fit_ins');
    assert.equal(hex(ev), hex(encodeServerMessage({ kind: 'evaluate', ins: { parameters, config } })));
  });

  it('re-encodes when the config, tensors or tensorType differ (even mutated in place)', () => {
    const encode = createServerMessageEncoder();
    const config: Record<string, Scalar> = { cid: 'a' };
    const a = encode(fit(config));
    config['cid'] = 'b';
    const b = encode(fit(config));
    assert.notEqual(b, a);
    assert.equal(hex(b), hex(encodeServerMessage(fit({ cid: 'b' }))));
    const other = { ...parameters, tensors: [...parameters.tensors] };
    other.tensors[0] = new Uint8Array(other.tensors[0]!);
    const m: ServerMessage = { kind: 'fit', ins: { parameters: other, config } };
    assert.notEqual(encode(m), b, 'another tensor array');
    const shared: ServerMessage = { kind: 'fit', ins: { parameters: other, config } };
    const c = encode(shared);
    other.tensorType = 'x';
    const d = encode(shared);
    assert.notEqual(d, c, 'tensorType changed');
    assert.equal(hex(d), hex(encodeServerMessage(shared)));
  });

  it('forgets everything at the next microtask', async () => {
    const encode = createServerMessageEncoder();
    const a = encode(fit({}));
    await Promise.resolve();
    const b = encode(fit({}));
    assert.notEqual(b, a);
    assert.equal(hex(b), hex(a));
  });

  it('still validates the config of a message it could reuse', () => {
    const encode = createServerMessageEncoder();
    encode(fit({}));
    assert.throws(
      () => encode(fit({ bad: {} as unknown as Scalar })),
      /FitIns.config key 'bad': unsupported value/,
    );
  });
});

describe('encodeFitResFromArrays (arrays written straight into FitRes)', () => {
  const viaParameters = (
    res: { status: { code: number; message: string }; numExamples: number; metrics: Record<string, Scalar> },
    arrays: NDArray[],
  ) => encodeClientMessage({ kind: 'fit', res: { ...res, parameters: arraysToParameters(arrays) } });
  const mlp: NDArray[] = [
    float32Array(
      [784, 128],
      new Float32Array(784 * 128).map((_, i) => Math.cos(i)),
    ),
    float32Array([128], new Float32Array(128).fill(0.5)),
    { dtype: 'i8', shape: [2, 2], data: new BigInt64Array([1n, -2n, 3n, 4n]) },
    { dtype: 'u1', shape: [], data: new Uint8Array([7]) },
    { dtype: 'f8', shape: [0], data: new Float64Array(0) },
  ];
  const cases: [string, Parameters<typeof viaParameters>[0], NDArray[]][] = [
    [
      'MLP-sized tensors, metrics',
      { status: { code: 0, message: 'Success' }, numExamples: 100, metrics: { acc: 0.5, n: 3 } },
      mlp,
    ],
    ['no arrays, defaults', { status: { code: 0, message: '' }, numExamples: 0, metrics: {} }, []],
    [
      'error status, large count',
      { status: { code: 3, message: 'x' }, numExamples: 2 ** 40, metrics: { s: 'é' } },
      mlp.slice(1),
    ],
  ];
  for (const [name, res, arrays] of cases) {
    it(`same bytes as encodeClientMessage + arraysToParameters: ${name}`, () => {
      const fused = encodeFitResFromArrays(res, arrays);
      assert.ok(Buffer.isBuffer(fused));
      assert.equal(hex(fused), hex(viaParameters(res, arrays)));
    });
  }

  it('reports bad arrays and fields as the usual route does', () => {
    const ok = { status: { code: 0, message: '' }, numExamples: 1, metrics: {} };
    const bad: NDArray = { dtype: 'f4', shape: [3], data: new Float32Array(2) };
    assert.throws(
      () => encodeFitResFromArrays(ok, [mlp[1]!, bad]),
      /^Error: tensor 1: encodeNpy: shape \(3,\) holds 3/,
    );
    assert.throws(
      () => encodeFitResFromArrays({ ...ok, numExamples: 1.5 }, []),
      /FitRes.numExamples: 1.5 is not an integer/,
    );
  });
});
