// The EmulatedNetwork conformance suite against the local backend (processes on 127.K.x.y).
import { attachLocalNetwork, cleanLocalRun, startLocalNetwork } from '../src/local/index.ts';
import { conformanceSuite } from './support/conformance.ts';

conformanceSuite('local', {
  start: (spec, opts) => startLocalNetwork(spec, { ...opts, log: () => undefined }),
  attach: attachLocalNetwork,
  clean: cleanLocalRun,
});
