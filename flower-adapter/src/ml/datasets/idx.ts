// Reader for IDX files (the MNIST / Fashion-MNIST layout), plain or gzip-compressed, and the
// `fashionmnist` source built on it: <dataDir>/fashionmnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
// (`fashionmnist`, the end, is its entry in the dataset table).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type Dataset, type ImageSplit, inMemory } from './dataset.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parses one IDX file's bytes (gunzipped already); only unsigned-byte data (type 0x08) is supported. */
export function parseIdx(bytes: Uint8Array, where = 'IDX data'): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${where}: not an IDX file (the first two bytes must be 0, 0)`);
  }
  const type = bytes[2]!;
  if (type !== 0x08) {
    throw new Error(
      `${where}: IDX element type 0x${type.toString(16)} is not supported; allowed: 0x08 (unsigned byte)`,
    );
  }
  const rank = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new Error(`${where}: truncated header (rank ${rank})`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((p, d) => p * d, 1);
  if (bytes.length - headerBytes !== size) {
    throw new Error(
      `${where}: dims [${dims}] need ${size} data bytes, the file has ${bytes.length - headerBytes}`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Reads `<path>` or `<path>.gz`, whichever exists (plain first). */
export function readIdxFile(path: string): IdxArray {
  if (existsSync(path)) return parseIdx(readFileSync(path), path);
  const gz = `${path}.gz`;
  if (existsSync(gz)) return parseIdx(gunzipSync(readFileSync(gz)), gz);
  throw new Error(`IDX file not found: ${path} (nor ${gz})`);
}

export const IDX_FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

/** One split of an IDX image dataset in `dir` (images [n, rows, cols] + labels [n]). */
export function loadIdxSplit(dir: string, split: 'train' | 'test'): ImageSplit {
  const [imagesName, labelsName] = IDX_FILES[split];
  const images = readIdxFile(join(dir, imagesName));
  const labels = readIdxFile(join(dir, labelsName));
  if (images.dims.length !== 3) {
    throw new Error(`${join(dir, imagesName)}: expected 3 dims [count, rows, cols], got [${images.dims}]`);
  }
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0]) {
    throw new Error(
      `${join(dir, labelsName)}: expected dims [${images.dims[0]}] to match the images, got [${labels.dims}]`,
    );
  }
  const [count, rows, cols] = images.dims as [number, number, number];
  return { images: images.data, labels: labels.data, count, inputShape: [rows, cols, 1] };
}

/** The dataset table's entry: IDX files in <dataDir>/fashionmnist/, 28x28x1, 10 classes. */
export const fashionmnist: Dataset = {
  info: { inputShape: [28, 28, 1], numClasses: 10 },
  check(dataDir) {
    const dir = join(dataDir, 'fashionmnist');
    const expected = [...IDX_FILES.train, ...IDX_FILES.test];
    const missing = expected.filter((f) => !existsSync(join(dir, f)) && !existsSync(join(dir, `${f}.gz`)));
    if (missing.length === 0) return { ok: true };
    return {
      ok: false,
      message: `fashionmnist: missing ${missing.map((f) => `${f}[.gz]`).join(', ')} in ${dir}; expected files (each plain or .gz): ${expected.join(', ')}`,
    };
  },
  open: (dataDir, split) => inMemory(loadIdxSplit(join(dataDir, 'fashionmnist'), split)),
};
