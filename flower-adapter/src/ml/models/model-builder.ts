// What one entry of the model table (../models.ts) is: a function from the input shape and class
// count to the model's layers. createModel checks the shape and class count, hands each builder a
// seeded Keras-default initializer (`init()`, one call per weighted layer, in layer order) and
// wraps the layers in a Sequential.

import type { tfl } from '../tf.ts';

/** Keras' default init for one layer: a glorot-uniform kernel seeded per layer, zero bias. */
export interface LayerInit {
  kernelInitializer: ReturnType<typeof tfl.initializers.glorotUniform>;
  biasInitializer: 'zeros';
}

export type ModelBuilder = (
  inputShape: [number, number, number],
  numClasses: number,
  init: () => LayerInit,
) => tfl.layers.Layer[];
