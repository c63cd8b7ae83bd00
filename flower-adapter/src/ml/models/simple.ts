// `simple`: Flatten → Dense 128 relu → Dense classes softmax (the seed's Keras MLP).

import { tfl } from '../tf.ts';
import type { ModelBuilder } from './model-builder.ts';

export const simple: ModelBuilder = (inputShape, numClasses, init) => [
  tfl.layers.flatten({ inputShape }),
  tfl.layers.dense({ units: 128, activation: 'relu', ...init() }),
  tfl.layers.dense({ units: numClasses, activation: 'softmax', ...init() }),
];
