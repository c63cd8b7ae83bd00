// Training kernels for the tfjs wasm backend. wasm ships no Conv2DBackpropFilter (so no conv
// layer could train), and its Conv2DBackpropInput, MaxPoolGrad and transposed-A BatchMatMul are
// plain loops, several times slower than its XNNPACK forward conv. Registered by initTf before the
// backend starts; cases outside the fast paths go to the backend's own kernel.
//
// - Conv2DBackpropFilter: dW[i,j,ci,co] = Σ_{b,oh,ow} x[b,oh+i,ow+j,ci]·dy[b,oh,ow,co] is itself a
//   forward Conv2D of x transposed to [ci,H,W,b] (batch↔channels) with dy transposed to
//   [OH,OW,b,co] as the filter, giving [ci,kh,kw,co]; a stride becomes a dilation.
// - Conv2DBackpropInput (stride 1): a forward Conv2D of dy, padded by k-1-pad, with the filter
//   flipped spatially and its in/out channels swapped.
// - MaxPoolGrad: a JS loop over the heap (first window maximum takes dy, as the cpu backend does).
// - BatchMatMul with transposeA: an explicit Transpose first, then the XNNPACK path.
// Measured here (2 shared cores, wasm SIMD, one thread; ms, batch 32, 3x3 kernels):
//   filter grad, x [32,13,13,32]→64: this 11; Conv3DBackpropFilterV2 with depth 1: 300;
//     JS loop on the heap: 250; im2col slices+concat+MatMul(transposeA): 110, with Transpose: 24;
//     the cpu backend's kernel: ~20,000. x [32,28,28,1]→32: this 6, others 14–35.
//   input grad [32,11,11,64]→[32,13,13,32]: this 12, wasm's own 97.  MaxPoolGrad 26x26x32: 10 vs 28.
//   Whole `complex` training step: 186 ms with only the filter grad added, ~63–80 with all four.
// Max |diff| against the cpu backend is ~1e-5 relative (test/models.test.ts checks it).

import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type Info = tf.TensorInfo;
interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}

function run(name: string, backend: BackendWasm, inputs: Record<string, Info>, attrs: object): Info {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`the wasm backend has no ${name} kernel, which Conv2DBackpropFilter needs`);
  return kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as Info;
}

function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): Info {
  const x = inputs['x'] as Info;
  const dy = inputs['dy'] as Info;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`Conv2DBackpropFilter (wasm): dataFormat ${dataFormat} is not supported; allowed: NHWC`);
  }
  const c = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const temps: Info[] = [];
  const { top, bottom, left, right } = c.padInfo;
  let xp = x;
  if (top || bottom || left || right) {
    const paddings = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    xp = run('PadV2', backend, { x }, { paddings, constantValue: 0 });
    temps.push(xp);
  }
  // With stride s, the last input rows/cols that no output position reaches must not count.
  const usedH = (c.outHeight - 1) * c.strideHeight + c.filterHeight;
  const usedW = (c.outWidth - 1) * c.strideWidth + c.filterWidth;
  if (xp.shape[1] !== usedH || xp.shape[2] !== usedW) {
    xp = run(
      'Slice',
      backend,
      { x: xp },
      { begin: [0, 0, 0, 0], size: [c.batchSize, usedH, usedW, c.inChannels] },
    );
    temps.push(xp);
  }
  const xt = run('Transpose', backend, { x: xp }, { perm: [3, 1, 2, 0] });
  const dyt = run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] });
  const dwT = run(
    'Conv2D',
    backend,
    { x: xt, filter: dyt },
    { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [c.strideHeight, c.strideWidth] },
  );
  temps.push(xt, dyt, dwT);
  const dw = run('Transpose', backend, { x: dwT }, { perm: [1, 2, 0, 3] });
  for (const t of temps) backend.disposeData(t.dataId);
  return dw;
}

function conv2DBackpropInputVia(original: tf.KernelConfig) {
  return ({ inputs, backend, attrs }: KernelArgs): Info => {
    const dy = inputs['dy'] as Info;
    const filter = inputs['filter'] as Info;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
      attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const c = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const { top, bottom, left, right } = c.padInfo;
    const fh = c.filterHeight;
    const fw = c.filterWidth;
    const simple =
      (dataFormat === undefined || dataFormat === 'NHWC') &&
      c.strideHeight === 1 &&
      c.strideWidth === 1 &&
      Math.max(top, bottom) < fh &&
      Math.max(left, right) < fw;
    if (!simple) return original.kernelFunc({ inputs, backend, attrs }) as Info;
    const paddings = [
      [0, 0],
      [fh - 1 - top, fh - 1 - bottom],
      [fw - 1 - left, fw - 1 - right],
      [0, 0],
    ];
    const dyp = run('PadV2', backend, { x: dy }, { paddings, constantValue: 0 });
    const flipped = run('Reverse', backend, { x: filter }, { dims: [0, 1] });
    const swapped = run('Transpose', backend, { x: flipped }, { perm: [0, 1, 3, 2] });
    const dx = run(
      'Conv2D',
      backend,
      { x: dyp, filter: swapped },
      { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] },
    );
    for (const t of [dyp, flipped, swapped]) backend.disposeData(t.dataId);
    return dx;
  };
}

/** Window argmax (first maximum in row-major window order, as the cpu backend picks) gets dy. */
function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): Info {
  const dy = inputs['dy'] as Info;
  const input = inputs['input'] as Info;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const c = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const out = backend.makeOutput([...input.shape], 'float32');
  // views are taken after makeOutput: allocating may grow (and so detach) the wasm heap
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const { top, left } = c.padInfo;
  let o = 0;
  for (let b = 0; b < c.batchSize; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.max(0, oh * c.strideHeight - top);
      const h1 = Math.min(H, oh * c.strideHeight - top + c.filterHeight);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.max(0, ow * c.strideWidth - left);
        const w1 = Math.min(W, ow * c.strideWidth - left + c.filterWidth);
        for (let ch = 0; ch < C; ch++, o++) {
          let best = -1;
          let max = Number.NEGATIVE_INFINITY;
          for (let h = h0; h < h1; h++) {
            for (let w = w0; w < w1; w++) {
              const i = ((b * H + h) * W + w) * C + ch;
              if (x[i]! > max || best < 0) {
                max = x[i]!;
                best = i;
              }
            }
          }
          if (best >= 0) dx[best] = dx[best]! + g[o]!;
        }
      }
    }
  }
  return out;
}

function batchMatMulVia(original: tf.KernelConfig) {
  return ({ inputs, backend, attrs }: KernelArgs): Info => {
    if (!attrs['transposeA']) return original.kernelFunc({ inputs, backend, attrs }) as Info;
    const a = inputs['a'] as Info;
    const rank = a.shape.length;
    const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
    const at = run('Transpose', backend, { x: a }, { perm });
    const res = original.kernelFunc({
      inputs: { ...inputs, a: at },
      backend,
      attrs: { ...attrs, transposeA: false },
    }) as Info;
    backend.disposeData(at.dataId);
    return res;
  };
}

let registered = false;

/**
 * Idempotent; call before the wasm backend initializes (kernel setup runs then). Leaves an
 * existing wasm Conv2DBackpropFilter (a future tfjs) in place.
 */
export function registerWasmTrainKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
    });
  }
  const wrap = (name: string, via: (original: tf.KernelConfig) => (args: KernelArgs) => Info) => {
    const original = tf.getKernel(name, 'wasm');
    if (!original) return;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...original, kernelFunc: via(original) as unknown as tf.KernelFunc });
  };
  wrap('Conv2DBackpropInput', conv2DBackpropInputVia);
  wrap('MaxPoolGrad', () => maxPoolGrad);
  wrap('BatchMatMul', batchMatMulVia);
}
