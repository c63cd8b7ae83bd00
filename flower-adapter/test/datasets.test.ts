// Dataset loaders on small files generated here (IDX plain and .gz, CIFAR-10 binary batches),
// partitioning, missing-file messages, and the handmnist cache and splits.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { DATASET_NAMES as CONTRACT } from '../../common/datasets.ts';
import { HANDMNIST_FILE, loadHandmnist } from '../src/ml/datasets/handmnist.ts';
import { parseIdx } from '../src/ml/datasets/idx.ts';
import { partitionIndices } from '../src/ml/datasets/partition.ts';
import {
  checkDataset,
  DATASET_NAMES,
  DATASETS,
  datasetInfo,
  loadPartition,
} from '../src/ml/datasets/registry.ts';

function idx(dims: number[], data: Uint8Array): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => {
    header.writeUInt32BE(d, 4 + 4 * i);
  });
  return Buffer.concat([header, data]);
}

const bytes = (n: number, f: (i: number) => number) => Uint8Array.from({ length: n }, (_, i) => f(i) & 255);

describe('datasets', () => {
  let dir: string;
  const savedCacheDir = process.env['MLFO_CACHE_DIR'];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlfo-datasets-'));
    process.env['MLFO_CACHE_DIR'] = join(dir, 'cache');
  });
  after(() => {
    if (savedCacheDir === undefined) delete process.env['MLFO_CACHE_DIR'];
    else process.env['MLFO_CACHE_DIR'] = savedCacheDir;
    rmSync(dir, { recursive: true, force: true });
  });

  it('has one entry per name of the shared contract', () => {
    assert.deepEqual(Object.keys(DATASETS), [...CONTRACT]);
  });

  it('describes its datasets', () => {
    assert.deepEqual([...DATASET_NAMES], ['handmnist', 'fashionmnist', 'cifar']);
    assert.deepEqual(datasetInfo('cifar'), { inputShape: [32, 32, 3], numClasses: 10 });
    assert.deepEqual(datasetInfo('fashionmnist'), { inputShape: [28, 28, 1], numClasses: 10 });
    assert.throws(
      () => datasetInfo('imagenet'),
      /unknown dataset "imagenet"; allowed: handmnist, fashionmnist, cifar/,
    );
  });

  it('names the directory and every expected file when data is missing', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const f = checkDataset('fashionmnist', empty);
    assert.equal(f.ok, false);
    const fm = f.ok ? '' : f.message;
    assert.ok(fm.includes(join(empty, 'fashionmnist')), fm);
    for (const name of [
      'train-images-idx3-ubyte',
      'train-labels-idx1-ubyte',
      't10k-images-idx3-ubyte',
      't10k-labels-idx1-ubyte',
    ]) {
      assert.ok(fm.includes(name), `${name} in ${fm}`);
    }
    const c = checkDataset('cifar', empty);
    const cm = c.ok ? '' : c.message;
    assert.ok(cm.includes(join(empty, 'cifar')), cm);
    for (const name of ['data_batch_1.bin', 'data_batch_5.bin', 'test_batch.bin'])
      assert.ok(cm.includes(name), cm);
    return assert.rejects(
      loadPartition('cifar', { dataDir: empty, part: 0, cohsize: 1, split: 'train' }),
      /cifar: missing .*test_batch\.bin/,
    );
  });

  it('reads IDX files, plain and gzipped, as normalized HWC pixels', async () => {
    const fm = join(dir, 'idx', 'fashionmnist');
    mkdirSync(fm, { recursive: true });
    const nTrain = 9;
    const nTest = 4;
    const trainPixels = bytes(nTrain * 784, (i) => i * 7);
    writeFileSync(join(fm, 'train-images-idx3-ubyte'), idx([nTrain, 28, 28], trainPixels));
    writeFileSync(
      join(fm, 'train-labels-idx1-ubyte'),
      idx(
        [nTrain],
        bytes(nTrain, (i) => i % 10),
      ),
    );
    writeFileSync(
      join(fm, 't10k-images-idx3-ubyte.gz'),
      gzipSync(
        idx(
          [nTest, 28, 28],
          bytes(nTest * 784, (i) => i),
        ),
      ),
    );
    writeFileSync(
      join(fm, 't10k-labels-idx1-ubyte.gz'),
      gzipSync(
        idx(
          [nTest],
          bytes(nTest, (i) => 9 - i),
        ),
      ),
    );
    const dataDir = join(dir, 'idx');
    assert.deepEqual(checkDataset('fashionmnist', dataDir), { ok: true });
    const train = await loadPartition('fashionmnist', { dataDir, part: 0, cohsize: 1, split: 'train' });
    assert.equal(train.count, nTrain);
    assert.deepEqual([...train.y], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(train.x.length, nTrain * 784);
    assert.ok(train.x.every((v, i) => Math.abs(v - trainPixels[i]! / 255) < 1e-7));
    const test = await loadPartition('fashionmnist', { dataDir, part: 0, cohsize: 1, split: 'test' });
    assert.deepEqual([...test.y], [9, 8, 7, 6]);
    assert.equal(test.x[785], Math.fround((785 % 256) / 255));
  });

  it('rejects malformed IDX data with the reason', () => {
    assert.throws(
      () => parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]), 'f.idx'),
      /f\.idx: IDX element type 0xd is not supported; allowed: 0x08/,
    );
    assert.throws(
      () =>
        parseIdx(
          idx(
            [3, 2],
            bytes(5, (i) => i),
          ),
          'g.idx',
        ),
      /g\.idx: dims \[3,2\] need 6 data bytes, the file has 5/,
    );
  });

  it('reads CIFAR-10 batches (from cifar-10-batches-bin/) and converts CHW to HWC', async () => {
    const batches = join(dir, 'cif', 'cifar', 'cifar-10-batches-bin');
    mkdirSync(batches, { recursive: true });
    // record r of file f: label (f*2+r) % 10, channel ch pixel p = (p + ch * 100 + f * 7 + r) % 256
    const record = (f: number, r: number) => {
      const rec = new Uint8Array(3073);
      rec[0] = (f * 2 + r) % 10;
      for (let ch = 0; ch < 3; ch++)
        for (let p = 0; p < 1024; p++) rec[1 + ch * 1024 + p] = (p + ch * 100 + f * 7 + r) % 256;
      return rec;
    };
    const files = [
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_3.bin',
      'data_batch_4.bin',
      'data_batch_5.bin',
      'test_batch.bin',
    ];
    files.forEach((name, f) => {
      writeFileSync(join(batches, name), Buffer.concat([record(f, 0), record(f, 1)]));
    });
    const dataDir = join(dir, 'cif');
    assert.deepEqual(checkDataset('cifar', dataDir), { ok: true });
    const train = await loadPartition('cifar', { dataDir, part: 0, cohsize: 1, split: 'train' });
    assert.equal(train.count, 10);
    assert.deepEqual(train.inputShape, [32, 32, 3]);
    assert.deepEqual([...train.y], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // sample 3 = file 1, record 1; pixel p=5 (row 0, col 5), channel 2
    assert.equal(train.x[3 * 3072 + 5 * 3 + 2], Math.fround(((5 + 200 + 7 + 1) % 256) / 255));
    const test = await loadPartition('cifar', { dataDir, part: 1, cohsize: 2, split: 'test' });
    assert.equal(test.count, 1);
  });

  it('partitions deterministically into disjoint, covering, near-equal parts', () => {
    const parts = [0, 1, 2, 3].map((p) => partitionIndices(103, p, 4, 42));
    assert.deepEqual(
      parts.map((p) => p.length),
      [26, 26, 26, 25],
    );
    const all = parts.flatMap((p) => [...p]).sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: 103 }, (_, i) => i),
    );
    assert.deepEqual(partitionIndices(103, 2, 4, 42), parts[2]);
    assert.notDeepEqual(partitionIndices(103, 2, 4, 43), parts[2]);
    assert.throws(() => partitionIndices(103, 4, 4, 0), /part must be an integer in 0 … 3/);
    assert.throws(() => partitionIndices(3, 0, 4, 0), /cohsize 4 exceeds the 3 samples/);
  });

  it('handmnist: builds the binary cache once; 8,000 train / 2,000 test, labels 0…9', async () => {
    const dataDir = join(dir, 'hm');
    const cacheFile = join(dir, 'cache', HANDMNIST_FILE);
    assert.deepEqual(checkDataset('handmnist', dataDir), { ok: true });
    const train = await loadPartition('handmnist', { dataDir, part: 0, cohsize: 1, split: 'train' });
    assert.ok(existsSync(cacheFile));
    const mtime = statSync(cacheFile).mtimeMs;
    const test = await loadPartition('handmnist', { dataDir, part: 0, cohsize: 1, split: 'test' });
    assert.equal(statSync(cacheFile).mtimeMs, mtime, 'cache is reused, not rewritten');
    assert.equal(train.count, 8000);
    assert.equal(test.count, 2000);
    assert.equal(train.x.length, 8000 * 784);
    const counts = (y: Uint8Array) => Array.from({ length: 10 }, (_, d) => y.filter((v) => v === d).length);
    assert.deepEqual(counts(test.y), [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]);
    assert.ok(train.y.every((v) => v < 10) && counts(train.y).every((c) => c > 600));
    assert.ok(train.x.every((v) => v >= 0 && v <= 1));
    // a quarter of the cohort: disjoint parts of the train split
    const q0 = await loadPartition('handmnist', { dataDir, part: 0, cohsize: 4, seed: 9, split: 'train' });
    const q1 = await loadPartition('handmnist', { dataDir, part: 1, cohsize: 4, seed: 9, split: 'train' });
    assert.equal(q0.count + q1.count, 4000);
    const raw = loadHandmnist(dataDir);
    assert.equal(raw.train.count, 8000);
  });

  it('handmnist: rebuilds a corrupt cache', async () => {
    const cacheFile = join(dir, 'cache', HANDMNIST_FILE);
    writeFileSync(cacheFile, 'garbage');
    const test = await loadPartition('handmnist', { dataDir: dir, part: 0, cohsize: 1, split: 'test' });
    assert.equal(test.count, 2000);
    assert.ok(statSync(cacheFile).size > 7_000_000);
  });
});
