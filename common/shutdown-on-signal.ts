// How a long-running program of this project (MLFO, flower-adapter, traffic agent, forwarder) ends
// on SIGTERM or SIGINT: the first signal runs its close() once, then the process exits 0, or 1
// when close() fails or (with forceAfterMs) takes too long; later signals are ignored while it
// closes. Aborting an operation on a signal and carrying on (topology/src/start-signals.ts, the
// CLI's `up`) is a different thing and lives with its users.

export interface ShutdownOptions {
  /** called with the signal before close(), e.g. to log what is being closed */
  onSignal?: (signal: NodeJS.Signals) => void;
  /** exit 1 when close() has not settled after this long; no limit when absent */
  forceAfterMs?: number;
}

export function shutdownOnSignal(
  close: (signal: NodeJS.Signals) => Promise<void> | void,
  opts: ShutdownOptions = {},
): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    opts.onSignal?.(signal);
    if (opts.forceAfterMs !== undefined) setTimeout(() => process.exit(1), opts.forceAfterMs).unref();
    Promise.resolve()
      .then(() => close(signal))
      .then(
        () => process.exit(0),
        (e: unknown) => {
          console.error(e);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
