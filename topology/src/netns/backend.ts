// The netns backend's entry in BACKENDS (../backend.ts).

import type { BackendModule } from '../network.ts';
import { cleanRun } from './clean.ts';
import { attachNetwork, startNetwork } from './network.ts';

export const backend: BackendModule = {
  start: (spec, opts) =>
    startNetwork(spec, {
      runId: opts.runId,
      runDir: opts.runDir,
      ...(opts.linksWithoutDelay !== undefined ? { linksWithoutDelay: opts.linksWithoutDelay } : {}),
      ...(opts.rootAccess !== undefined ? { rootAccess: opts.rootAccess } : {}),
      ...(opts.publish !== undefined ? { publish: opts.publish } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    }),
  attach: attachNetwork,
  // netns also cleans by the run's tag when no state file survived (target is then the run id)
  clean: (target) => cleanRun(target),
};
