// Test support: whether the docker tests run. They skip, saying why, when no Docker engine answers
// or the project images are missing; with MLFO_REQUIRE_DOCKER=1 (CI) that is a failure instead.

import { engineProblem, imageExists } from '../../src/docker/engine.ts';
import { BUILD_COMMAND } from '../../src/docker/images.ts';

/** undefined: run; a string: skip with this reason. Throws under MLFO_REQUIRE_DOCKER=1. */
export function dockerSkipReason(images: string[] = []): string | undefined {
  let reason: string | undefined = engineProblem() ?? undefined;
  if (reason === undefined) {
    const missing = images.filter((i) => !imageExists(i));
    if (missing.length > 0) reason = `image ${missing.join(', ')} missing (build with \`${BUILD_COMMAND}\`)`;
  }
  if (reason !== undefined && process.env.MLFO_REQUIRE_DOCKER === '1')
    throw new Error(`MLFO_REQUIRE_DOCKER=1 but ${reason}`);
  return reason;
}
