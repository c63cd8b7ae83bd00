// The validator: one row per problem class, each checking the field path and that the message
// names the element and what is allowed; plus interfaceNames and linksNeedingNetem.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TopologyBuilder } from '../src/spec/builder.ts';
import { TopologyError } from '../../common/topology-spec/topology-error.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';
import {
  assertValid,
  interfaceNames,
  linksNeedingNetem,
  validateSpec,
} from '../../common/topology-spec/validate.ts';

/** A small valid topology with one host of every role that has role-specific fields. */
function base(): TopologySpec {
  return new TopologyBuilder('t')
    .addSwitch('s1')
    .addSwitch('s2')
    .addHost('cloud', { ip: '10.0.0.1/24', role: 'mlfo-cloud' })
    .addHost('edge', { ip: '10.0.0.2/24', role: 'mlfo-edge', parent: 'cloud', publish: { '8000': 8001 } })
    .addHost('srv', { ip: '10.0.0.3/24', role: 'fl-server', cohort: 1, cpus: 2, instance: 'fog' })
    .addHost('cli', { ip: '10.0.0.4/24', role: 'fl-client', cpus: 1, memoryMb: 256 })
    .addHost('src', { ip: '10.0.0.5/24', role: 'traffic-source', traffic: { to: 'sink', rateMbps: 20 } })
    .addHost('sink', { ip: '10.0.0.6/24', role: 'traffic-sink' })
    .addLink('s1', 's2', { bandwidthMbps: 100, delayMs: 5 })
    .addLink('cloud', 's1')
    .addLink('edge', 's2')
    .addLink('srv', 's1', { bandwidthMbps: 500 })
    .addLink('cli', 's2', { ab: { lossPercent: 1 } })
    .addLink('src', 's2')
    .addLink('sink', 's1')
    .addInstance('fog', { kind: 'fog', switch: 's1', cpus: 4, memoryMb: 1024 })
    .build();
}

const host = (s: TopologySpec, name: string) => s.hosts.find((h) => h.name === name)!;

const cases: Array<{ what: string; mutate: (s: TopologySpec) => void; path: string; message: RegExp }> = [
  {
    what: 'an image that is not an image reference',
    mutate: (s) => {
      host(s, 'cli').image = 'My Image';
    },
    path: 'hosts[3].image',
    message: /image "My Image"; allowed: an image reference such as mlfo:latest/,
  },
  {
    what: 'an empty command',
    mutate: (s) => {
      host(s, 'cli').command = [];
    },
    path: 'hosts[3].command',
    message: /command is empty; allowed: a list \[program, argument, …\]/,
  },
  {
    what: 'a command without a program',
    mutate: (s) => {
      host(s, 'cli').command = ['', 'x'];
    },
    path: 'hosts[3].command[0]',
    message: /command\[0\] ""; allowed: text \(the program first\)/,
  },
  {
    what: 'duplicate host name',
    mutate: (s) => {
      host(s, 'cli').name = 'srv';
    },
    path: 'hosts[3].name',
    message: /host name srv is already the name of the host at hosts\[2\]/,
  },
  {
    what: 'host and switch sharing a name',
    mutate: (s) => {
      s.switches[1]!.name = 'cloud';
    },
    path: 'switches[1].name',
    message:
      /switch name cloud is already the name of the host at hosts\[0\]; allowed: each host and switch name once/,
  },
  {
    what: 'bad name characters',
    mutate: (s) => {
      s.switches.push({ name: 'my switch' });
    },
    path: 'switches[2].name',
    message: /switch name "my switch"; allowed: letters, digits/,
  },
  {
    what: 'duplicate address',
    mutate: (s) => {
      host(s, 'cli').ip = '10.0.0.3/24';
    },
    path: 'hosts[3].ip',
    message: /host cli: address 10\.0\.0\.3 is already host srv's/,
  },
  {
    what: 'not an address',
    mutate: (s) => {
      host(s, 'cli').ip = '10.0.0.4';
    },
    path: 'hosts[3].ip',
    message: /host cli: ip "10\.0\.0\.4"; allowed: an IPv4 address with prefix length/,
  },
  {
    what: 'network address',
    mutate: (s) => {
      host(s, 'cli').ip = '10.0.0.0/24';
    },
    path: 'hosts[3].ip',
    message:
      /host cli: 10\.0\.0\.0\/24 is the network address of 10\.0\.0\.0\/24; allowed: 10\.0\.0\.1–10\.0\.0\.254/,
  },
  {
    what: 'broadcast address',
    mutate: (s) => {
      host(s, 'cli').ip = '10.0.0.255/24';
    },
    path: 'hosts[3].ip',
    message: /host cli: 10\.0\.0\.255\/24 is the broadcast address/,
  },
  {
    what: 'another subnet on the same segment',
    mutate: (s) => {
      host(s, 'cli').ip = '10.0.1.4/24';
    },
    path: 'hosts[3].ip',
    message:
      /host cli \(10\.0\.1\.4\/24, subnet 10\.0\.1\.0\/24\) shares an L2 segment with host cloud \(subnet 10\.0\.0\.0\/24\)/,
  },
  {
    what: 'unknown role',
    mutate: (s) => {
      (host(s, 'cli') as { role: string }).role = 'router';
    },
    path: 'hosts[3].role',
    message: /host cli: role "router"; allowed: mlfo-cloud, .*plain/,
  },
  {
    what: 'unknown link end',
    mutate: (s) => {
      s.links[1]!.b = 's9';
    },
    path: 'links[1].b',
    message: /link cloud–s9: b "s9" is not a host or switch/,
  },
  {
    what: 'link to itself',
    mutate: (s) => {
      s.links.push({ a: 's1', b: 's1' });
    },
    path: 'links[7]',
    message: /link s1–s1 connects s1 to itself/,
  },
  {
    what: 'switch loop',
    mutate: (s) => {
      s.links.push({ a: 's2', b: 's1' });
    },
    path: 'links[7]',
    message: /link s2–s1 closes a loop of switches/,
  },
  {
    what: 'interface name over 15 characters',
    mutate: (s) => {
      s.switches.push({ name: 'averylongswitch' });
      s.links.push({ a: 'averylongswitch', b: 's1' });
    },
    path: 'links[7].a',
    message:
      /interface name averylongswitch-eth0 of averylongswitch \(its link #0\) is 20 characters; allowed: at most 15/,
  },
  {
    what: 'zero bandwidth',
    mutate: (s) => {
      s.links[0]!.bandwidthMbps = 0;
    },
    path: 'links[0].bandwidthMbps',
    message: /link s1–s2: bandwidthMbps 0; allowed: a finite number > 0/,
  },
  {
    what: 'infinite bandwidth',
    mutate: (s) => {
      s.links[0]!.bandwidthMbps = Number.POSITIVE_INFINITY;
    },
    path: 'links[0].bandwidthMbps',
    message: /bandwidthMbps Infinity; allowed: a finite number > 0/,
  },
  {
    what: 'negative delay',
    mutate: (s) => {
      s.links[0]!.delayMs = -1;
    },
    path: 'links[0].delayMs',
    message: /link s1–s2: delayMs -1; allowed: a finite number ≥ 0 \(ms\)/,
  },
  {
    what: 'negative jitter in one direction',
    mutate: (s) => {
      s.links[0]!.ba = { jitterMs: -2 };
    },
    path: 'links[0].ba.jitterMs',
    message: /link s1–s2 \(s2→s1\): jitterMs -2/,
  },
  {
    what: 'loss over 100',
    mutate: (s) => {
      s.links[4]!.ab = { lossPercent: 101 };
    },
    path: 'links[4].ab.lossPercent',
    message: /link cli–s2 \(cli→s2\): lossPercent 101; allowed: a number in \[0, 100\]/,
  },
  {
    what: 'host in no network',
    mutate: (s) => {
      s.hosts.push({ name: 'lonely', ip: '10.0.0.9/24', role: 'plain' });
    },
    path: 'hosts[6]',
    message: /host lonely is in no link/,
  },
  {
    what: 'traffic on a host that is not a traffic-source',
    mutate: (s) => {
      host(s, 'cli').traffic = { to: 'sink', rateMbps: 1 };
    },
    path: 'hosts[3].traffic',
    message: /host cli is fl-client; allowed: traffic only on traffic-source hosts/,
  },
  {
    what: 'traffic to an unknown host',
    mutate: (s) => {
      host(s, 'src').traffic = { to: 'nowhere', rateMbps: 1 };
    },
    path: 'hosts[4].traffic.to',
    message: /host src: traffic\.to "nowhere" is not another host/,
  },
  {
    what: 'traffic-source without traffic',
    mutate: (s) => {
      delete host(s, 'src').traffic;
    },
    path: 'hosts[4].traffic',
    message: /host src is a traffic-source without traffic/,
  },
  {
    what: 'parent on a non-edge host',
    mutate: (s) => {
      host(s, 'srv').parent = 'cloud';
    },
    path: 'hosts[2].parent',
    message: /host srv is fl-server; allowed: parent only on mlfo-edge hosts/,
  },
  {
    what: 'parent that is not an mlfo-cloud',
    mutate: (s) => {
      host(s, 'edge').parent = 'srv';
    },
    path: 'hosts[1].parent',
    message: /host edge: parent "srv" is not an mlfo-cloud host; allowed: cloud/,
  },
  {
    what: 'parent on another segment',
    mutate: (s) => {
      s.links.splice(0, 1);
    },
    path: 'hosts[1].parent',
    message: /host edge: parent cloud is on another L2 segment/,
  },
  {
    what: 'cpus not positive',
    mutate: (s) => {
      host(s, 'cli').cpus = 0;
    },
    path: 'hosts[3].cpus',
    message: /host cli: cpus 0; allowed: a number of cores > 0/,
  },
  {
    what: 'too little memory',
    mutate: (s) => {
      host(s, 'cli').memoryMb = 8;
    },
    path: 'hosts[3].memoryMb',
    message: /host cli: memoryMb 8; allowed: a number ≥ 16/,
  },
  {
    what: 'cohort on a non-FL host',
    mutate: (s) => {
      host(s, 'sink').cohort = 1;
    },
    path: 'hosts[5].cohort',
    message: /host sink is traffic-sink; allowed: cohort only on fl-server and fl-client/,
  },
  {
    what: 'published port taken twice',
    mutate: (s) => {
      host(s, 'cloud').publish = { '8000': 8001 };
    },
    path: 'hosts[1].publish.8000',
    message: /host edge: port 8001 on this machine is already published by host cloud/,
  },
  {
    what: 'instance on an unknown switch',
    mutate: (s) => {
      s.instances![0]!.switch = 's7';
    },
    path: 'instances[0].switch',
    message: /instance fog: switch "s7" is not a switch of this topology; allowed: s1, s2/,
  },
  {
    what: 'instance on a host instead of a switch',
    mutate: (s) => {
      s.instances![0]!.switch = 'cloud';
    },
    path: 'instances[0].switch',
    message: /instance fog: switch "cloud" is not a switch/,
  },
  {
    what: 'instance resources exceeded by its hosts',
    mutate: (s) => {
      s.instances![0]!.cpus = 1;
    },
    path: 'instances[0].cpus',
    message:
      /instance fog: its hosts ask for 2 cores in all \(srv 2\); allowed: at most the instance's cpus 1/,
  },
  {
    what: 'host naming an unknown instance',
    mutate: (s) => {
      host(s, 'cli').instance = 'edge9';
    },
    path: 'hosts[3].instance',
    message: /host cli: instance "edge9" is not defined; allowed: fog/,
  },
];

describe('validateSpec', () => {
  it('accepts the base topology', () => {
    assert.deepEqual(validateSpec(base()), []);
  });

  it('accepts a host image and command', () => {
    const spec = base();
    Object.assign(host(spec, 'cli'), {
      image: 'localhost:5000/team/flower-client:v1.2',
      command: ['python', '-m', 'client'],
    });
    assert.deepEqual(validateSpec(spec), []);
  });

  for (const c of cases) {
    it(`reports ${c.what}`, () => {
      const spec = base();
      c.mutate(spec);
      const problems = validateSpec(spec);
      const hit = problems.find((p) => c.message.test(p.message));
      assert.ok(
        hit,
        `no problem matching ${c.message} in:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`,
      );
      assert.equal(hit.path, c.path);
    });
  }

  it('allows a host linked directly to another host (as Mininet does)', () => {
    const spec = new TopologyBuilder('pair')
      .addHost('h1', { ip: '10.0.0.1/30', role: 'plain' })
      .addHost('h2', { ip: '10.0.0.2/30', role: 'plain' })
      .addLink('h1', 'h2', { bandwidthMbps: 10 })
      .build();
    assert.equal(spec.links.length, 1);
  });

  it('assertValid throws every problem at once, each on its own line', () => {
    const spec = base();
    host(spec, 'cli').cpus = -1;
    spec.links[0]!.delayMs = -1;
    assert.throws(
      () => assertValid(spec),
      (e: TopologyError) => {
        assert.ok(e instanceof TopologyError);
        assert.equal(e.problems.length, 2);
        assert.match(e.message, /^topology "t": hosts\[3\]\.cpus: host cli: cpus -1/m);
        assert.match(e.message, /^topology "t": links\[0\]\.delayMs: /m);
        return true;
      },
    );
  });

  it('the builder refuses an invalid spec', () => {
    assert.throws(
      () => new TopologyBuilder('x').addHost('h1', { ip: '10.0.0.1/24', role: 'plain' }).build(),
      /host h1 is in no link/,
    );
  });
});

describe('interfaceNames and linksNeedingNetem', () => {
  it('numbers each node’s interfaces from 0 in link order', () => {
    const names = interfaceNames(base());
    assert.deepEqual(names[0], { link: 0, a: 's1-eth0', b: 's2-eth0' });
    assert.deepEqual(names[1], { link: 1, a: 'cloud-eth0', b: 's1-eth1' });
    assert.deepEqual(names[6], { link: 6, a: 'sink-eth0', b: 's1-eth3' });
  });

  it('lists each direction that needs netem, with the per-direction override applied', () => {
    const spec = base();
    spec.links[0]!.ba = { delayMs: 0 };
    const netem = linksNeedingNetem(spec);
    assert.deepEqual(
      netem.map((n) => n.label),
      ['s1→s2 (links[0]): delay 5 ms', 'cli→s2 (links[4]): loss 1%'],
    );
    assert.equal(netem[0]?.interface, 's1-eth0');
    assert.equal(netem[1]?.interface, 'cli-eth0');
    assert.equal(netem[1]?.lossPercent, 1);
  });
});
