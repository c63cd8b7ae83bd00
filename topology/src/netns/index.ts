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
  NetemMissingError,
  type NetnsNetworkStatus,
  type StartedNetwork,
  type StartOptions,
  startNetwork,
} from './network.ts';
export { probeNetem } from './shaping.ts';
export { CommandError } from '../sh.ts';
export type { RunState } from './state.ts';
