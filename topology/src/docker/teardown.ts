// Teardown of a docker run, shared by stop(), a failed start and crash recovery: the run's
// containers first (every container labelled `mlfo.run=<runId>`, found through the engine, so a
// run killed before it recorded a container's id leaves none), removed with what runs in them; then
// the netns teardown of the rest (processes left in the hosts' namespaces, veths, bridges, the
// /run/netns names of the containers' namespaces, sysctls). Nothing without the run's id or
// label is touched.

import { mapLimit } from '../../../common/map-limit.ts';
import type { TeardownReport } from '../network.ts';
import type { RunState } from '../netns/state.ts';
import { teardown } from '../netns/teardown.ts';
import { DockerEngine } from './engine-api.ts';

export const RUN_LABEL = 'mlfo.run';
export const HOST_LABEL = 'mlfo.host';
export const IP_LABEL = 'mlfo.ip';

export async function dockerTeardown(runId: string, state: RunState | undefined): Promise<TeardownReport> {
  const failures: string[] = [];
  let removedContainers = 0;
  try {
    const engine = new DockerEngine();
    // every container of the run carries its label from creation on, recorded or not
    const targets = (await engine.list({ [RUN_LABEL]: runId })).map((c) => c.id);
    await mapLimit(targets, 8, async (id) => {
      try {
        await engine.remove(id);
        removedContainers += 1;
      } catch (err) {
        failures.push(`container ${id}: ${(err as Error).message}`);
      }
    });
    const left = await engine.list({ [RUN_LABEL]: runId });
    if (left.length > 0) failures.push(`containers still there: ${left.map((c) => c.name).join(', ')}`);
  } catch (err) {
    failures.push(`containers: ${(err as Error).message}`);
  }
  const report = await teardown({ runId, ...(state ? { state } : {}), byTag: true });
  return {
    ...report,
    removed: { containers: removedContainers, ...report.removed },
    failures: [...failures, ...report.failures],
  };
}
