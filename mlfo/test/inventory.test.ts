// The nodes-only inventory: parsing with located errors, and the seed's ipstart selection that
// refuses addresses which are not fl-client nodes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type InventoryError,
  type NodeSelectionError,
  parseInventory,
  selectByIpstart,
} from '../src/inventory.ts';

const text = `clientNet: 10.0.1
nodes:
  - {name: fed.1, address: 10.0.0.101, role: fl-server}
  - {name: fc.10, address: 10.0.1.10, role: fl-client}
  - {name: fc.11, address: 10.0.1.11, role: fl-client, cohort: 1}
`;

describe('inventory', () => {
  it('selects clients by ipstart + cohort size as the seed did', () => {
    const inv = parseInventory(text, 'inv.yaml');
    assert.deepEqual(
      selectByIpstart(inv, 10, 2).map((n) => n.name),
      ['fc.10', 'fc.11'],
    );
  });

  it('names the addresses that are not fl-client nodes', () => {
    const inv = parseInventory(text, 'inv.yaml');
    assert.throws(
      () => selectByIpstart(inv, 11, 2),
      (e: NodeSelectionError) => {
        assert.equal(e.status, 422);
        assert.match(e.message, /10\.0\.1\.12 is not an fl-client node in inventory inv\.yaml/);
        return true;
      },
    );
  });

  it('rejects bad nodes with the field and what is allowed', () => {
    assert.throws(
      () => parseInventory('nodes:\n  - {name: x, address: 10.0.0.300, role: router}\n', 'bad.yaml'),
      (e: InventoryError) => {
        assert.match(e.message, /bad\.yaml: nodes\[0\]\.address: got "10\.0\.0\.300"/);
        assert.match(e.message, /nodes\[0\]\.role: got "router"; allowed: fl-server, fl-client/);
        return true;
      },
    );
  });
});
