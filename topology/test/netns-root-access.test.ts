// Choice of the root access leg (pure; no root needed): which switch, which address, when it is
// refused, and the forwarder's argument parsing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FORWARDER_PATH, forwarderArgs, isForwarderScript, parseForwarderArgs } from '../src/forwarder.ts';
import { planNetwork, rootNamePattern } from '../src/netns/plan.ts';
import { checkRoutes, cidrsOverlap, planRootAccess } from '../src/netns/root-access.ts';
import type { TopologySpec } from '../../common/topology-spec/topology-spec.ts';

const spec = (over: Partial<TopologySpec> = {}): TopologySpec => ({
  name: 't',
  hosts: [
    { name: 'a1', ip: '10.0.0.1/16', role: 'plain' },
    { name: 'a2', ip: '10.0.0.2/16', role: 'plain' },
    { name: 'b1', ip: '10.0.1.1/16', role: 'mlfo-edge' },
  ],
  switches: [{ name: 'edge' }, { name: 'core' }],
  links: [
    { a: 'b1', b: 'edge' },
    { a: 'a1', b: 'core' },
    { a: 'a2', b: 'core' },
    { a: 'edge', b: 'core' },
  ],
  ...over,
});

const decide = (s: TopologySpec, enabled = true) => planRootAccess(s, planNetwork(s, 'r1'), enabled);

test('leg: on the switch most hosts attach to, last usable address of the first host subnet', () => {
  const d = decide(spec());
  assert.equal(d.leg?.switch, 'core');
  assert.equal(d.leg?.address, '10.0.255.254/16');
  assert.equal(d.subnet, '10.0.0.0/16');
  assert.match(d.leg?.ifname ?? '', rootNamePattern(planNetwork(spec(), 'r1').tag));
  assert.match(d.leg?.peer ?? '', rootNamePattern(planNetwork(spec(), 'r1').tag));
  assert.deepEqual(d.warnings, []);
  const small = decide(
    spec({
      hosts: [
        { name: 'a1', ip: '192.168.7.9/24', role: 'plain' },
        { name: 'a2', ip: '192.168.7.10/24', role: 'plain' },
        { name: 'b1', ip: '192.168.7.11/24', role: 'plain' },
      ],
    }),
  );
  assert.equal(small.leg?.address, '192.168.7.254/24');
});

test('leg: on the switch of the first host that publishes ports', () => {
  const s = spec();
  s.hosts[2] = { name: 'b1', ip: '10.0.1.1/16', role: 'mlfo-edge', publish: { '8000': 8001 } };
  assert.equal(decide(s).leg?.switch, 'edge');
});

test('no leg when disabled or without switches, and the warning says so', () => {
  const off = decide(spec(), false);
  assert.equal(off.leg, null);
  assert.match(off.warnings.join(), /rootAccess: false/);
  const pair = decide({
    name: 'p',
    hosts: [
      { name: 'p1', ip: '10.9.0.1/24', role: 'plain' },
      { name: 'p2', ip: '10.9.0.2/24', role: 'plain' },
    ],
    switches: [],
    links: [{ a: 'p1', b: 'p2' }],
  });
  assert.equal(pair.leg, null);
  assert.match(pair.warnings.join(), /no switches/);
});

test('several subnets: a warning names the hosts the leg cannot reach', () => {
  const s = spec();
  s.hosts[2] = { name: 'b1', ip: '10.1.0.1/16', role: 'plain' };
  const d = decide(s);
  assert.equal(d.warnings.length, 1);
  assert.match(d.warnings[0] ?? '', /several subnets.*10\.0\.0\.0\/16.*b1 10\.1\.0\.1\/16/);
});

test('refused: the leg address taken by a host, a /31 subnet', () => {
  const s = spec();
  s.hosts[1] = { name: 'a2', ip: '10.0.255.254/16', role: 'plain' };
  assert.throws(() => decide(s), /10\.0\.255\.254.*host a2's address.*rootAccess: false/);
  const tiny = spec({
    hosts: [
      { name: 'a1', ip: '10.0.0.0/31', role: 'plain' },
      { name: 'a2', ip: '10.0.0.1/31', role: 'plain' },
      { name: 'b1', ip: '10.0.0.1/31', role: 'plain' },
    ],
  });
  assert.throws(() => decide(tiny), /\/31 subnet.*rootAccess: false/);
});

test('route overlap: names the route and its device, ignores the default route', () => {
  const routes = [
    { dst: 'default', dev: 'eth0' },
    { dst: '192.0.2.0/24', dev: 'eth0' },
  ];
  checkRoutes('10.0.0.0/16', 'a1', routes);
  assert.throws(
    () => checkRoutes('10.0.0.0/16', 'a1', [...routes, { dst: '10.0.0.0/8', dev: 'docker7' }]),
    /subnet 10\.0\.0\.0\/16 .*a1.*route 10\.0\.0\.0\/8 dev docker7.*another prefix\/addressing.*rootAccess: false/,
  );
  assert.throws(
    () => checkRoutes('10.0.0.0/16', 'a1', [{ dst: '10.0.3.4', dev: 'lo', table: 'local', type: 'local' }]),
    /local 10\.0\.3\.4 dev lo \(table local\)/,
  );
  assert.equal(cidrsOverlap('10.0.0.0/16', '10.1.0.0/16'), false);
  assert.equal(cidrsOverlap('10.0.0.0/16', '10.0.200.0/24'), true);
});

test('forwarder arguments: pairs round-trip; malformed ones are refused with the usage', () => {
  const pairs = [
    { listenHost: '127.0.0.1', listenPort: 8001, targetHost: '10.0.1.1', targetPort: 8000 },
    { listenHost: '127.0.0.1', listenPort: 9091, targetHost: '10.0.0.100', targetPort: 9090 },
  ];
  const args = forwarderArgs(pairs, { runId: 'r1' });
  assert.deepEqual(parseForwarderArgs([...args, '--report-fd', '3']), { runId: 'r1', reportFd: 3, pairs });
  assert.throws(() => parseForwarderArgs(['127.0.0.1:8001']), /expected listen\/target pairs.*\n.*usage/);
  assert.throws(() => parseForwarderArgs(['127.0.0.1:80001', '10.0.0.1:1']), /listen address.*1-65535/);
  assert.ok(isForwarderScript(FORWARDER_PATH));
  assert.ok(isForwarderScript('/x/dist/topology/src/forwarder.js'));
  assert.ok(!isForwarderScript('/x/my-forwarder.ts') && !isForwarderScript('127.0.0.1:8001'));
});
