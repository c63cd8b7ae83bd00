import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STRATEGY_NAMES as CONTRACT, SETTINGS_WITHOUT_DEFAULT } from '../../common/strategies.ts';
import { FedAvg } from '../src/runtime/strategy/fedavg.ts';
import { createStrategy, STRATEGIES, STRATEGY_NAMES } from '../src/runtime/strategy/registry.ts';
import type { StrategySettings } from '../src/runtime/strategy/strategy.ts';

const settings: StrategySettings = {
  fractionFit: 0.5,
  fractionEvaluate: 0,
  minFitClients: 2,
  minEvaluateClients: 2,
  minAvailableClients: 3,
  acceptFailures: false,
  onFitConfig: (round) => ({ server_round: round }),
  onEvaluateConfig: (round) => ({ server_round: round }),
  own: {},
};

describe('strategy registry', () => {
  it('has one entry per name of the shared contract', () => {
    assert.deepEqual([...STRATEGY_NAMES].sort(), [...CONTRACT].sort());
  });

  it("the shared list of settings without a default is the table's", () => {
    const fromTable = Object.fromEntries(
      Object.entries(STRATEGIES)
        .map(([name, e]) => [name, e.own.params.filter((p) => p.default === undefined).map((p) => p.name)])
        .filter(([, names]) => (names as string[]).length > 0),
    );
    assert.deepEqual(fromTable, SETTINGS_WITHOUT_DEFAULT);
  });

  it('builds fedavg from the session settings', () => {
    const s = createStrategy('fedavg', settings);
    assert.ok(s instanceof FedAvg);
    assert.equal(s.fractionFit, 0.5);
    assert.equal(s.minAvailableClients, 3);
    assert.equal(s.acceptFailures, false);
  });

  it('rejects an unknown name, listing the known ones', () => {
    assert.throws(() => createStrategy('fedmagic', settings), /unknown strategy 'fedmagic'; known: fedavg/);
    assert.throws(() => createStrategy('toString', settings), /unknown strategy 'toString'/);
  });
});
