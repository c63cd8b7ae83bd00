// The EmulatedNetwork conformance suite against the netns backend (namespaces, bridges, veths);
// skipped, saying why, where it cannot run.
import { spawnSync } from 'node:child_process';
import { attachNetwork, cleanRun, startNetwork } from '../src/netns/index.ts';
import { conformanceSuite } from './support/conformance.ts';

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root';
  const r = spawnSync('ip', ['netns', 'list']);
  if (r.error || r.status !== 0) return `needs \`ip netns\`: ${r.error?.message ?? r.stderr.toString()}`;
  return undefined;
}

const skip = skipReason();
conformanceSuite('netns', {
  start: (spec, opts) => startNetwork(spec, { ...opts, log: () => undefined }),
  attach: attachNetwork,
  clean: (target) => cleanRun(target),
  ...(skip ? { skip } : {}),
});
