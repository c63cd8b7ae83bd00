// The netns backend's entry in BACKENDS (../backend.ts).

import type { BackendModule } from '../network.ts';
import { cleanRun } from './clean.ts';
import { attachNetwork, startNetwork } from './network.ts';

export const backend: BackendModule = {
  // BackendStartOptions is a subset of the backend's own start options
  start: (spec, opts) => startNetwork(spec, opts),
  attach: attachNetwork,
  // netns also cleans by the run's tag when no state file survived (target is then the run id)
  clean: (target) => cleanRun(target),
};
