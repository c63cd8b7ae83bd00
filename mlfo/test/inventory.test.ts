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

describe('inventory from a topology file', () => {
  const topo = `name: small
hosts:
  - {name: cloud.0, ip: 10.0.0.1/16, role: mlfo-cloud}
  - {name: fed.1, ip: 10.0.0.101/16, role: fl-server, cohort: 1, cpus: 2}
  - {name: fc.10, ip: 10.0.1.10/16, role: fl-client, cpus: 2}
  - {name: fc.11, ip: 10.0.1.11/16, role: fl-client, cohort: 1}
switches:
  - {name: aggsw10}
links:
  - {a: cloud.0, b: aggsw10}
  - {a: fed.1, b: aggsw10}
  - {a: fc.10, b: aggsw10}
  - {a: fc.11, b: aggsw10}
`;

  it('takes the fl-server and fl-client hosts as nodes and derives clientNet', () => {
    const inv = parseInventory(topo, 'topo.yaml');
    assert.equal(inv.clientNet, '10.0.1');
    assert.deepEqual(
      inv.nodes.map((n) => [n.name, n.address, n.role, n.cohort, n.restPort]),
      [
        ['fed.1', '10.0.0.101', 'fl-server', '1', 5000],
        ['fc.10', '10.0.1.10', 'fl-client', undefined, 5000],
        ['fc.11', '10.0.1.11', 'fl-client', '1', 5000],
      ],
    );
    assert.deepEqual(
      selectByIpstart(inv, 10, 2).map((n) => n.name),
      ['fc.10', 'fc.11'],
    );
  });

  it('reads a generated seed topology', async () => {
    const { seedTopology } = await import('../../topology/src/generators/seed.ts');
    const { toYaml } = await import('../../common/topology-spec/spec-yaml.ts');
    const inv = parseInventory(toYaml(seedTopology({ cohorts: 3 })), 'seed.yaml');
    assert.equal(inv.servers().length, 3);
    assert.equal(inv.clients().length, 50);
    assert.equal(selectByIpstart(inv, 40, 10)[0]?.name, 'fc.40');
  });

  it('reports the topology validator’s problems, located in the file', () => {
    assert.throws(
      () =>
        parseInventory(
          topo.replace('{a: fc.11, b: aggsw10}', '{a: fc.11, b: aggsw11}').replace('cpus: 2}', 'cpu: 2}'),
          'topo.yaml',
        ),
      (e: InventoryError) => {
        assert.match(
          e.message,
          /^inventory topo\.yaml:4:66: hosts\[1\]\.cpu: unknown key "cpu" \(did you mean cpus\?\)/m,
        );
        assert.match(
          e.message,
          /^inventory topo\.yaml:13:16: links\[3\]\.b: link fc\.11–aggsw11: b "aggsw11" is not a host or switch/m,
        );
        return true;
      },
    );
  });

  it('refuses a topology without FL nodes', () => {
    assert.throws(
      () =>
        parseInventory(
          'name: x\nhosts: [{name: h1, ip: 10.0.0.1/24, role: plain}]\nswitches: [{name: s1}]\nlinks: [{a: h1, b: s1}]\n',
          'x.yaml',
        ),
      /inventory x\.yaml: the topology has no fl-server or fl-client hosts/,
    );
  });
});
