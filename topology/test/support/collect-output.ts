// Test support: the stdout of a child process, gathered until a pattern shows up in it or the
// child exits.

import type { ChildProcess } from 'node:child_process';

/** Resolves with the child's stdout so far once `until` matches it, or with all of it at exit. */
export function collect(child: ChildProcess, until?: RegExp): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (until?.test(out)) resolve(out);
    });
    child.on('exit', () => resolve(out));
  });
}
