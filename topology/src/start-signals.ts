// SIGINT/SIGTERM during a network start, for both backends: while a start runs, the signals are
// caught rather than ending the process half-way; the start checks for them between its steps
// (and, where it awaits something long, while awaiting) and then removes what it made before it
// rethrows. `release()` restores the signals' usual effect.

export interface StartSignals {
  /** throws the backend's interruption error once a signal came; else reports the step as progress */
  step(name: string): void;
  /** awaits `p`, or throws the interruption error as soon as a signal arrives */
  interruptible<T>(p: Promise<T>): Promise<T>;
  /** stops catching the signals */
  release(): void;
}

export function catchStartSignals(
  progress: (step: string) => void,
  interruption: (signal: NodeJS.Signals) => Error,
): StartSignals {
  let interrupted: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted ??= sig;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    step(name) {
      if (interrupted) throw interruption(interrupted);
      progress(name);
    },
    async interruptible<T>(p: Promise<T>): Promise<T> {
      p.catch(() => undefined); // once interrupted, its later failure is of no interest
      if (interrupted) throw interruption(interrupted);
      const signalled = new Promise<never>((_, reject) => {
        wake = () => reject(interruption(interrupted ?? 'SIGINT'));
      });
      signalled.catch(() => undefined);
      try {
        return await Promise.race([p, signalled]);
      } finally {
        wake = undefined;
      }
    },
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Adds to a failed start's error what the cleanup after it could not remove. */
export function noteCleanupFailures(err: unknown, failures: readonly string[]): void {
  if (failures.length > 0 && err instanceof Error) {
    err.message += `\n(cleanup after the failure left problems: ${failures.join('; ')})`;
  }
}
