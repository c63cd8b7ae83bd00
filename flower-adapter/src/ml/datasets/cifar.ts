// CIFAR-10 binary batches: each record is 1 label byte + 3,072 pixel bytes (1,024 R, then G,
// then B, each 32x32 row-major, i.e. CHW); we hand out HWC. Only the records a partition needs
// are read from disk, so a client never holds the whole 150 MB training set. `cifar` (the end) is
// its entry in the dataset table: batches in <dataDir>/cifar/ or <dataDir>/cifar/cifar-10-batches-bin/.

import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, ImageSplit } from './dataset.ts';

export const CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32;
export const CIFAR_FILES = {
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  test: ['test_batch.bin'],
} as const;

/** Where the batches are: `dir` itself or its `cifar-10-batches-bin/` (the archive's folder). */
export function cifarBatchDir(dir: string): string {
  const nested = join(dir, 'cifar-10-batches-bin');
  return existsSync(join(nested, 'test_batch.bin')) || existsSync(join(nested, 'data_batch_1.bin'))
    ? nested
    : dir;
}

export interface CifarSplit {
  count: number;
  inputShape: [32, 32, 3];
  /** Reads the given records (global indices over the split's files, in the given order). */
  read(indices: ArrayLike<number>): ImageSplit;
}

export function openCifarSplit(dir: string, split: 'train' | 'test'): CifarSplit {
  const batchDir = cifarBatchDir(dir);
  const files = CIFAR_FILES[split].map((name) => {
    const path = join(batchDir, name);
    const size = statSync(path).size;
    if (size % CIFAR_RECORD_BYTES !== 0) {
      throw new Error(
        `${path}: ${size} bytes is not a whole number of ${CIFAR_RECORD_BYTES}-byte CIFAR-10 records`,
      );
    }
    return { path, records: size / CIFAR_RECORD_BYTES };
  });
  const starts: number[] = [];
  let count = 0;
  for (const f of files) {
    starts.push(count);
    count += f.records;
  }
  return {
    count,
    inputShape: [32, 32, 3],
    read(indices) {
      const n = indices.length;
      const images = new Uint8Array(n * 3072);
      const labels = new Uint8Array(n);
      const record = new Uint8Array(CIFAR_RECORD_BYTES);
      const fds = new Map<number, number>();
      try {
        for (let k = 0; k < n; k++) {
          const g = indices[k]!;
          if (!Number.isInteger(g) || g < 0 || g >= count) {
            throw new Error(`CIFAR-10 ${split}: record ${g} out of range 0 … ${count - 1}`);
          }
          let f = files.length - 1;
          while (starts[f]! > g) f--;
          let fd = fds.get(f);
          if (fd === undefined) {
            fd = openSync(files[f]!.path, 'r');
            fds.set(f, fd);
          }
          readSync(fd, record, 0, CIFAR_RECORD_BYTES, (g - starts[f]!) * CIFAR_RECORD_BYTES);
          labels[k] = record[0]!;
          const out = k * 3072;
          for (let p = 0; p < 1024; p++) {
            images[out + p * 3] = record[1 + p]!;
            images[out + p * 3 + 1] = record[1 + 1024 + p]!;
            images[out + p * 3 + 2] = record[1 + 2048 + p]!;
          }
        }
      } finally {
        for (const fd of fds.values()) closeSync(fd);
      }
      return { images, labels, count: n, inputShape: [32, 32, 3] };
    },
  };
}

/** The dataset table's entry: 32x32x3, 10 classes; reads only the records a partition picks. */
export const cifar: Dataset = {
  info: { inputShape: [32, 32, 3], numClasses: 10 },
  check(dataDir) {
    const base = join(dataDir, 'cifar');
    const dir = cifarBatchDir(base);
    const expected = [...CIFAR_FILES.train, ...CIFAR_FILES.test];
    const missing = expected.filter((f) => !existsSync(join(dir, f)));
    if (missing.length === 0) return { ok: true };
    return {
      ok: false,
      message: `cifar: missing ${missing.join(', ')} in ${dir} (also looked in ${join(base, 'cifar-10-batches-bin')}); expected CIFAR-10 binary files: ${expected.join(', ')}`,
    };
  },
  open: (dataDir, split) => openCifarSplit(join(dataDir, 'cifar'), split),
};
