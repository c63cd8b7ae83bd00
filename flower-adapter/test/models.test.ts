// Model shapes/order (Keras layout), weight round trips and errors, and the wasm training
// kernels checked numerically against the cpu backend's own gradients.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { TRAINABLE_MODEL_NAMES as CONTRACT } from '../../common/models.ts';
import { createModel, getWeights, MODEL_NAMES, MODELS, setWeights } from '../src/ml/models.ts';
import { initTf, quietCpuBackend, tf } from '../src/ml/tf.ts';

const shapesOf = (name: string, input: number[]) =>
  getWeights(createModel(name, input, 10, 1)).map((a) => a.shape);

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d / scale;
}

/** Runs f on fresh tensors of the given data on one backend; returns the gradients' values. */
async function gradsOn(
  backend: 'wasm' | 'cpu',
  inputs: Array<{ data: Float32Array; shape: number[] }>,
  // biome-ignore lint/suspicious/noExplicitAny: each test passes a differently-typed loss function
  f: (...xs: any[]) => tf.Tensor,
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  quietCpuBackend();
  const xs = inputs.map((i) => tf.tensor(i.data, i.shape));
  const gs = tf.grads(f as (...xs: tf.Tensor[]) => tf.Scalar)(xs);
  const out = gs.map((g) => new Float32Array(g.dataSync()));
  tf.dispose([...xs, ...gs]);
  await tf.setBackend('wasm');
  return out;
}

function random(shape: number[], seed: number) {
  const t = tf.randomNormal(shape, 0, 1, 'float32', seed);
  const data = new Float32Array(t.dataSync());
  t.dispose();
  return { data, shape };
}

describe('models', () => {
  before(async () => {
    const { backend } = await initTf();
    assert.equal(backend, 'wasm');
  });

  it('lists its models', () => assert.deepEqual([...MODEL_NAMES], ['simple', 'complex']));

  it('has one builder per trainable name of the shared contract', () => {
    assert.deepEqual(Object.keys(MODELS), [...CONTRACT]);
  });

  it('simple has the Keras MLP weights in Keras order', () => {
    assert.deepEqual(shapesOf('simple', [28, 28, 1]), [[784, 128], [128], [128, 10], [10]]);
    assert.deepEqual(shapesOf('simple', [32, 32, 3]), [[3072, 128], [128], [128, 10], [10]]);
  });

  it('complex has the Keras CNN weights in Keras order for 28x28x1 and 32x32x3', () => {
    const tail = [[128], [128, 10], [10]];
    assert.deepEqual(shapesOf('complex', [28, 28, 1]), [
      [3, 3, 1, 32],
      [32],
      [3, 3, 32, 64],
      [64],
      [1600, 128],
      ...tail,
    ]);
    assert.deepEqual(shapesOf('complex', [32, 32, 3]), [
      [3, 3, 3, 32],
      [32],
      [3, 3, 32, 64],
      [64],
      [2304, 128],
      ...tail,
    ]);
  });

  it('initializes deterministically from the seed, biases zero', () => {
    const a = getWeights(createModel('complex', [28, 28, 1], 10, 7));
    const b = getWeights(createModel('complex', [28, 28, 1], 10, 7));
    const c = getWeights(createModel('complex', [28, 28, 1], 10, 8));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a[0]!.data, c[0]!.data);
    assert.notDeepEqual(a[0]!.data, a[2]!.data.subarray(0, a[0]!.data.length));
    assert.ok((a[1]!.data as Float32Array).every((v) => v === 0));
    assert.ok(a.every((w) => w.dtype === 'f4' && w.data instanceof Float32Array));
  });

  it('round-trips weights through setWeights/getWeights', () => {
    const src = getWeights(createModel('simple', [28, 28, 1], 10, 3));
    const dst = createModel('simple', [28, 28, 1], 10, 4);
    setWeights(dst, src);
    assert.deepEqual(getWeights(dst), src);
  });

  it('says which array mismatches, with expected and actual shapes', () => {
    const m = createModel('simple', [28, 28, 1], 10, 0);
    const w = getWeights(m);
    assert.throws(() => setWeights(m, w.slice(0, 3)), /model has 4 weight arrays .* got 3/);
    const bad = [...w];
    bad[2] = { dtype: 'f4', shape: [10, 128], data: new Float32Array(1280) };
    assert.throws(() => setWeights(m, bad), /array 2 .*has shape \[10,128\], expected \[128,10\]/);
    bad[2] = { dtype: 'i4', shape: [128, 10], data: new Int32Array(1280) };
    assert.throws(() => setWeights(m, bad), /array 2 has dtype i4; allowed: f4/);
  });

  it('rejects unknown models and too-small inputs', () => {
    assert.throws(
      () => createModel('mobilenet', [32, 32, 3], 10),
      /unknown model "mobilenet"; allowed: simple, complex/,
    );
    assert.throws(() => createModel('complex', [8, 8, 1], 10), /at least 10x10/);
  });

  for (const [label, pad, stride] of [
    ['valid, stride 1', 'valid', 1],
    ['same, stride 1', 'same', 1],
    ['same, stride 2', 'same', 2],
  ] as const) {
    it(`conv2d gradients on wasm match the cpu backend (${label})`, async () => {
      const inputs = [random([2, 9, 9, 4], 1), random([3, 3, 4, 5], 2)];
      const f = (x: tf.Tensor, w: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad)));
      const wasm = await gradsOn('wasm', inputs, f);
      const cpu = await gradsOn('cpu', inputs, f);
      assert.ok(maxRelDiff(wasm[0]!, cpu[0]!) < 1e-5, 'input gradient');
      assert.ok(maxRelDiff(wasm[1]!, cpu[1]!) < 1e-5, 'filter gradient');
    });
  }

  it('maxPool and transposed matMul gradients on wasm match the cpu backend', async () => {
    const pool = [random([2, 6, 6, 3], 3)];
    const fp = (x: tf.Tensor) => tf.sum(tf.square(tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid')));
    assert.ok(maxRelDiff((await gradsOn('wasm', pool, fp))[0]!, (await gradsOn('cpu', pool, fp))[0]!) < 1e-6);
    const mm = [random([5, 7], 4), random([5, 3], 5)];
    const fm = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, true)));
    const w = await gradsOn('wasm', mm, fm);
    const c = await gradsOn('cpu', mm, fm);
    assert.ok(maxRelDiff(w[0]!, c[0]!) < 1e-5 && maxRelDiff(w[1]!, c[1]!) < 1e-5);
  });

  it('the whole complex model has the same gradients on wasm and cpu', async () => {
    const x = random([2, 28, 28, 1], 6);
    const lossGrads = async (backend: 'wasm' | 'cpu') => {
      await tf.setBackend(backend);
      quietCpuBackend();
      const m = createModel('complex', [28, 28, 1], 10, 5);
      const xs = tf.tensor(x.data, x.shape);
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(m.apply(xs) as tf.Tensor)) as tf.Scalar);
      const out = m.trainableWeights.map(
        (w) => new Float32Array(grads[(w.read() as tf.Variable).name]!.dataSync()),
      );
      tf.dispose([xs, ...Object.values(grads)]);
      m.dispose();
      await tf.setBackend('wasm');
      return out;
    };
    const w = await lossGrads('wasm');
    const c = await lossGrads('cpu');
    assert.equal(w.length, 8);
    w.forEach((g, i) => {
      assert.ok(maxRelDiff(g, c[i]!) < 1e-4, `weight ${i}: ${maxRelDiff(g, c[i]!)}`);
    });
  });
});
