// Topology YAML: the same spec as the builder, a lossless round trip, and located errors
// (file:line:column and field path) for syntax, shape, unknown keys and validation problems.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedTopology } from '../src/generators/seed.ts';
import { TopologyBuilder } from '../src/spec/builder.ts';
import { parseTopologyYaml, toYaml } from '../../common/topology-spec/spec-yaml.ts';
import { TopologyError } from '../../common/topology-spec/topology-error.ts';

const yaml = `name: demo
hosts:
  - {name: cloud.0, ip: 10.0.0.1/16, role: mlfo-cloud, memoryMb: 512}
  - name: mo.1
    ip: 10.0.1.1/16
    role: mlfo-edge
    parent: cloud.0
    publish: {8000: 8001}
    env: {LOG_LEVEL: debug}
  - {name: fed.1, ip: 10.0.0.101/16, role: fl-server, cohort: 1, cpus: 2, instance: cloud}
  - {name: fc.10, ip: 10.0.1.10/16, role: fl-client, cpus: 0.5}
switches:
  - {name: aggsw10}
  - {name: swEdge12}
links:
  - {a: cloud.0, b: aggsw10, bandwidthMbps: 500}
  - {a: fed.1, b: aggsw10, bandwidthMbps: 500}
  - {a: swEdge12, b: aggsw10, bandwidthMbps: 500, delayMs: 12, ba: {jitterMs: 1, lossPercent: 0.5}}
  - {a: mo.1, b: swEdge12}
  - {a: fc.10, b: swEdge12, bandwidthMbps: 100}
instances:
  - {name: cloud, kind: cloud, switch: aggsw10, cpus: 4}
`;

const built = () =>
  new TopologyBuilder('demo')
    .addHost('cloud.0', { ip: '10.0.0.1/16', role: 'mlfo-cloud', memoryMb: 512 })
    .addHost('mo.1', {
      ip: '10.0.1.1/16',
      role: 'mlfo-edge',
      parent: 'cloud.0',
      publish: { '8000': 8001 },
      env: { LOG_LEVEL: 'debug' },
    })
    .addHost('fed.1', { ip: '10.0.0.101/16', role: 'fl-server', cohort: 1, cpus: 2, instance: 'cloud' })
    .addHost('fc.10', { ip: '10.0.1.10/16', role: 'fl-client', cpus: 0.5 })
    .addSwitch('aggsw10')
    .addSwitch('swEdge12')
    .addLink('cloud.0', 'aggsw10', { bandwidthMbps: 500 })
    .addLink('fed.1', 'aggsw10', { bandwidthMbps: 500 })
    .addLink('swEdge12', 'aggsw10', {
      bandwidthMbps: 500,
      delayMs: 12,
      ba: { jitterMs: 1, lossPercent: 0.5 },
    })
    .addLink('mo.1', 'swEdge12')
    .addLink('fc.10', 'swEdge12', { bandwidthMbps: 100 })
    .addInstance('cloud', { kind: 'cloud', switch: 'aggsw10', cpus: 4 })
    .build();

function problemsOf(text: string): string[] {
  try {
    parseTopologyYaml(text, 'topo.yaml');
  } catch (err) {
    assert.ok(err instanceof TopologyError, String(err));
    return err.message.split('\n');
  }
  assert.fail('expected a TopologyError');
}

describe('topology YAML', () => {
  it('parses to exactly the spec the builder produces', () => {
    assert.deepStrictEqual(parseTopologyYaml(yaml, 'demo.yaml').spec, built());
  });

  it('round-trips through toYaml', () => {
    for (const spec of [built(), seedTopology(), seedTopology({ delays: false, cohortSizes: [3, 2] })]) {
      const text = toYaml(spec);
      assert.deepStrictEqual(parseTopologyYaml(text).spec, spec);
      assert.equal(toYaml(parseTopologyYaml(text).spec), text);
    }
  });

  it('writes one host or link per line', () => {
    const text = toYaml(built());
    assert.match(
      text,
      /^ {2}- \{name: fed\.1, ip: 10\.0\.0\.101\/16, role: fl-server, cpus: 2, cohort: 1, instance: cloud\}$/m,
    );
    assert.match(
      text,
      /^ {2}- \{a: swEdge12, b: aggsw10, bandwidthMbps: 500, delayMs: 12, ba: \{jitterMs: 1, lossPercent: 0\.5\}\}$/m,
    );
  });

  it('reads a host image and command (docker backend), and locates a command that is not a list of text', () => {
    const text = yaml.replace(
      '{name: fc.10, ip: 10.0.1.10/16, role: fl-client, cpus: 0.5}',
      '{name: fc.10, ip: 10.0.1.10/16, role: fl-client, cpus: 0.5, image: mlfo-base:latest, command: [node, -e, "1"]}',
    );
    const { spec } = parseTopologyYaml(text, 'demo.yaml');
    const fc = spec.hosts.find((h) => h.name === 'fc.10');
    assert.equal(fc?.image, 'mlfo-base:latest');
    assert.deepEqual(fc?.command, ['node', '-e', '1']);
    assert.deepEqual(parseTopologyYaml(toYaml(spec), 'again.yaml').spec, spec);
    const bad = problemsOf(text.replace('command: [node, -e, "1"]', 'command: [node, {x: 1}]'));
    assert.match(
      bad[0] ?? '',
      /^topo\.yaml:11:\d+: hosts\[3\]\.command\[1\]: got a mapping; expected a text argument/,
    );
  });

  it('records where each field sits', () => {
    const { positions } = parseTopologyYaml(yaml, 'demo.yaml');
    assert.deepEqual(positions['hosts[1].parent'], { line: 7, column: 5 });
    assert.deepEqual(positions['links[2].delayMs'], { line: 18, column: 51 });
  });

  it('rejects unknown keys with the closest allowed one, file:line:column and path', () => {
    const lines = problemsOf(yaml.replace('cpus: 0.5', 'cpu: 0.5').replace('delayMs: 12', 'delay: 12'));
    assert.deepEqual(lines, [
      'topo.yaml:11:54: hosts[3].cpu: unknown key "cpu" (did you mean cpus?); allowed: name, ip, role, cpus, memoryMb, env, image, command, cohort, instance, traffic, parent, publish',
      'topo.yaml:18:51: links[2].delay: unknown key "delay" (did you mean delayMs?); allowed: a, b, bandwidthMbps, delayMs, jitterMs, lossPercent, ab, ba',
    ]);
  });

  it('rejects values of the wrong kind', () => {
    const lines = problemsOf(
      yaml.replace('bandwidthMbps: 100', 'bandwidthMbps: 100M').replace('name: demo', 'name: [x]'),
    );
    assert.match(lines[0] ?? '', /^topo\.yaml:1:7: name: got a list; expected a name or text$/);
    assert.match(
      lines[1] ?? '',
      /^topo\.yaml:20:44: links\[4\]\.bandwidthMbps: got string "100M"; expected a number \(Mbit\/s\)$/,
    );
  });

  it('locates validation problems in the file', () => {
    const lines = problemsOf(
      yaml
        .replace('{a: fc.10, b: swEdge12', '{a: fc.10, b: swEdge99')
        .replace('role: fl-client', 'role: client'),
    );
    assert.deepEqual(lines, [
      'topo.yaml:11:37: hosts[3].role: host fc.10: role "client"; allowed: mlfo-cloud, mlfo-edge, fl-server, fl-client, prometheus, traffic-source, traffic-sink, plain',
      'topo.yaml:20:16: links[4].b: link fc.10–swEdge99: b "swEdge99" is not a host or switch of this topology',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const lines = problemsOf('name: x\nhosts: [\n');
    assert.match(lines[0] ?? '', /^topo\.yaml:\d+:\d+: not valid YAML/);
  });

  it('requires hosts', () => {
    assert.deepEqual(problemsOf('name: x\nswitches: []\n'), [
      'topo.yaml:1:1: hosts: missing; expected a list',
    ]);
  });
});
