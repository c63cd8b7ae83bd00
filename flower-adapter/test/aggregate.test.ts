// Numerical checks of the pure aggregation functions against hand-computed values, and their
// validation errors (which must name the client and the mismatch).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  weightedAverage,
  weightedLossAverage,
  weightedMetricsAverage,
} from '../src/runtime/strategy/aggregate.ts';
import type { NDArray } from '../src/runtime/types.ts';

const f32 = (shape: number[], values: number[]): NDArray => ({
  dtype: 'f4',
  shape,
  data: Float32Array.from(values),
});
const f64 = (shape: number[], values: number[]): NDArray => ({
  dtype: 'f8',
  shape,
  data: Float64Array.from(values),
});

function assertClose(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i]! - expected[i]!) <= tol * Math.max(1, Math.abs(expected[i]!)),
      `element ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

describe('weightedAverage', () => {
  it('weights by numExamples (1 and 3 examples)', () => {
    const out = weightedAverage([
      { arrays: [f32([2], [1, 2]), f32([2, 2], [0, 0, 4, 8])], numExamples: 1 },
      { arrays: [f32([2], [5, 6]), f32([2, 2], [4, 8, 0, 0])], numExamples: 3 },
    ]);
    // (1*1 + 3*5)/4 = 4, (1*2 + 3*6)/4 = 5; (0+12)/4 = 3, (0+24)/4 = 6, 4/4 = 1, 8/4 = 2
    assert.equal(out.length, 2);
    assert.equal(out[0]!.dtype, 'f4');
    assert.ok(out[0]!.data instanceof Float32Array);
    assert.deepEqual(out[0]!.shape, [2]);
    assertClose(out[0]!.data as Float32Array, [4, 5]);
    assert.deepEqual(out[1]!.shape, [2, 2]);
    assertClose(out[1]!.data as Float32Array, [3, 6, 1, 2]);
  });

  it('equal numExamples give the plain mean; one client gives itself back', () => {
    const out = weightedAverage([
      { arrays: [f32([3], [1, 2, 3])], numExamples: 10 },
      { arrays: [f32([3], [3, 4, 5])], numExamples: 10 },
      { arrays: [f32([3], [5, 6, 13])], numExamples: 10 },
    ]);
    assertClose(out[0]!.data as Float32Array, [3, 4, 7]);
    const one = weightedAverage([{ arrays: [f32([2], [0.1, -7.5])], numExamples: 3 }]);
    assert.deepEqual([...one[0]!.data], [...Float32Array.from([0.1, -7.5])]);
  });

  it('handles scalars (shape []) and empty arrays', () => {
    const out = weightedAverage([
      { arrays: [f32([], [2]), f32([0], [])], numExamples: 1 },
      { arrays: [f32([], [8]), f32([0], [])], numExamples: 2 },
    ]);
    assertClose(out[0]!.data as Float32Array, [6]);
    assert.equal(out[1]!.data.length, 0);
  });

  it('accepts float64 and int inputs and still returns float32', () => {
    const out = weightedAverage([
      { arrays: [f64([2], [1, 2])], numExamples: 2 },
      { arrays: [{ dtype: 'i4', shape: [2], data: Int32Array.from([4, 8]) }], numExamples: 1 },
    ]);
    assert.equal(out[0]!.dtype, 'f4');
    assertClose(out[0]!.data as Float32Array, [2, 4]);
  });

  it('matches a float64 reference on arrays longer than one block, with a client count not divisible by 4', () => {
    const n = 10_007;
    const clients = 7;
    const updates = Array.from({ length: clients }, (_, c) => {
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = Math.sin(i * 0.37 + c) * (c + 1);
      return { arrays: [{ dtype: 'f4' as const, shape: [n], data: d }], numExamples: 1 + c * 13 };
    });
    const total = updates.reduce((s, u) => s + u.numExamples, 0);
    const expected: number[] = [];
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (const u of updates) s += u.numExamples * (u.arrays[0]!.data as Float32Array)[i]!;
      expected.push(s / total);
    }
    assertClose(weightedAverage(updates)[0]!.data as Float32Array, expected, 1e-6);
  });

  it('does not modify its inputs', () => {
    const a = f32([2], [1, 2]);
    const b = f32([2], [3, 4]);
    weightedAverage([
      { arrays: [a], numExamples: 1 },
      { arrays: [b], numExamples: 1 },
    ]);
    assert.deepEqual([...a.data], [1, 2]);
    assert.deepEqual([...b.data], [3, 4]);
  });

  it('rejects numExamples <= 0 or not an integer, naming the client', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () =>
          weightedAverage([
            { arrays: [f32([1], [1])], numExamples: 1 },
            { arrays: [f32([1], [1])], numExamples: bad },
          ]),
        (e: Error) =>
          e instanceof RangeError &&
          /client 1/.test(e.message) &&
          /numExamples must be an integer > 0/.test(e.message),
      );
    }
  });

  it('rejects an empty list', () => {
    assert.throws(() => weightedAverage([]), /no updates/);
  });

  it('rejects a different number of arrays, naming the client and both counts', () => {
    assert.throws(
      () =>
        weightedAverage([
          { arrays: [f32([1], [1]), f32([1], [1])], numExamples: 1 },
          { arrays: [f32([1], [1])], numExamples: 1, id: 'c-b' },
        ]),
      /client 1 \(c-b\) sent 1 arrays, client 0 sent 2/,
    );
  });

  it('rejects a shape mismatch, naming client, array and both shapes', () => {
    assert.throws(
      () =>
        weightedAverage([
          { arrays: [f32([2], [1, 2])], numExamples: 1 },
          { arrays: [f32([2], [1, 2])], numExamples: 1 },
          { arrays: [f32([3], [1, 2, 3])], numExamples: 1 },
        ]),
      /client 2 array 0 has shape \[3\], client 0 has \[2\]/,
    );
    assert.throws(
      () =>
        weightedAverage([
          { arrays: [f32([2, 3], [1, 2, 3, 4, 5, 6])], numExamples: 1 },
          { arrays: [f32([3, 2], [1, 2, 3, 4, 5, 6])], numExamples: 1 },
        ]),
      /client 1 array 0 has shape \[3,2\], client 0 has \[2,3\]/,
    );
  });

  it('rejects data that does not fill the shape, and unsupported dtypes', () => {
    assert.throws(
      () => weightedAverage([{ arrays: [f32([3], [1, 2])], numExamples: 1 }]),
      /client 0 array 0 holds 2 elements but shape \[3\] needs 3/,
    );
    assert.throws(
      () =>
        weightedAverage([
          { arrays: [{ dtype: 'f2', shape: [1], data: Uint16Array.from([0]) }], numExamples: 1 },
        ]),
      /dtype f2; allowed: f4/,
    );
  });
});

describe('weightedLossAverage', () => {
  it('weights losses by numExamples', () => {
    // (1*0.5 + 3*1.0) / 4 = 0.875
    assert.equal(
      weightedLossAverage([
        { numExamples: 1, loss: 0.5 },
        { numExamples: 3, loss: 1.0 },
      ]),
      0.875,
    );
  });

  it('rejects empty lists, bad numExamples and non-finite losses', () => {
    assert.throws(() => weightedLossAverage([]), /no results/);
    assert.throws(() => weightedLossAverage([{ numExamples: 0, loss: 1 }]), /client 0: numExamples must be/);
    assert.throws(
      () =>
        weightedLossAverage([
          { numExamples: 1, loss: 1 },
          { numExamples: 1, loss: Number.NaN },
        ]),
      /client 1 loss must be a finite number/,
    );
  });
});

describe('weightedMetricsAverage', () => {
  it('averages numeric metrics by numExamples over the clients that report each key', () => {
    const m = weightedMetricsAverage([
      { numExamples: 1, metrics: { accuracy: 0.5, loss: 2, name: 'a', flag: true } },
      { numExamples: 3, metrics: { accuracy: 0.9, steps: 10n } },
    ]);
    // accuracy (0.5 + 2.7)/4 = 0.8; loss only from client 0; steps (bigint) only from client 1
    assert.ok(Math.abs((m['accuracy'] as number) - 0.8) < 1e-12);
    assert.equal(m['loss'], 2);
    assert.equal(m['steps'], 10);
    assert.equal(m['name'], undefined);
    assert.equal(m['flag'], undefined);
  });

  it('returns {} for no results and rejects bad numExamples', () => {
    assert.deepEqual(weightedMetricsAverage([]), {});
    assert.throws(() => weightedMetricsAverage([{ numExamples: -2, metrics: {} }]), /client 0: numExamples/);
  });
});
