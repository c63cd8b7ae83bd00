// The netns emulation backend: startNetwork (spec → running network), cleanRun (crash recovery).
export { cleanRun } from './clean.ts';
export type { Limits } from './cgroups.ts';
export {
  type ExecOptions,
  type HostProcess,
  type IperfResult,
  InterruptedError,
  type LinkChange,
  NetemMissingError,
  type NetworkStatus,
  type PingReport,
  type StartedNetwork,
  type StartOptions,
  startNetwork,
} from './network.ts';
export { probeNetem } from './shaping.ts';
export { CommandError } from './sh.ts';
export type { RunState } from './state.ts';
export { type TeardownReport, TeardownError } from './teardown.ts';
