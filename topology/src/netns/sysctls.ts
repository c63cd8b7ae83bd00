// Machine-wide sysctls a netns run needs (setRunSysctls), each recorded in the run state before it
// is written, and put back at teardown (restoreSysctls): bridged traffic not filtered by
// ip(6)tables, and an ARP table large enough for every host to know every other.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { NetworkPlan } from './plan.ts';
import { type RunState, type SysctlChange, writeState } from './state.ts';

const BRIDGE_NF = [
  '/proc/sys/net/bridge/bridge-nf-call-iptables',
  '/proc/sys/net/bridge/bridge-nf-call-ip6tables',
];

export function setRunSysctls(
  plan: NetworkPlan,
  state: RunState,
  runDir: string,
  log: (message: string) => void,
  step: (name: string) => void,
): void {
  if (plan.bridges.size > 0) {
    step('sysctl bridge-nf-call-iptables');
    for (const path of BRIDGE_NF) {
      if (!existsSync(path)) continue;
      const value = readFileSync(path, 'utf8').trim();
      if (value === '0') continue;
      state.sysctls.push({ path, previous: value, value: '0' });
      writeState(runDir, state);
      writeFileSync(path, '0');
      log(
        `note: set ${path.slice('/proc/sys/'.length).replaceAll('/', '.')}=0 (was ${value}) so bridged traffic ` +
          "is not filtered by ip(6)tables (dockerd's FORWARD DROP policy); restored on stop",
      );
    }
  }

  // The ARP table is one for all namespaces (gc_thresh* apply machine-wide): a full mesh of n
  // hosts needs ~n² entries, past gc_thresh3 (1024 by default) new neighbours fail silently.
  const neighNeed = 2 * plan.hosts.length * plan.hosts.length;
  for (const [name, want] of [
    ['gc_thresh1', Math.ceil(neighNeed / 4)],
    ['gc_thresh2', Math.ceil(neighNeed / 2)],
    ['gc_thresh3', neighNeed],
  ] as const) {
    const path = `/proc/sys/net/ipv4/neigh/default/${name}`;
    if (!existsSync(path)) continue;
    const value = readFileSync(path, 'utf8').trim();
    if (Number(value) >= want) continue;
    state.sysctls.push({ path, previous: value, value: String(want) });
    writeState(runDir, state);
    writeFileSync(path, String(want));
    log(
      `note: raised net.ipv4.neigh.default.${name} from ${value} to ${want} (ARP table for ${plan.hosts.length} hosts); restored on stop`,
    );
  }
}

/**
 * Puts back, newest first, the values the run changed, unless they were changed since or other
 * runs (`others`) still have bridges; returns how many were restored.
 */
export function restoreSysctls(
  changes: readonly SysctlChange[],
  others: readonly string[],
  warnings: string[],
  fail: (what: string, err: unknown) => void,
): number {
  let restored = 0;
  for (const c of [...changes].reverse()) {
    let current: string | undefined;
    try {
      current = readFileSync(c.path, 'utf8').trim();
    } catch {
      /* restore below reports it */
    }
    if (current !== c.value) {
      warnings.push(`left ${c.path} at ${current}: changed since this run set it to ${c.value}`);
      continue;
    }
    if (others.length > 0) {
      warnings.push(
        `left ${c.path} at ${c.value} (not restored to ${c.previous}): run(s) ${others.join(', ')} still have bridges`,
      );
      continue;
    }
    try {
      writeFileSync(c.path, c.previous);
      restored += 1;
    } catch (err) {
      fail(`restoring ${c.path} to ${c.previous}`, err);
    }
  }
  return restored;
}
