// Sets up TensorFlow.js once per process: tfjs-core + tfjs-layers on the wasm backend (SIMD,
// single thread), or the pure-JS cpu backend when wasm cannot start. Every other ml module
// imports tf from here, so the backend is chosen in one place.
// MLFO_TF_BACKEND=cpu|wasm forces a backend (wasm then fails loudly instead of falling back).

import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainKernels } from './wasm-train-kernels.ts';

export { tf, tfl };

export type TfBackendName = 'wasm' | 'cpu';

let ready: Promise<{ backend: string }> | undefined;

/** Idempotent: every call returns the same promise. */
export function initTf(): Promise<{ backend: string }> {
  ready ??= setUp();
  return ready;
}

function requestedBackend(): TfBackendName | undefined {
  const v = process.env['MLFO_TF_BACKEND'];
  if (v === undefined || v === '') return undefined;
  if (v === 'cpu' || v === 'wasm') return v;
  throw new Error(
    `MLFO_TF_BACKEND=${JSON.stringify(v)} is not a known backend; allowed: cpu, wasm (or unset)`,
  );
}

async function setUp(): Promise<{ backend: string }> {
  const wanted = requestedBackend();
  if (wanted !== 'cpu') {
    try {
      // The .wasm binaries sit next to the package's node entry file (dist/); resolving it
      // through node makes this independent of the process's cwd.
      const require = createRequire(import.meta.url);
      const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
      setWasmPaths(`${dist}/`);
      setThreadsCount(1);
      registerWasmTrainKernels();
      const before = {
        uncaughtException: process.listeners('uncaughtException'),
        unhandledRejection: process.listeners('unhandledRejection'),
      };
      const ok = await tf.setBackend('wasm');
      // Emscripten's glue installs handlers that rethrow every uncaught error, which prints a
      // screenful of minified wasm glue instead of the real stack; node's defaults do the same job.
      for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
        const known: unknown[] = before[event];
        for (const l of process.listeners(event as 'uncaughtException')) {
          if (!known.includes(l)) process.removeListener(event, l);
        }
      }
      if (!ok) throw new Error('tf.setBackend("wasm") returned false');
      await tf.ready();
      return { backend: tf.getBackend() };
    } catch (err) {
      if (wanted === 'wasm') {
        throw new Error(`MLFO_TF_BACKEND=wasm but the wasm backend failed to start: ${String(err)}`);
      }
      console.warn(`[mlfo/ml] wasm backend unavailable (${String(err)}); falling back to the cpu backend`);
    }
  }
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Error('neither the wasm nor the cpu tfjs backend could be started');
  await tf.ready();
  quietCpuBackend();
  return { backend: tf.getBackend() };
}

/** The cpu backend prints a "install tfjs-node" banner on first use; we cannot (no native binaries). */
export function quietCpuBackend(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}
