// The models the system knows, by name: the contract between the MLFO, which validates an
// intent's `modelkind` and a catalog's `model` against it, and the flower-adapter, whose model
// table (flower-adapter/src/ml/models.ts) must have one builder per trainable name — TypeScript
// fails when one is missing. A new model: its name in TRAINABLE_MODEL_NAMES and one line in the
// adapter's table. Names only: importing this loads nothing of the adapter (nor tfjs).

/** The models a flower-adapter trains. */
export const TRAINABLE_MODEL_NAMES = ['simple', 'complex'] as const;
export type TrainableModelName = (typeof TRAINABLE_MODEL_NAMES)[number];

/** The names an intent or catalog may use: the trainable ones plus the seed's `mobilenet`, which no adapter trains (accepted with a warning). */
export const MODEL_NAMES = [...TRAINABLE_MODEL_NAMES, 'mobilenet'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
