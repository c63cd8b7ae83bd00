// The FL runtimes an adapter can run its sessions with, by name; the adapter picks one at start
// (--runtime, env FLOWER_ADAPTER_RUNTIME, default `ts`). A new runtime (e.g. one that spawns
// Python Flower): a class implementing FlRuntime (session.ts) in its own file, and one line here.

import type { FlRuntime } from './session.ts';
import { TsRuntime } from './ts-runtime.ts';

export const RUNTIMES = {
  ts: () => new TsRuntime(),
} satisfies Record<string, () => FlRuntime>;

export type RuntimeName = keyof typeof RUNTIMES;
export const RUNTIME_NAMES = Object.keys(RUNTIMES) as RuntimeName[];
export const DEFAULT_RUNTIME: RuntimeName = 'ts';

/** The runtime's name as given, checked; an unknown name is an error listing the known ones. */
export function runtimeName(name: string): RuntimeName {
  if (!Object.hasOwn(RUNTIMES, name)) {
    throw new Error(`unknown FL runtime '${name}'; known: ${RUNTIME_NAMES.join(', ')}`);
  }
  return name as RuntimeName;
}

export function createRuntime(name: string): FlRuntime {
  return RUNTIMES[runtimeName(name)]();
}
