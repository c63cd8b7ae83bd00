// The local backend's entry in BACKENDS (../backend.ts).

import type { BackendModule } from '../network.ts';
import { cleanLocalRun } from './clean.ts';
import { attachLocalNetwork, startLocalNetwork } from './network.ts';

export const backend: BackendModule = {
  start: (spec, opts) =>
    startLocalNetwork(spec, {
      runId: opts.runId,
      runDir: opts.runDir,
      ...(opts.publish !== undefined ? { publish: opts.publish } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    }),
  attach: attachLocalNetwork,
  clean: cleanLocalRun,
};
