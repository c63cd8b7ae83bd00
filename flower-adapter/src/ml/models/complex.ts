// `complex`: Conv 32 3x3 relu → MaxPool 2 → Conv 64 3x3 relu → MaxPool 2 → Flatten →
// Dense 128 relu → Dense classes softmax (the classic Keras MNIST CNN, 'valid' padding).
// Training it on wasm needs the kernels of ../wasm-train-kernels.ts (see ../models.ts).

import { tfl } from '../tf.ts';
import type { ModelBuilder } from './model-builder.ts';

export const complex: ModelBuilder = (inputShape, numClasses, init) => {
  const [h, w] = inputShape;
  if (h < 10 || w < 10) {
    throw new Error(
      `model complex: input must be at least 10x10 (two 3x3 convs and two 2x2 pools), got [${inputShape}]`,
    );
  }
  return [
    tfl.layers.conv2d({ inputShape, filters: 32, kernelSize: 3, activation: 'relu', ...init() }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', ...init() }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 128, activation: 'relu', ...init() }),
    tfl.layers.dense({ units: numClasses, activation: 'softmax', ...init() }),
  ];
};
