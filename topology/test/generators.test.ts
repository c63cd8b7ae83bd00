// Generators: the seed topology's counts and figures from DESIGN.md ("The seed topology"), its
// scaling options, interface-name lengths, linear/star, and the MLFO inventory derived from a spec.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { linearTopology } from '../src/generators/linear.ts';
import { mlfoInventoryFromSpec } from '../../common/topology-spec/mlfo-inventory.ts';
import { seedTopology } from '../src/generators/seed.ts';
import { starTopology } from '../src/generators/star.ts';
import { TopologyError } from '../../common/topology-spec/topology-error.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';
import {
  interfaceNames,
  linksNeedingNetem,
  MAX_INTERFACE_NAME,
  validateSpec,
} from '../../common/topology-spec/validate.ts';

const byRole = (s: TopologySpec, role: string) => s.hosts.filter((h) => h.role === role);
const link = (s: TopologySpec, a: string, b: string) => s.links.find((l) => l.a === a && l.b === b);

describe('seedTopology', () => {
  it('reproduces the seed with 3 cohorts: 50 clients, 5 campus switches, 8 switches, 58 hosts', () => {
    const s = seedTopology({ cohorts: 3 });
    assert.deepEqual(validateSpec(s), []);
    assert.equal(byRole(s, 'fl-client').length, 50);
    assert.equal(byRole(s, 'fl-server').length, 3);
    // aggsw10, satsw11, swEdge12, swCampus1..5 (DESIGN.md names these eight)
    assert.deepEqual(
      s.switches.map((w) => w.name),
      ['aggsw10', 'satsw11', 'swEdge12', 'swCampus1', 'swCampus2', 'swCampus3', 'swCampus4', 'swCampus5'],
    );
    // prom.0, cloud.0, appserv.0, fed.1-3, mo.1, app.1 and 50 clients
    assert.equal(s.hosts.length, 58);
    // one link per host, satsw11–aggsw10, swEdge12–satsw11, five campus uplinks
    assert.equal(s.links.length, 65);
  });

  it('has the seed’s addresses, roles and figures', () => {
    const s = seedTopology({ cohorts: 3 });
    const ip = (n: string) => s.hosts.find((h) => h.name === n)?.ip;
    assert.equal(ip('prom.0'), '10.0.0.100/16');
    assert.equal(ip('cloud.0'), '10.0.0.1/16');
    assert.equal(ip('appserv.0'), '10.0.0.2/16');
    assert.equal(ip('fed.3'), '10.0.0.103/16');
    assert.equal(ip('mo.1'), '10.0.1.1/16');
    assert.equal(ip('app.1'), '10.0.1.2/16');
    assert.equal(ip('fc.10'), '10.0.1.10/16');
    assert.equal(ip('fc.59'), '10.0.1.59/16');
    const mo = s.hosts.find((h) => h.name === 'mo.1');
    assert.equal(mo?.parent, 'cloud.0');
    assert.deepEqual(mo?.publish, { '8000': 8001 });
    assert.deepEqual(s.hosts.find((h) => h.name === 'app.1')?.traffic, { to: 'appserv.0', rateMbps: 20 });
    for (const h of [...byRole(s, 'fl-server'), ...byRole(s, 'fl-client')]) assert.equal(h.cpus, 2, h.name);
    assert.ok(s.links.every((l) => l.bandwidthMbps === 500));
    assert.equal(link(s, 'satsw11', 'aggsw10')?.delayMs, 12);
    assert.equal(link(s, 'swEdge12', 'satsw11')?.delayMs, 12);
    assert.equal(s.links.filter((l) => l.delayMs !== undefined).length, 2);
    assert.deepEqual(
      linksNeedingNetem(s).map((n) => n.label),
      [
        'satsw11→aggsw10 (links[6]): delay 12 ms',
        'aggsw10→satsw11 (links[6]): delay 12 ms',
        'swEdge12→satsw11 (links[7]): delay 12 ms',
        'satsw11→swEdge12 (links[7]): delay 12 ms',
      ],
    );
  });

  it('keeps every interface name within 15 characters, including the 5-cohort seed', () => {
    for (const s of [seedTopology({ cohorts: 5 }), seedTopology({ cohorts: 154, campuses: 9 })]) {
      const names = interfaceNames(s).flatMap((l) => [l.a, l.b]);
      assert.equal(names.length, s.links.length * 2);
      const longest = names.reduce((a, b) => (b.length > a.length ? b : a));
      assert.ok(longest.length <= MAX_INTERFACE_NAME, longest);
    }
    assert.ok(interfaceNames(seedTopology()).some((l) => l.b === 'swCampus1-eth10'));
  });

  it('scales down and drops delays', () => {
    const s = seedTopology({ cohorts: 1, campuses: 3, clientsPerCampus: 4, delays: false });
    assert.deepEqual(
      byRole(s, 'fl-client').map((h) => h.name),
      [
        'fc.10',
        'fc.11',
        'fc.12',
        'fc.13',
        'fc.20',
        'fc.21',
        'fc.22',
        'fc.23',
        'fc.30',
        'fc.31',
        'fc.32',
        'fc.33',
      ],
    );
    assert.equal(s.switches.length, 6);
    assert.deepEqual(linksNeedingNetem(s), []);
  });

  it('assigns cohorts to clients in address order when asked', () => {
    const s = seedTopology({ cohortSizes: [30, 10, 10] });
    const cohortOf = (n: string) => s.hosts.find((h) => h.name === n)?.cohort;
    assert.deepEqual(
      [cohortOf('fc.10'), cohortOf('fc.39'), cohortOf('fc.40'), cohortOf('fc.59')],
      [1, 1, 2, 3],
    );
    assert.equal(seedTopology({ cohortSizes: [5] }).hosts.find((h) => h.name === 'fc.15')?.cohort, undefined);
  });

  it('takes a total client count, filling campuses in order with contiguous addresses', () => {
    const spec = seedTopology({ clients: 12, cohortSizes: [4, 4, 4] });
    const clients = spec.hosts.filter((h) => h.role === 'fl-client');
    assert.deepEqual(
      clients.map((h) => h.ip),
      Array.from({ length: 12 }, (_, i) => `10.0.1.${10 + i}/16`),
    );
    assert.deepEqual(
      spec.switches.map((s) => s.name).filter((n) => n.startsWith('swCampus')),
      ['swCampus1', 'swCampus2'],
    );
    assert.deepEqual(
      clients.map((h) => h.cohort),
      [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3],
    );
    assert.equal(validateSpec(spec).length, 0);
    assert.throws(() => seedTopology({ clients: 91 }), /clients: got 91; allowed: an integer 1–90/);
  });

  it('moves every address to another base network when asked, keeping the seed layout', () => {
    const spec = seedTopology({ clients: 3, baseNet: '10.42' });
    assert.deepEqual(
      spec.hosts.map((h) => h.ip.split('/')[0]),
      [
        '10.42.0.100',
        '10.42.0.1',
        '10.42.0.2',
        '10.42.0.101',
        '10.42.0.102',
        '10.42.0.103',
        '10.42.1.1',
        '10.42.1.2',
        '10.42.1.10',
        '10.42.1.11',
        '10.42.1.12',
      ],
    );
    assert.equal(mlfoInventoryFromSpec(spec).clientNet, '10.42.1');
    assert.throws(() => seedTopology({ baseNet: '127.1' }), /baseNet: got "127\.1"; allowed: "A\.B"/);
  });

  it('refuses sizes its naming cannot express, naming the option and what is allowed', () => {
    assert.throws(
      () => seedTopology({ campuses: 10, clientsPerCampus: 11 }),
      (e: TopologyError) => {
        assert.ok(e instanceof TopologyError);
        assert.match(e.message, /^seed generator: campuses: got 10; allowed: an integer 1–9/m);
        assert.match(e.message, /^seed generator: clientsPerCampus: got 11; allowed: an integer 1–10/m);
        return true;
      },
    );
    assert.throws(
      () => seedTopology({ cohortSizes: [40, 20] }),
      /cohortSizes: got \[40, 20\]; allowed: .* the 50 clients/,
    );
  });
});

describe('linear and star', () => {
  it('linearTopology(n): n switches in a chain, a host on each', () => {
    const s = linearTopology(4, { link: { bandwidthMbps: 100 } });
    assert.equal(s.hosts.length, 4);
    assert.equal(s.switches.length, 4);
    assert.equal(s.links.length, 7);
    assert.ok(s.links.every((l) => l.bandwidthMbps === 100));
  });

  it('starTopology(n): n hosts on one switch, addresses across /24 boundaries', () => {
    const s = starTopology(300, { fl: true });
    assert.equal(s.links.length, 300);
    assert.equal(s.hosts[255]?.ip, '10.0.1.0/16');
    assert.equal(byRole(s, 'fl-server').length, 1);
    assert.throws(() => starTopology(0), /star generator: hosts: got 0; allowed: an integer 1–65534/);
  });
});

describe('mlfoInventoryFromSpec', () => {
  it('lists the FL servers and clients with bare addresses and the clients’ /24', () => {
    const inv = mlfoInventoryFromSpec(
      seedTopology({ cohorts: 2, campuses: 1, clientsPerCampus: 2, cohortSizes: [1, 1] }),
    );
    assert.deepEqual(inv, {
      clientNet: '10.0.1',
      nodes: [
        { name: 'fed.1', address: '10.0.0.101', role: 'fl-server', cohort: 1 },
        { name: 'fed.2', address: '10.0.0.102', role: 'fl-server', cohort: 2 },
        { name: 'fc.10', address: '10.0.1.10', role: 'fl-client', cohort: 1 },
        { name: 'fc.11', address: '10.0.1.11', role: 'fl-client', cohort: 2 },
      ],
    });
    assert.equal(mlfoInventoryFromSpec(starTopology(3, { fl: true })).clientNet, '10.0.0');
  });
});
