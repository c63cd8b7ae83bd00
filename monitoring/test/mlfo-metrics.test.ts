// The MLFO's metric additions (mlfo/src/metrics.ts): intents by current state, read from the
// store at scrape time, and its host's interface counters; the live dashboard test scrapes them
// from real MLFO processes, this one checks the figures.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MlfoMetrics } from '../../mlfo/src/metrics.ts';

const line = (text: string, name: string, labels: string) =>
  new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1];

describe('MlfoMetrics', () => {
  it('mlfo_intents counts intents per state at each scrape, every state present, last values kept when the store fails', async () => {
    let states: string[] | Error = ['training', 'training', 'completed'];
    const m = new MlfoMetrics('edge', undefined, undefined, async () => {
      if (states instanceof Error) throw states;
      return states;
    });
    let text = await m.registry.metrics();
    assert.equal(line(text, 'mlfo_intents', 'role="edge",state="training"'), '2');
    assert.equal(line(text, 'mlfo_intents', 'role="edge",state="completed"'), '1');
    assert.equal(line(text, 'mlfo_intents', 'role="edge",state="accepted"'), '0');
    states = ['completed', 'completed', 'completed'];
    text = await m.registry.metrics();
    assert.equal(line(text, 'mlfo_intents', 'role="edge",state="training"'), '0');
    assert.equal(line(text, 'mlfo_intents', 'role="edge",state="completed"'), '3');
    states = new Error('Redis down');
    text = await m.registry.metrics();
    assert.equal(line(text, 'mlfo_intents', 'role="edge",state="completed"'), '3');
  });

  it('node_network_* carry the host’s interface counters', async () => {
    const m = new MlfoMetrics('cloud', undefined, undefined, undefined, () => [
      { device: 'eth0', rxBytes: 1000, rxPackets: 10, txBytes: 2000, txPackets: 20 },
      { device: 'lo', rxBytes: 5, rxPackets: 1, txBytes: 5, txPackets: 1 },
    ]);
    const text = await m.registry.metrics();
    assert.equal(line(text, 'node_network_receive_bytes_total', 'device="eth0"'), '1000');
    assert.equal(line(text, 'node_network_transmit_bytes_total', 'device="eth0"'), '2000');
    assert.equal(line(text, 'node_network_receive_packets_total', 'device="eth0"'), '10');
    assert.equal(line(text, 'node_network_transmit_packets_total', 'device="lo"'), '1');
    // by default the real /proc/net/dev: this machine has a loopback device
    const real = await new MlfoMetrics('cloud').registry.metrics();
    assert.match(real, /^node_network_receive_bytes_total\{device="lo"\} \d+$/m);
  });
});
