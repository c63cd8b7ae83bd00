// Calls from the server's round loop to its clients: one call guarded by a server-side deadline
// (so a proxy that never settles cannot stall a round), a round's calls fanned out concurrently
// and split into OK results and failures (Flower's fit_clients), and a failure in one line.

import type { ClientProxy, Status } from './types.ts';
import { Code } from './types.ts';
import { ClientCallError } from './strategy/strategy.ts';

/** Extra time past the call's own timeout before the server stops waiting for a proxy that ignores its deadline. */
const GUARD_GRACE_MS = 1000;

/**
 * One client call with the proxy's own deadline plus a server-side guard, so a proxy that never
 * settles cannot stall the round. A guard hit closes the client.
 */
export function guardedCall<T>(
  client: ClientProxy,
  phase: ClientCallError['phase'],
  call: () => Promise<T>,
  timeoutMs: number,
) {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close(`${phase} timed out after ${timeoutMs} ms`);
      reject(new ClientCallError(client, phase, new Error(`no reply within ${timeoutMs} ms`)));
    }, timeoutMs + GUARD_GRACE_MS);
    let p: Promise<T>;
    try {
      p = call();
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof ClientCallError ? e : new ClientCallError(client, phase, e));
      },
    );
  });
}

/** Sends every instruction concurrently; splits replies into OK results and failures (Flower's fit_clients). */
export async function fanOut<Ins, Res extends { status: Status }>(
  instructions: Array<[ClientProxy, Ins]>,
  phase: 'fit' | 'evaluate',
  call: (client: ClientProxy, ins: Ins) => Promise<Res>,
  timeoutMs: number,
): Promise<{ results: Array<[ClientProxy, Res]>; failures: Array<[ClientProxy, Res] | Error> }> {
  const settled = await Promise.allSettled(
    instructions.map(([client, ins]) => guardedCall(client, phase, () => call(client, ins), timeoutMs)),
  );
  const results: Array<[ClientProxy, Res]> = [];
  const failures: Array<[ClientProxy, Res] | Error> = [];
  settled.forEach((s, i) => {
    const client = instructions[i]![0];
    if (s.status === 'rejected') failures.push(s.reason as Error);
    else if (s.value.status.code === Code.OK) results.push([client, s.value]);
    else failures.push([client, s.value]);
  });
  return { results, failures };
}

export function failureText(f: [ClientProxy, { status: Status }] | Error): string {
  if (f instanceof Error) return f.message;
  const [client, res] = f;
  return `client ${client.cid} (${client.peer}) replied ${Code[res.status.code] ?? res.status.code}: ${res.status.message}`;
}
