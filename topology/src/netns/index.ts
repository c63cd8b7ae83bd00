// The netns emulation backend: startNetwork (spec → running network), attachNetwork (a run
// started by another process), cleanRun (crash recovery). The shared types come from ../network.ts.
export type {
  ExecOptions,
  HostProcess,
  IperfResult,
  Limits,
  LinkChange,
  NetworkStatus,
  PingReport,
  PublishedPort,
  ShapeChange,
  TeardownReport,
} from '../network.ts';
export { TeardownError } from '../network.ts';
export { cleanRun } from './clean.ts';
export {
  attachNetwork,
  InterruptedError,
  type StartedNetwork,
  startNetwork,
} from './network.ts';
export type { NetnsNetworkStatus } from './netns-network.ts';
export { NetemMissingError } from './preflight.ts';
export type { StartOptions } from './start-options.ts';
export { probeNetem } from './shaping.ts';
export { CommandError } from '../sh.ts';
export type { RunState } from './state.ts';
