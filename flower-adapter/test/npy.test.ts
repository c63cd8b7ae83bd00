// .npy codec: byte-exact headers as numpy 1.24 writes them, lenient reading, strict errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  arraysToParameters,
  decodeNpy,
  encodeNpy,
  float32Array,
  parametersToArrays,
} from '../src/runtime/npy.ts';
import type { Dtype, NDArray, TypedArray } from '../src/runtime/types.ts';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/** Hand-built .npy file with an arbitrary header text. */
function rawNpy(header: string, data: Uint8Array = new Uint8Array(), version = 1): Uint8Array {
  const h = Buffer.from(header, 'latin1');
  const len = Buffer.alloc(version === 1 ? 2 : 4);
  if (version === 1) len.writeUInt16LE(h.length);
  else len.writeUInt32LE(h.length);
  return new Uint8Array(Buffer.concat([MAGIC, Buffer.from([version, 0]), len, h, data]));
}

function sample(dtype: Dtype, n: number): TypedArray {
  const vals = Array.from({ length: n }, (_, i) => i * 3 - 7);
  switch (dtype) {
    case 'f2':
      return Uint16Array.from(vals, (v) => (v & 0x7fff) | 0x3c00);
    case 'f4':
      return Float32Array.from(vals, (v) => v / 4);
    case 'f8':
      return Float64Array.from(vals, (v) => v / 3);
    case 'i1':
      return Int8Array.from(vals);
    case 'i2':
      return Int16Array.from(vals, (v) => v * 1000);
    case 'i4':
      return Int32Array.from(vals, (v) => v * 100000);
    case 'i8':
      return BigInt64Array.from(vals, (v) => BigInt(v) * 10n ** 15n);
    case 'u1':
      return Uint8Array.from(vals, (v) => v & 0xff);
    case 'u2':
      return Uint16Array.from(vals, (v) => v & 0xffff);
    case 'u4':
      return Uint32Array.from(vals, (v) => v >>> 0);
    case 'u8':
      return BigUint64Array.from(vals, (v) => BigInt.asUintN(64, BigInt(v)));
    case 'b1':
      return Uint8Array.from(vals, (v) => v & 1);
  }
}

const DTYPES: Dtype[] = ['f2', 'f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'b1'];
const SHAPES: number[][] = [[], [10], [64, 10], [2, 3, 4], [0], [3, 0, 2]];

describe('npy encode/decode', () => {
  for (const dtype of DTYPES) {
    it(`round-trips ${dtype} for every shape`, () => {
      for (const shape of SHAPES) {
        const n = shape.reduce((a, b) => a * b, 1);
        const a: NDArray = { dtype, shape, data: sample(dtype, n) };
        const bytes = encodeNpy(a);
        const hlen = bytes[8]! | (bytes[9]! << 8);
        assert.equal((10 + hlen) % 64, 0, `data aligned to 64 for ${dtype} ${shape}`);
        const back = decodeNpy(bytes);
        assert.equal(back.dtype, dtype);
        assert.deepEqual(back.shape, shape);
        assert.equal(back.data.constructor, a.data.constructor);
        assert.deepEqual(Array.from(back.data as ArrayLike<number>), Array.from(a.data as ArrayLike<number>));
      }
    });
  }

  it('writes np.zeros((64,10), float32) byte-exactly', () => {
    const bytes = encodeNpy(float32Array([64, 10], new Float32Array(640)));
    assert.equal(bytes.length, 2688);
    assert.deepEqual(
      [...bytes.subarray(0, 10)],
      [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00],
    );
    const header = Buffer.from(bytes.subarray(10, 128)).toString('latin1');
    assert.equal(header, `{'descr': '<f4', 'fortran_order': False, 'shape': (64, 10), }${' '.repeat(56)}\n`);
    assert.ok(bytes.subarray(128).every((b) => b === 0));
  });

  it('writes float32[10] byte-exactly (168 bytes, data at 128)', () => {
    const bytes = encodeNpy(float32Array([10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    assert.equal(bytes.length, 168);
    assert.equal(bytes[8], 118);
    const header = Buffer.from(bytes.subarray(10, 128)).toString('latin1');
    assert.equal(
      header,
      `{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }${' '.repeat(19 + 40)}\n`,
    );
    assert.equal(Buffer.from(bytes).readFloatLE(128), 1);
    assert.equal(Buffer.from(bytes).readFloatLE(164), 10);
  });

  it('writes a 0-d array with no growth spaces', () => {
    const bytes = encodeNpy({ dtype: 'f8', shape: [], data: new Float64Array([3.5]) });
    const header = Buffer.from(bytes.subarray(10, 128)).toString('latin1');
    assert.ok(header.startsWith("{'descr': '<f8', 'fortran_order': False, 'shape': (), }  "));
    assert.equal(header.length, 118);
    assert.equal(bytes.length, 136);
  });

  it('uses format 2.0 when the header exceeds 65535 bytes', () => {
    const shape = new Array<number>(25000).fill(1);
    const bytes = encodeNpy({ dtype: 'u1', shape, data: new Uint8Array([42]) });
    assert.equal(bytes[6], 2);
    assert.equal(bytes[7], 0);
    const hlen = Buffer.from(bytes).readUInt32LE(8);
    assert.ok(hlen > 65535);
    assert.equal((12 + hlen) % 64, 0);
    assert.equal(bytes[12 + hlen - 1], 0x0a);
    assert.throws(() => decodeNpy(bytes), /header is \d+ bytes, more than the allowed 10000/);
    const back = decodeNpy(bytes, { maxHeaderBytes: Number.POSITIVE_INFINITY });
    assert.equal(back.shape.length, 25000);
    assert.deepEqual([...back.data], [42]);
  });

  it('reads format 2.0 files with small headers', () => {
    const data = new Uint8Array(new Int32Array([7, -8]).buffer);
    const a = decodeNpy(rawNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,)}\n", data, 2));
    assert.deepEqual([...a.data], [7, -8]);
  });

  it('decodes big-endian data into host order', () => {
    const be = Buffer.alloc(24);
    for (let i = 0; i < 6; i++) be.writeFloatBE(i + 0.5, i * 4);
    const a = decodeNpy(rawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }\n", be));
    assert.equal(a.dtype, 'f4');
    assert.deepEqual([...a.data], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
    const be8 = Buffer.alloc(16);
    be8.writeBigInt64BE(-5n, 0);
    be8.writeBigInt64BE(2n ** 40n, 8);
    const b = decodeNpy(rawNpy("{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }\n", be8));
    assert.deepEqual([...b.data], [-5n, 2n ** 40n]);
  });

  it('decodes fortran_order True into C order', () => {
    // C-order values 0..23 of shape (2,3,4) laid out in Fortran order
    const shape = [2, 3, 4];
    const f = new Int32Array(24);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) f[i + 2 * j + 6 * k] = i * 12 + j * 4 + k;
    const a = decodeNpy(
      rawNpy("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }\n", new Uint8Array(f.buffer)),
    );
    assert.deepEqual(a.shape, shape);
    assert.deepEqual(
      [...a.data],
      Array.from({ length: 24 }, (_, i) => i),
    );
    const m = decodeNpy(
      rawNpy(
        "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }\n",
        new Uint8Array(new Float64Array([1, 4, 2, 5, 3, 6]).buffer),
      ),
    );
    assert.deepEqual([...m.data], [1, 2, 3, 4, 5, 6]);
  });

  it('reads leniently like np.load: key order, quotes, whitespace, no padding, trailing bytes', () => {
    const data = Buffer.concat([Buffer.from(new Float32Array([1, 2, 3]).buffer), Buffer.from('junk')]);
    const a = decodeNpy(rawNpy(' { "shape" : ( 3 , ) ,\n"fortran_order":False,"descr":"<f4"}', data));
    assert.deepEqual(a.shape, [3]);
    assert.deepEqual([...a.data], [1, 2, 3]);
    const b = decodeNpy(
      rawNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2)}", Buffer.from([1, 2, 3, 4])),
    );
    assert.deepEqual(b.shape, [2, 2]);
  });

  it('views the input for aligned f4 data and copies when unaligned', () => {
    const bytes = encodeNpy(float32Array([4], [1, 2, 3, 4]));
    const aligned = decodeNpy(bytes);
    assert.equal(aligned.data.buffer, bytes.buffer);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const unaligned = decodeNpy(shifted.subarray(1));
    assert.notEqual(unaligned.data.buffer, shifted.buffer);
    assert.deepEqual([...unaligned.data], [1, 2, 3, 4]);
  });

  it('encodes and decodes 4 MB float32 tensors fast', () => {
    const a = float32Array(
      [1024, 1024],
      new Float32Array(1024 * 1024).map((_, i) => i),
    );
    encodeNpy(a);
    const runs = 20;
    const t0 = performance.now();
    let bytes: Uint8Array = new Uint8Array();
    for (let i = 0; i < runs; i++) bytes = encodeNpy(a);
    const t1 = performance.now();
    for (let i = 0; i < runs; i++) decodeNpy(bytes);
    const t2 = performance.now();
    const encMs = (t1 - t0) / runs;
    const decMs = (t2 - t1) / runs;
    // a memcpy of 4 MB takes ~1 ms at worst; leave headroom for loaded CI machines
    assert.ok(encMs < 20, `encode 4 MB took ${encMs.toFixed(2)} ms`);
    assert.ok(decMs < 1, `decode 4 MB took ${decMs.toFixed(3)} ms`);
  });
});

describe('npy errors', () => {
  const ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n";
  const one = new Uint8Array(4);
  const cases: [string, Uint8Array, RegExp][] = [
    ['bad magic', new Uint8Array(Buffer.from('PK\x03\x04 this is a zip')), /bad magic/],
    ['empty input', new Uint8Array(), /bad magic.*0 bytes/],
    [
      'unknown version',
      (() => {
        const b = rawNpy(ok, one);
        b[6] = 4;
        return b;
      })(),
      /format version 4\.0/,
    ],
    [
      'header over 10000 bytes',
      rawNpy(`${ok.slice(0, -1)}${' '.repeat(10001)}\n`, one),
      /more than the allowed 10000/,
    ],
    ['truncated header', rawNpy(ok, one).subarray(0, 30), /header says \d+ bytes but only/],
    ['missing key', rawNpy("{'descr': '<f4', 'shape': (1,)}", one), /exactly the keys.*\["descr","shape"\]/],
    [
      'extra key',
      rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", one),
      /exactly the keys/,
    ],
    [
      'shape as list',
      rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", one),
      /shape \[1\] is not valid/,
    ],
    [
      'shape as int',
      rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", one),
      /shape 1 is not valid/,
    ],
    [
      'negative dim',
      rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", one),
      /shape \(-1,\) is not valid/,
    ],
    [
      'fortran_order not bool',
      rawNpy("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", one),
      /fortran_order 0 is not a valid bool/,
    ],
    [
      'data too short',
      rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", one),
      /data too short.*needs 8 bytes, got 4/,
    ],
    [
      'object dtype',
      rawNpy("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", new Uint8Array(8)),
      /object dtype.*pickle/,
    ],
    [
      'unsupported dtype',
      rawNpy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", new Uint8Array(8)),
      /'<c8' is not supported; allowed dtypes: f2 f4/,
    ],
    [
      'structured dtype',
      rawNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", one),
      /structured/,
    ],
    ['not a dict', rawNpy('(1, 2)', one), /not a dictionary/],
    [
      'syntax error',
      rawNpy("{'descr': '<f4', 'fortran_order': Fals, 'shape': (1,)}", one),
      /cannot parse header at character/,
    ],
  ];
  for (const [name, bytes, re] of cases) {
    it(`rejects ${name}`, () => assert.throws(() => decodeNpy(bytes), re));
  }

  it('rejects encoding with a mismatched shape or data type', () => {
    assert.throws(
      () => encodeNpy({ dtype: 'f4', shape: [3], data: new Float32Array(2) }),
      /holds 3 elements but data has 2/,
    );
    assert.throws(
      () => encodeNpy({ dtype: 'f4', shape: [2], data: new Float64Array(2) }),
      /needs data as Float32Array/,
    );
    assert.throws(
      () => encodeNpy({ dtype: 'f4', shape: [1.5], data: new Float32Array(1) }),
      /invalid dimension 1.5/,
    );
    assert.throws(() => float32Array([2, 2], [1, 2, 3]), /holds 4 elements but 3 were given/);
  });
});

describe('Parameters', () => {
  it('holds one .npy per array with tensor type numpy.ndarray', () => {
    const arrays = [float32Array([2, 2], [1, 2, 3, 4]), float32Array([2], [5, 6])];
    const p = arraysToParameters(arrays);
    assert.equal(p.tensorType, 'numpy.ndarray');
    assert.equal(p.tensors.length, 2);
    const back = parametersToArrays({ ...p, tensorType: 'ignored' });
    assert.deepEqual(
      back.map((a) => [a.shape, [...a.data]]),
      [
        [
          [2, 2],
          [1, 2, 3, 4],
        ],
        [[2], [5, 6]],
      ],
    );
  });

  it('names the tensor that failed', () => {
    const p = arraysToParameters([float32Array([1], [1])]);
    assert.throws(
      () => parametersToArrays({ tensors: [p.tensors[0]!, new Uint8Array(3)], tensorType: '' }),
      /tensor 1 of 2: decodeNpy: bad magic/,
    );
  });
});
