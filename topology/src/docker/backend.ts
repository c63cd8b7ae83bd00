// The docker backend's entry in BACKENDS (../backend.ts).

import type { BackendModule } from '../network.ts';
import { cleanDockerRun } from './clean.ts';
import { attachDockerNetwork, startDockerNetwork } from './network.ts';

export const backend: BackendModule = {
  // BackendStartOptions is a subset of the backend's own start options
  start: (spec, opts) => startDockerNetwork(spec, opts),
  attach: attachDockerNetwork,
  clean: cleanDockerRun,
};
