import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapLimit } from '../map-limit.ts';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('mapLimit', () => {
  it('keeps order and the bound', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      most = Math.max(most, ++inFlight);
      await tick();
      inFlight--;
      return n * 10;
    });
    assert.deepEqual(out, [10, 20, 30, 40, 50, 60, 70]);
    assert.equal(most, 3);
  });

  it("'finish' runs every item and throws the first failure", async () => {
    const ran: number[] = [];
    await assert.rejects(
      mapLimit([1, 2, 3, 4, 5], 2, async (n) => {
        await tick();
        ran.push(n);
        if (n === 2 || n === 4) throw new Error(`item ${n}`);
      }),
      /item 2/,
    );
    assert.deepEqual(
      ran.sort((a, b) => a - b),
      [1, 2, 3, 4, 5],
    );
  });

  it("'stop' starts nothing after a failure and lets the running ones settle", async () => {
    const started: number[] = [];
    const settled: number[] = [];
    await assert.rejects(
      mapLimit(
        [1, 2, 3, 4, 5],
        2,
        async (n) => {
          started.push(n);
          if (n === 1) throw new Error('item 1');
          await tick();
          settled.push(n);
        },
        { onFailure: 'stop' },
      ),
      /item 1/,
    );
    assert.deepEqual(started, [1, 2]);
    assert.deepEqual(settled, [2]);
  });
});
