// The TCP info reader of the flower-adapter (flower-adapter/src/tcp-info.ts): the `ss` parser on
// output captured on this project's Debian 12 machine (fixtures/), then live: real TCP connections
// of this process read through `ss`, a connection of another process left out, and the per-flow
// metrics in an AdapterMetrics registry.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AdapterMetrics } from '../../flower-adapter/src/metrics.ts';
import {
  normaliseEndpoint,
  parseSsTcpInfo,
  ssArgs,
  TcpFlowReader,
} from '../../flower-adapter/src/tcp-info.ts';

const fixture = (name: string) =>
  readFileSync(join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', name), 'utf8');

describe('parseSsTcpInfo on captured ss output', () => {
  it('ss -tine state established: three flows (IPv4, IPv4-mapped, IPv6) with inode and TCP info', () => {
    const flows = parseSsTcpInfo(fixture('ss-tine-established.txt'));
    assert.deepEqual(
      flows.map((f) => [f.local, f.peer, f.inode]),
      [
        ['127.0.0.1:48492', '127.0.0.1:46000', 15254],
        ['127.0.0.1:48494', '127.0.0.1:46000', 15255],
        ['[::1]:40244', '[::1]:46000', 15256],
      ],
    );
    const f = flows[0]!;
    assert.equal(f.rttMs, 0.465);
    assert.equal(f.rttVarMs, 0.738);
    assert.equal(f.minRttMs, 0.018);
    assert.equal(f.cwnd, 14);
    assert.equal(f.ssthresh, 8);
    assert.equal(f.mss, 47616);
    assert.equal(f.bytesSent, 1310720);
    assert.equal(f.bytesAcked, 1310721);
    assert.equal(f.bytesReceived, 200000);
    assert.equal(f.deliveryRateBps, 22407529408);
    assert.equal(f.retransTotal, undefined);
    assert.deepEqual(
      flows.map((x) => [x.cwnd, x.rttMs]),
      [
        [14, 0.465],
        [12, 0.298],
        [18, 0.219],
      ],
    );
    // no ssthresh on the third line: absent, not borrowed from a neighbour
    assert.equal(flows[2]!.ssthresh, undefined);
  });

  it('ss -tin with a State column and without -e: same figures, no inode', () => {
    const flows = parseSsTcpInfo(fixture('ss-tin-all-states.txt'));
    assert.deepEqual(
      flows.map((f) => [f.local, f.peer, f.inode, f.cwnd, f.rttMs]),
      [
        ['127.0.0.1:48492', '127.0.0.1:46000', undefined, 14, 0.465],
        ['127.0.0.1:48494', '127.0.0.1:46000', undefined, 12, 0.298],
        ['[::1]:40244', '[::1]:46000', undefined, 18, 0.219],
      ],
    );
  });

  it('a congested flow between namespaces (tbf 20 Mbit/s): retransmissions, timer field, joined header', () => {
    const [f, ...rest] = parseSsTcpInfo(fixture('ss-tine-netns-retrans.txt'));
    assert.equal(rest.length, 0);
    assert.equal(f!.local, '10.77.1.10:37664');
    assert.equal(f!.peer, '10.77.1.101:6000');
    assert.equal(f!.inode, 15362);
    assert.equal(f!.rttMs, 4.837);
    assert.equal(f!.cwnd, 20);
    assert.equal(f!.ssthresh, 142);
    assert.equal(f!.retransTotal, 2105);
    assert.equal(f!.bytesAcked, 6985153);
  });

  it('no sockets, headers only, junk: no flows and no exception', () => {
    assert.deepEqual(parseSsTcpInfo(''), []);
    assert.deepEqual(parseSsTcpInfo('Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n'), []);
    assert.deepEqual(parseSsTcpInfo('\t cwnd:10 rtt:1/1\nnonsense here\n'), []);
    const [f] = parseSsTcpInfo('0 0 10.0.1.10:1234 10.0.0.101:6000\n\t cwnd:x rtt:abc bytes_acked: send\n');
    assert.deepEqual(f, { local: '10.0.1.10:1234', peer: '10.0.0.101:6000' });
  });

  it('endpoints and the ss filter', () => {
    assert.equal(normaliseEndpoint('[::ffff:10.0.0.101]:6000'), '10.0.0.101:6000');
    assert.equal(normaliseEndpoint('[fe80::1%eth0]:6000'), '[fe80::1]:6000');
    assert.equal(normaliseEndpoint('::1:6000'), '[::1]:6000');
    assert.deepEqual(ssArgs([6000, 6001]), [
      '-tine',
      'state',
      'established',
      '( dport = :6000 or dport = :6001 )',
    ]);
  });
});

describe('TcpFlowReader on live connections', { timeout: 30_000 }, () => {
  let server: Server;
  let port: number;
  const accepted: Socket[] = [];
  let mine: Socket;
  let other: ReturnType<typeof spawn>;

  before(async () => {
    server = createServer((s) => {
      accepted.push(s);
      s.on('data', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    mine = connect(port, '127.0.0.1');
    await new Promise((r) => mine.once('connect', r));
    mine.write(Buffer.alloc(1 << 20));
    // another process's connection to the same server: not this adapter's flow
    other = spawn(
      process.execPath,
      [
        '-e',
        `const s=require('net').connect(${port},'127.0.0.1');s.on('connect',()=>console.log('up'));setInterval(()=>{},1e6)`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((ok, fail) => {
      other.stdout!.once('data', () => ok());
      other.once('exit', (c) => fail(new Error(`helper exited ${c}`)));
    });
  });

  after(async () => {
    other.kill('SIGKILL');
    mine.destroy();
    for (const s of accepted) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it('reports this process’s connection with its session, cwnd, RTT and bytes acked; not the other process’s', async () => {
    const reader = new TcpFlowReader(() => [{ session: 'cli-a', server: `127.0.0.1:${port}` }], { ttlMs: 0 });
    // the megabyte is acknowledged within moments on loopback; poll until ss shows it
    let flows = await reader.flows();
    for (let i = 0; i < 100 && !((flows[0]?.bytesAcked ?? 0) >= 1 << 20); i++) {
      await new Promise((r) => setTimeout(r, 20));
      flows = await reader.flows();
    }
    assert.equal(flows.length, 1, JSON.stringify(flows));
    const f = flows[0]!;
    assert.equal(f.session, 'cli-a');
    assert.equal(f.peer, `127.0.0.1:${port}`);
    assert.equal(f.local, `127.0.0.1:${mine.localPort}`);
    assert.ok(f.cwnd! > 0);
    assert.ok(f.rttMs! > 0);
    assert.ok(f.bytesAcked! >= 1 << 20, `bytes acked ${f.bytesAcked}`);

    const all = await new TcpFlowReader(() => [{ session: 'x', server: `127.0.0.1:${port}` }], {
      ttlMs: 0,
      ownOnly: false,
    }).flows();
    assert.equal(all.length, 2, 'without the own-socket filter both processes’ connections show');
  });

  it('a server name is resolved; no client sessions means no ss call and no flows', async () => {
    const byName = await new TcpFlowReader(() => [{ session: 's', server: `localhost:${port}` }], {
      ttlMs: 0,
    }).flows();
    assert.equal(byName.length, 1);
    assert.equal(byName[0]!.session, 's');
    let errors = 0;
    const none = new TcpFlowReader(() => [], { ssPath: '/nonexistent/ss', onError: () => errors++ });
    assert.deepEqual(await none.flows(), []);
    assert.equal(errors, 0);
  });

  it('a missing ss is reported through onError and yields no flows', async () => {
    const seen: string[] = [];
    const r = new TcpFlowReader(() => [{ session: 's', server: `127.0.0.1:${port}` }], {
      ssPath: '/nonexistent/ss',
      onError: (e) => seen.push(e.message),
    });
    assert.deepEqual(await r.flows(), []);
    assert.equal(seen.length, 1);
    assert.match(seen[0]!, /\/nonexistent\/ss -tine state established/);
  });

  it('AdapterMetrics exports fl_tcp_* per flow, and fl_tcp_info_errors_total', async () => {
    const m = new AdapterMetrics('fc.test', () => [], {
      flTargets: () => [{ session: 'cli-a', server: `127.0.0.1:${port}` }],
    });
    // only our lines, so a failure message stays readable
    const text = (await m.registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('fl_tcp_'))
      .join('\n');
    const labels = `session="cli-a",server="127.0.0.1:${port}",local="127.0.0.1:${mine.localPort}",node="fc.test"`;
    for (const name of [
      'fl_tcp_rtt_seconds',
      'fl_tcp_cwnd_segments',
      'fl_tcp_bytes_acked_total',
      'fl_tcp_bytes_received_total',
      'fl_tcp_retransmits_total',
    ]) {
      assert.match(text, new RegExp(`^${name}\\{${labels.replace(/[.]/g, '\\.')}\\} [0-9.e-]+$`, 'm'), name);
    }
    const rtt = Number(/^fl_tcp_rtt_seconds\{[^}]*\} (\S+)$/m.exec(text)![1]);
    assert.ok(rtt > 0 && rtt < 1, `rtt ${rtt} s`);
    assert.match(text, /^fl_tcp_info_errors_total\{node="fc.test"\} 0$/m);
    const none = await new AdapterMetrics('n', () => []).registry.metrics();
    assert.doesNotMatch(none, /fl_tcp_/, 'without flTargets no TCP metrics');
  });
});
