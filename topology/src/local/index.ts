// The local emulation backend: startLocalNetwork (spec → hosts as processes on 127.K.x.y, no
// shaping or limits), attachLocalNetwork (a run started by another process), cleanLocalRun
// (crash recovery from the run's state.json).
export { type AddressMap, listeningAddresses, mapAddresses, mappedSpec } from './address-map.ts';
export { cleanLocalRun } from './clean.ts';
export {
  attachLocalNetwork,
  InterruptedError,
  type LocalStartOptions,
  startLocalNetwork,
} from './network.ts';
export { FORWARDER_HOST, type LocalProcessRecord, type LocalRunState, readLocalState } from './state.ts';
