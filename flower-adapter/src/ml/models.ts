// The models a client can train, built with tfjs-layers so that weight order and shapes match
// what Keras holds for the same architecture (conv kernel [kh,kw,cin,cout], dense kernel
// [in,out], each followed by its bias), and converters between a model's weights and NDArrays.
//
// The builders, one file each in models/ (simple.ts: the seed's Keras MLP; complex.ts: the
// classic Keras MNIST CNN), by name in MODELS (the trainable names of common/models.ts, which the
// MLFO validates intents against). A new model: its builder file in models/, its name in
// TRAINABLE_MODEL_NAMES of common/models.ts, and one line in MODELS — `satisfies` fails to compile
// while a name has no entry (or the table has a name the contract lacks).
// Training `complex` on wasm needs the Conv2DBackpropFilter kernel that wasm lacks;
// wasm-train-kernels.ts supplies it as a forward XNNPACK conv (11 ms per call at batch 32 for
// the second conv, vs 250 ms for a JS loop over the heap, 24–110 ms for im2col + MatMul, 300 ms
// via Conv3DBackpropFilterV2) and speeds up wasm's slow input/pool/matmul gradients, so a
// training step takes ~65–80 ms instead of ~190 and the full CNN keeps its size.
// Init is Keras' default (glorot-uniform kernels, zero biases), seeded per layer: one seed, one model.

import type { TrainableModelName } from '../../../common/models.ts';
import type { NDArray } from '../runtime/types.ts';
import { complex } from './models/complex.ts';
import type { ModelBuilder } from './models/model-builder.ts';
import { simple } from './models/simple.ts';
import { tf, tfl } from './tf.ts';

export type ModelName = TrainableModelName;

export const MODELS = {
  simple,
  complex,
} satisfies Record<ModelName, ModelBuilder>;

/** The names /serv and /cli accept for `model`: the table's. */
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name);
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
  const shape = [...inputShape] as [number, number, number];
  return tfl.sequential({ layers: MODELS[name](shape, numClasses, init) });
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
