// TfClient on small handmnist partitions: fit lowers the loss, evaluate is sane, no tensor leaks,
// the event loop keeps running during training, and the central evaluator agrees with evaluate.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadPartition, type Partition } from '../src/ml/datasets/registry.ts';
import { createCentralEvaluator, fitObjective, proximalTerm, TfClient } from '../src/ml/tf-client.ts';
import { initTf, tf, tfl } from '../src/ml/tf.ts';

describe('TfClient', () => {
  let dir: string;
  let train: Partition;
  let test: Partition;
  const savedCacheDir = process.env['MLFO_CACHE_DIR'];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mlfo-tfclient-'));
    process.env['MLFO_CACHE_DIR'] = join(dir, 'cache');
    await initTf();
    train = await loadPartition('handmnist', { dataDir: dir, part: 0, cohsize: 20, seed: 1, split: 'train' });
    test = await loadPartition('handmnist', { dataDir: dir, part: 0, cohsize: 10, seed: 1, split: 'test' });
  });
  after(() => {
    if (savedCacheDir === undefined) delete process.env['MLFO_CACHE_DIR'];
    else process.env['MLFO_CACHE_DIR'] = savedCacheDir;
    rmSync(dir, { recursive: true, force: true });
  });

  it('fit lowers the loss, evaluate returns sane values, no tensors leak', async () => {
    const client = new TfClient('simple', train, test, { seed: 3 });
    let weights = await client.getParameters({});
    const before0 = await client.evaluate(weights, {});
    assert.equal(before0.numExamples, 200);
    assert.ok(before0.loss > 1.5, `untrained loss ${before0.loss}`);
    const tensorsAfter: number[] = [];
    const losses: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    for (let i = 0; i < 3; i++) {
      const r = await client.fit(weights, { epochs: 1, batch_size: 32 });
      assert.equal(r.numExamples, 400);
      losses.push(Number(r.metrics['loss']));
      weights = r.parameters;
      tensorsAfter.push(tf.memory().numTensors);
    }
    clearInterval(timer);
    assert.ok(ticks > 5, `event loop ran ${ticks} timer ticks during training`);
    assert.ok(losses[2]! < losses[0]!, `training loss ${losses}`);
    assert.equal(tensorsAfter[2], tensorsAfter[0], `tensor counts ${tensorsAfter}`);
    const after1 = await client.evaluate(weights, {});
    assert.ok(after1.loss < before0.loss, `${after1.loss} < ${before0.loss}`);
    const acc = Number(after1.metrics['accuracy']);
    assert.ok(acc > 0.6 && acc <= 1, `accuracy ${acc}`);
    const central = createCentralEvaluator('simple', test);
    const c = await central(weights);
    assert.ok(Math.abs(c.loss - after1.loss) < 1e-5 && c.accuracy === acc && c.numExamples === 200);
    client.dispose();
  });

  it('rejects bad fit config with the key and what is allowed', async () => {
    const client = new TfClient('simple', train, test);
    const w = await client.getParameters({});
    await assert.rejects(
      client.fit(w, { batch_size: 0 }),
      /batch_size=0 is invalid; allowed: a positive integer/,
    );
    await assert.rejects(client.fit(w, { lr: 'fast' }), /lr=fast is invalid; allowed: a positive number/);
    client.dispose();
  });

  it('trains the complex CNN on wasm (config values as bigint and string)', async () => {
    const small: Partition = {
      ...train,
      x: train.x.subarray(0, 96 * 784),
      y: train.y.subarray(0, 96),
      count: 96,
    };
    const client = new TfClient('complex', small, test, { seed: 1 });
    const w = await client.getParameters({});
    const first = await client.fit(w, { epochs: 1n, batch_size: '32', lr: 0.002 });
    const later = await client.fit(first.parameters, { epochs: 3, batch_size: 32, lr: 0.002 });
    assert.ok(
      Number(later.metrics['loss']) < Number(first.metrics['loss']),
      `${later.metrics['loss']} < ${first.metrics['loss']}`,
    );
    client.dispose();
  });
});

describe('FedProx on the client: the proximal term (mu/2)·‖w − w_global‖²', () => {
  it('adds mu·(w − w_global) to the gradient of a tiny model, and (mu/2)·‖w − w_global‖² to the loss', async () => {
    await initTf();
    const model = tfl.sequential({
      layers: [tfl.layers.dense({ units: 2, inputShape: [3], activation: 'softmax' })],
    });
    const w = [tf.tensor2d([0.1, -0.2, 0.3, 0.05, -0.4, 0.25], [3, 2]), tf.tensor1d([0.01, -0.02])];
    model.setWeights(w);
    const globals = [tf.tensor2d([0, 0.1, 0.2, 0.1, -0.3, 0], [3, 2]), tf.tensor1d([0.05, 0])];
    const xs = tf.tensor2d([1, 2, -1, 0.5, -0.5, 2], [2, 3]);
    const ys = tf.tensor2d([1, 0, 0, 1], [2, 2]);
    const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
    const mu = 0.7;
    const plain = tf.variableGrads(() => fitObjective(model, xs, ys), vars);
    const prox = tf.variableGrads(() => fitObjective(model, xs, ys, { globals, mu }), vars);
    let norm2 = 0;
    vars.forEach((v, i) => {
      const g0 = plain.grads[v.name]!.dataSync();
      const g1 = prox.grads[v.name]!.dataSync();
      const wv = w[i]!.dataSync();
      const gv = globals[i]!.dataSync();
      for (let j = 0; j < wv.length; j++) {
        norm2 += (wv[j]! - gv[j]!) ** 2;
        const expected = mu * (wv[j]! - gv[j]!);
        assert.ok(
          Math.abs(g1[j]! - g0[j]! - expected) < 1e-6,
          `var ${i}[${j}]: ${g1[j]! - g0[j]!} vs ${expected}`,
        );
      }
    });
    const dl = prox.value.dataSync()[0]! - plain.value.dataSync()[0]!;
    assert.ok(Math.abs(dl - (mu / 2) * norm2) < 1e-6, `loss difference ${dl} vs ${(mu / 2) * norm2}`);
    assert.equal(proximalTerm(vars, globals, 0).dataSync()[0], 0);
    tf.dispose([
      ...w,
      ...globals,
      xs,
      ys,
      plain.value,
      prox.value,
      ...Object.values(plain.grads),
      ...Object.values(prox.grads),
    ]);
    model.dispose();
  });
});
