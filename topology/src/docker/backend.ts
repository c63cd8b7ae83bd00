// The docker backend's entry in BACKENDS (../backend.ts).

import type { BackendModule } from '../network.ts';
import { cleanDockerRun } from './clean.ts';
import { attachDockerNetwork, startDockerNetwork } from './network.ts';

export const backend: BackendModule = {
  start: (spec, opts) =>
    startDockerNetwork(spec, {
      runId: opts.runId,
      runDir: opts.runDir,
      ...(opts.linksWithoutDelay !== undefined ? { linksWithoutDelay: opts.linksWithoutDelay } : {}),
      ...(opts.rootAccess !== undefined ? { rootAccess: opts.rootAccess } : {}),
      ...(opts.publish !== undefined ? { publish: opts.publish } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    }),
  attach: attachDockerNetwork,
  clean: cleanDockerRun,
};
