// Naming and planning of the netns backend (pure; no root needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { namespaceName, planNetwork, rootNamePattern, runTag } from '../src/netns/plan.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';

const spec: TopologySpec = {
  name: 't',
  hosts: [
    { name: 'fc.11', ip: '10.0.1.11/16', role: 'fl-client' },
    { name: 'fed.1', ip: '10.0.0.101/16', role: 'fl-server', cpus: 2 },
  ],
  switches: [{ name: 'aggsw10' }, { name: 'swCampus1' }],
  links: [
    { a: 'fc.11', b: 'swCampus1', bandwidthMbps: 100, ab: { bandwidthMbps: 20 } },
    { a: 'swCampus1', b: 'aggsw10', delayMs: 12 },
    { a: 'fed.1', b: 'aggsw10' },
    { a: 'fed.1', b: 'fc.11' },
  ],
};

test('plan: interfaces <node>-eth<N> in spec order, tagged short root names', () => {
  const plan = planNetwork(spec, 'run_2024-05-01');
  const tag = runTag('run_2024-05-01');
  assert.deepEqual(
    plan.hosts.map((h) => h.interfaces),
    [
      ['fc.11-eth0', 'fc.11-eth1'],
      ['fed.1-eth0', 'fed.1-eth1'],
    ],
  );
  assert.equal(plan.hosts[0]?.ns, namespaceName('run_2024-05-01', 'fc.11'));
  assert.equal(plan.hosts[0]?.ns, 'mlfo-run_2024-05-01.fc.11');
  const rootNames = [
    ...plan.bridges.values(),
    ...plan.links
      .flatMap((l) => [l.a, l.b])
      .filter((e) => e.kind === 'switch')
      .map((e) => e.ifname),
  ];
  for (const n of rootNames) {
    assert.ok(n.length <= 15, n);
    assert.match(n, rootNamePattern(tag));
  }
  assert.deepEqual(plan.links[0]?.ab, { bandwidthMbps: 20 });
  assert.deepEqual(plan.links[0]?.ba, { bandwidthMbps: 100 });
  assert.deepEqual(plan.links[1]?.ab, { delayMs: 12 });
});

test('plan: rejects bad run ids, unknown ends, long interface names, non-positive bandwidth', () => {
  assert.throws(() => planNetwork(spec, 'a.b'), /run id "a.b" is not allowed/);
  const bad: TopologySpec = {
    name: 'bad',
    hosts: [{ name: 'averylonghostname', ip: '10.0.0.1/24', role: 'plain' }],
    switches: [{ name: 's1' }],
    links: [
      { a: 'averylonghostname', b: 's1', bandwidthMbps: 0 },
      { a: 's1', b: 'nowhere' },
    ],
  };
  assert.throws(
    () => planNetwork(bad, 'r1'),
    (err: Error) => {
      assert.match(err.message, /averylonghostname-eth0 is longer than 15/);
      assert.match(err.message, /unknown node nowhere/);
      assert.match(err.message, /bandwidthMbps must be > 0/);
      return true;
    },
  );
});
