// Port publishing of a netns run: which hosts' ports the run's forwarder (../forwarder.ts) takes on
// 127.0.0.1 (publishPlan, decided before anything is created), and starting that forwarder in the
// root namespace (publishPorts), recorded in the run state.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ForwardPair, startForwarder } from '../forwarder.ts';
import { procStat } from '../proc.ts';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { ROOT_HOST, type RunState, writeState } from './state.ts';

export type PublishPair = ForwardPair & { host: string };

/** The forwarder's pairs, or why there are none although the spec publishes ports. */
export function publishPlan(
  spec: TopologySpec,
  hasLeg: boolean,
  enabled: boolean,
): { pairs: PublishPair[]; warnings: string[] } {
  const pairs: PublishPair[] = [];
  for (const h of spec.hosts) {
    for (const [port, hostPort] of Object.entries(h.publish ?? {})) {
      pairs.push({
        host: h.name,
        listenHost: '127.0.0.1',
        listenPort: hostPort,
        targetHost: h.ip.split('/')[0] ?? '',
        targetPort: Number(port),
      });
    }
  }
  if (pairs.length === 0) return { pairs, warnings: [] };
  const list = pairs.map((p) => `${p.host}:${p.targetPort} as 127.0.0.1:${p.listenPort}`).join(', ');
  if (!enabled) return { pairs: [], warnings: [`ports not published (publish: false): ${list}`] };
  if (!hasLeg) {
    return {
      pairs: [],
      warnings: [
        `ports not published: forwarding needs the root access leg, which this run has not (${list})`,
      ],
    };
  }
  return { pairs, warnings: [] };
}

/** Starts the run's forwarder (recorded in the state before it reports); a port it cannot take is a warning. */
export async function publishPorts(
  pairs: PublishPair[],
  state: RunState,
  runDir: string,
  log: (message: string) => void,
): Promise<void> {
  const logFile = join(runDir, 'logs', 'forwarder.log');
  mkdirSync(join(runDir, 'logs'), { recursive: true });
  const { report } = await startForwarder(pairs, {
    logFile,
    runId: state.runId,
    onSpawn: (pid, argv) => {
      state.processes.push({
        host: ROOT_HOST,
        pid,
        startTime: procStat(pid)?.startTime ?? '',
        argv,
        logFile,
        detached: true,
      });
      writeState(runDir, state);
    },
  });
  const hostOf = (p: ForwardPair) =>
    pairs.find(
      (q) => q.listenPort === p.listenPort && q.targetHost === p.targetHost && q.targetPort === p.targetPort,
    )?.host ?? '?';
  state.published = report.listening.map((p) => ({
    host: hostOf(p),
    port: p.targetPort,
    hostPort: p.listenPort,
  }));
  for (const f of report.failed) {
    const w = `${hostOf(f.pair)}:${f.pair.targetPort} not published: 127.0.0.1:${f.pair.listenPort} is not free (${f.reason})`;
    state.warnings.push(w);
    log(`warning: ${w}`);
  }
  writeState(runDir, state);
}
