// The datasets (an intent's `sourcekind`, a catalog's `source`) the system knows, by name: the
// contract between the MLFO, which validates intents and catalogs against it, and the
// flower-adapter, whose dataset table (flower-adapter/src/ml/datasets/registry.ts) must have one
// entry per name — TypeScript fails when one is missing. A new dataset: its name here and one
// line in the adapter's table. Names only: importing this loads nothing of the adapter.

export const DATASET_NAMES = ['handmnist', 'fashionmnist', 'cifar'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];
