// Test support: what a netns run left on the machine (namespaces, root interfaces named or aliased
// with its tag, cgroups, live pids among those given), so tests can assert a teardown is complete.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { detectCgroups, runCgroupDirs } from '../../src/netns/cgroups.ts';
import { aliasPrefix, namespacePrefix, rootNamePattern, runTag } from '../../src/netns/plan.ts';
import { listNamespaces } from '../../src/netns/teardown.ts';
import { procStat } from '../../src/proc.ts';

export function netnsLeftovers(runId: string, pids: number[] = []): string[] {
  const out = listNamespaces().filter((n) => n.startsWith(namespacePrefix(runId)));
  const links = JSON.parse(spawnSync('ip', ['-j', 'link', 'show']).stdout.toString()) as {
    ifname: string;
    ifalias?: string;
  }[];
  const pattern = rootNamePattern(runTag(runId));
  for (const l of links)
    if (pattern.test(l.ifname) || l.ifalias?.startsWith(aliasPrefix(runId))) out.push(l.ifname);
  const layout = detectCgroups();
  if (layout) out.push(...runCgroupDirs(layout, runId).filter((d) => existsSync(d)));
  for (const p of pids) if (procStat(p)?.alive) out.push(`pid ${p}`);
  return out;
}

/** Why netns tests cannot run here, or undefined when they can. */
export function netnsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'netns backend needs Linux';
  if (process.getuid?.() !== 0) return 'netns backend needs root (namespaces, veths, bridges, cgroups)';
  const r = spawnSync('ip', ['netns', 'list']);
  if (r.error || r.status !== 0)
    return `\`ip netns\` unavailable: ${r.error?.message ?? r.stderr.toString()}`;
  if (spawnSync('iperf3', ['--version']).error) return 'iperf3 not installed';
  return undefined;
}
