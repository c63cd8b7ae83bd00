// The models a client can train, built with tfjs-layers so that weight order and shapes match
// what Keras holds for the same architecture (conv kernel [kh,kw,cin,cout], dense kernel
// [in,out], each followed by its bias), and converters between a model's weights and NDArrays.
//
// `simple`:  Flatten → Dense 128 relu → Dense classes softmax (the seed's Keras MLP).
// `complex`: Conv 32 3x3 relu → MaxPool 2 → Conv 64 3x3 relu → MaxPool 2 → Flatten →
//            Dense 128 relu → Dense classes softmax (the classic Keras MNIST CNN, 'valid' padding).
// Training `complex` on wasm needs the Conv2DBackpropFilter kernel that wasm lacks;
// wasm-train-kernels.ts supplies it as a forward XNNPACK conv (11 ms per call at batch 32 for
// the second conv, vs 250 ms for a JS loop over the heap, 24–110 ms for im2col + MatMul, 300 ms
// via Conv3DBackpropFilterV2) and speeds up wasm's slow input/pool/matmul gradients, so a
// training step takes ~65–80 ms instead of ~190 and the full CNN keeps its size.
// Init is Keras' default (glorot-uniform kernels, zero biases), seeded per layer: one seed, one model.

import { tf, tfl } from './tf.ts';
import type { NDArray } from '../runtime/types.ts';

export const MODEL_NAMES = ['simple', 'complex'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

/** Builds an uncompiled model (TfClient runs its own training loop). Call initTf() first. */
export function createModel(
  name: string,
  inputShape: readonly number[],
  numClasses: number,
  seed = 0,
): tfl.Sequential {
  if (!isModelName(name)) {
    throw new Error(`unknown model ${JSON.stringify(name)}; allowed: ${MODEL_NAMES.join(', ')}`);
  }
  if (inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(
      `model ${name}: inputShape must be [height, width, channels] of positive integers, got [${inputShape}]`,
    );
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new Error(`model ${name}: numClasses must be an integer ≥ 2, got ${numClasses}`);
  }
  let layerSeed = Math.trunc(seed) * 1009;
  const init = () => ({
    kernelInitializer: tfl.initializers.glorotUniform({ seed: layerSeed++ }),
    biasInitializer: 'zeros' as const,
  });
  const shape = [...inputShape];
  const layers: tfl.layers.Layer[] = [];
  if (name === 'simple') {
    layers.push(
      tfl.layers.flatten({ inputShape: shape }),
      tfl.layers.dense({ units: 128, activation: 'relu', ...init() }),
      tfl.layers.dense({ units: numClasses, activation: 'softmax', ...init() }),
    );
  } else {
    const [h, w] = shape as [number, number, number];
    if (h < 10 || w < 10) {
      throw new Error(
        `model complex: input must be at least 10x10 (two 3x3 convs and two 2x2 pools), got [${inputShape}]`,
      );
    }
    layers.push(
      tfl.layers.conv2d({ inputShape: shape, filters: 32, kernelSize: 3, activation: 'relu', ...init() }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', ...init() }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 128, activation: 'relu', ...init() }),
      tfl.layers.dense({ units: numClasses, activation: 'softmax', ...init() }),
    );
  }
  return tfl.sequential({ layers });
}

/** Copies of the model's weights in Keras order, as float32 ('f4') NDArrays. */
export function getWeights(model: tfl.LayersModel): NDArray[] {
  return model.weights.map((w) => {
    const t = w.read();
    return { dtype: 'f4', shape: [...t.shape], data: new Float32Array(t.dataSync() as Float32Array) };
  });
}

/** Replaces the model's weights; count, shapes and dtypes must match what getWeights returns. */
export function setWeights(model: tfl.LayersModel, arrays: readonly NDArray[]): void {
  const vars = model.weights;
  if (arrays.length !== vars.length) {
    throw new Error(
      `setWeights: the model has ${vars.length} weight arrays (${vars.map((v) => `[${v.shape}]`).join(' ')}), got ${arrays.length}`,
    );
  }
  const tensors: tf.Tensor[] = [];
  try {
    arrays.forEach((a, i) => {
      const expected = vars[i]!.shape as number[];
      const sameShape = a.shape.length === expected.length && a.shape.every((d, k) => d === expected[k]);
      if (!sameShape) {
        throw new Error(
          `setWeights: array ${i} (${vars[i]!.originalName}) has shape [${a.shape}], expected [${expected}]`,
        );
      }
      if (a.dtype !== 'f4' && a.dtype !== 'f8') {
        throw new Error(`setWeights: array ${i} has dtype ${a.dtype}; allowed: f4 (float32), f8 (float64)`);
      }
      const size = expected.reduce((p, d) => p * d, 1);
      if (a.data.length !== size) {
        throw new Error(
          `setWeights: array ${i} holds ${a.data.length} values, shape [${a.shape}] needs ${size}`,
        );
      }
      const data = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as Float64Array);
      tensors.push(tf.tensor(data, [...expected], 'float32'));
    });
    model.setWeights(tensors);
  } finally {
    for (const t of tensors) t.dispose();
  }
}
