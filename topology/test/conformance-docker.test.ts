// The EmulatedNetwork conformance suite against the docker backend (every host a container of the
// project image, linked as on netns); skipped, saying why, where no Docker engine answers or the
// image is missing (a failure instead under MLFO_REQUIRE_DOCKER=1).
import { cleanDockerRun } from '../src/docker/clean.ts';
import { PROJECT_IMAGE } from '../src/docker/images.ts';
import { attachDockerNetwork, startDockerNetwork } from '../src/docker/network.ts';
import { conformanceSuite } from './support/conformance.ts';
import { dockerSkipReason } from './support/docker.ts';

const skip = process.getuid?.() !== 0 ? 'needs root' : dockerSkipReason([PROJECT_IMAGE]);
conformanceSuite('docker', {
  start: (spec, opts) => startDockerNetwork(spec, { ...opts, log: () => undefined }),
  attach: attachDockerNetwork,
  clean: cleanDockerRun,
  ...(skip ? { skip } : {}),
});
