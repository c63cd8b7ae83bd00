// What startNetwork (network.ts) is asked for; the checks before start (preflight.ts) read it too.

export interface StartOptions {
  /** tags every resource of the run; [A-Za-z0-9_-], ≤ 48 characters */
  runId: string;
  /** where state.json and logs/ go */
  runDir: string;
  /** run links that ask for delay/jitter/loss without them when sch_netem is missing */
  linksWithoutDelay?: boolean;
  /** overrides the sch_netem probe (tests) */
  netemAvailable?: boolean;
  /** a veth from the root namespace into the topology, so this machine reaches the hosts (default true) */
  rootAccess?: boolean;
  /** forward hosts' `publish` ports to 127.0.0.1:<hostPort> (default true; needs the root access leg) */
  publish?: boolean;
  /** progress of long steps ("namespaces 60", …) */
  onProgress?: (step: string) => void;
  /** warnings and notices; console.warn by default */
  log?: (message: string) => void;
}
