// .npy codec: encodeNpy writes arrays byte-exactly as numpy 1.24 `np.save` does; decodeNpy reads
// them as leniently as `np.load(allow_pickle=False)` and fails loudly where numpy fails.
// arraysToParameters / parametersToArrays wrap that into Flower's Parameters (one .npy per tensor).
// Decoded arrays may be views on the input bytes (no copy when aligned and little-endian).

import type { Dtype, NDArray, Parameters, TypedArray } from './types.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;
/** numpy 1.24's default `max_header_size` for np.load. */
export const NPY_MAX_HEADER_BYTES = 10000;
export const TENSOR_TYPE_NDARRAY = 'numpy.ndarray';

type TypedArrayCtor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

const CTORS: Record<Dtype, TypedArrayCtor> = {
  f2: Uint16Array,
  f4: Float32Array,
  f8: Float64Array,
  i1: Int8Array,
  i2: Int16Array,
  i4: Int32Array,
  i8: BigInt64Array,
  u1: Uint8Array,
  u2: Uint16Array,
  u4: Uint32Array,
  u8: BigUint64Array,
  b1: Uint8Array,
};
const DTYPES = Object.keys(CTORS) as Dtype[];

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function itemSize(dtype: Dtype): number {
  return CTORS[dtype].BYTES_PER_ELEMENT;
}

function descrOf(dtype: Dtype): string {
  return (itemSize(dtype) === 1 ? '|' : '<') + dtype;
}

function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

function sizeOf(shape: readonly number[], where: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new Error(
        `${where}: shape ${JSON.stringify(shape)} has an invalid dimension ${d}; dimensions must be integers >= 0`,
      );
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new Error(`${where}: shape ${JSON.stringify(shape)} is too large`);
  return n;
}

/** Builds the full preamble (magic, version, length, header text) exactly as numpy 1.24 does. */
function buildPreamble(dtype: Dtype, shape: readonly number[]): Uint8Array {
  let dict = `{'descr': '${descrOf(dtype)}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  // numpy tries format 1.0 (uint16 length) and falls back to 2.0 (uint32) when that overflows.
  let lenBytes = 2;
  let hlen = dict.length + 1;
  let pad = ARRAY_ALIGN - ((MAGIC.length + 2 + lenBytes + hlen) % ARRAY_ALIGN);
  if (hlen + pad > 0xffff) {
    lenBytes = 4;
    pad = ARRAY_ALIGN - ((MAGIC.length + 2 + lenBytes + hlen) % ARRAY_ALIGN);
  }
  hlen += pad;
  const prefix = MAGIC.length + 2 + lenBytes;
  const out = new Uint8Array(prefix + hlen);
  out.set(MAGIC, 0);
  out[6] = lenBytes === 2 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (lenBytes === 2) view.setUint16(8, hlen, true);
  else view.setUint32(8, hlen, true);
  for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i);
  out.fill(0x20, prefix + dict.length, out.length - 1);
  out[out.length - 1] = 0x0a;
  return out;
}

/**
 * Checks `a` as encodeNpy does and returns its .npy preamble (magic, version, header); the .npy
 * file is this followed by npyDataBytes(a). Lets a caller write the file into a larger buffer
 * without building it first.
 */
export function npyPreamble(a: NDArray): Uint8Array {
  const ctor = CTORS[a.dtype];
  if (ctor === undefined) {
    throw new Error(`encodeNpy: unsupported dtype ${JSON.stringify(a.dtype)}; allowed: ${DTYPES.join(' ')}`);
  }
  if (!(a.data instanceof ctor)) {
    throw new Error(
      `encodeNpy: dtype '${a.dtype}' needs data as ${ctor.name}, got ${a.data?.constructor?.name}`,
    );
  }
  const n = sizeOf(a.shape, 'encodeNpy');
  if (a.data.length !== n) {
    throw new Error(
      `encodeNpy: shape ${shapeRepr(a.shape)} holds ${n} elements but data has ${a.data.length}`,
    );
  }
  return buildPreamble(a.dtype, a.shape);
}

/** The array's bytes as .npy stores them (little-endian): a view on little-endian hosts, else a swapped copy. */
export function npyDataBytes(a: NDArray): Uint8Array {
  const raw = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  if (HOST_LITTLE_ENDIAN) return raw;
  const copy = raw.slice();
  swapBytes(copy, itemSize(a.dtype));
  return copy;
}

/** Serializes one array to .npy bytes (format 1.0, or 2.0 for headers over 64 KiB), little-endian, C order. */
export function encodeNpy(a: NDArray): Uint8Array {
  const preamble = npyPreamble(a);
  const out = allocBytes(preamble.length + a.data.byteLength);
  out.set(preamble, 0);
  const raw = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  out.set(raw, preamble.length);
  if (!HOST_LITTLE_ENDIAN) swapBytes(out.subarray(preamble.length), itemSize(a.dtype));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Header parsing: a tiny reader for the Python literals numpy writes (what ast.literal_eval takes
// for dicts of strings, bools, ints and tuples/lists).

type PyValue =
  | { t: 'str'; v: string }
  | { t: 'bool'; v: boolean }
  | { t: 'none' }
  | { t: 'int'; v: number }
  | { t: 'float'; v: number }
  | { t: 'tuple'; v: PyValue[] }
  | { t: 'list'; v: PyValue[] }
  | { t: 'dict'; v: Map<string, PyValue> };

/** A Python int or float literal, matched where the parser stands (sticky). */
const NUMBER = /[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/y;

/**
 * A Uint8Array of `n` bytes over its own ArrayBuffer, not zero-filled: for buffers that are
 * written in full straight away (saves clearing ~model-size memory per tensor).
 */
function allocBytes(n: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(n);
  // never pooled, so it starts its ArrayBuffer (aligned for any dtype); checked all the same
  return b.byteOffset === 0 ? new Uint8Array(b.buffer, 0, n) : new Uint8Array(n);
}

class PyLiteralParser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parseAll(): PyValue {
    const v = this.value();
    this.ws();
    if (this.pos < this.src.length) this.fail(`unexpected ${JSON.stringify(this.src[this.pos])}`);
    return v;
  }

  private fail(what: string): never {
    throw new Error(
      `decodeNpy: cannot parse header at character ${this.pos} (${what}): ${JSON.stringify(this.src)}`,
    );
  }

  private ws(): void {
    // numpy pads every header with spaces: test ASCII by code (in ASCII, \s is 9-13 and 32) and
    // leave the rarer non-ASCII whitespace to the regex
    while (this.pos < this.src.length) {
      const c = this.src.charCodeAt(this.pos);
      if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) this.pos++;
      else if (c >= 0x80 && /\s/.test(this.src[this.pos]!)) this.pos++;
      else return;
    }
  }

  private value(): PyValue {
    this.ws();
    const c = this.src[this.pos];
    if (c === undefined) this.fail('unexpected end');
    if (c === '{') return this.dict();
    if (c === '(') return this.seq('(', ')');
    if (c === '[') return this.seq('[', ']');
    if (c === "'" || c === '"') return { t: 'str', v: this.str() };
    NUMBER.lastIndex = this.pos;
    const num = NUMBER.exec(this.src);
    if (num) {
      this.pos += num[0].length;
      const isInt = /^[+-]?\d+$/.test(num[0]);
      const v = Number(num[0]);
      if (isInt && !Number.isSafeInteger(v)) this.fail(`integer ${num[0]} out of range`);
      return isInt ? { t: 'int', v } : { t: 'float', v };
    }
    for (const [word, val] of [
      ['True', { t: 'bool', v: true }],
      ['False', { t: 'bool', v: false }],
      ['None', { t: 'none' }],
    ] as const) {
      if (this.src.startsWith(word, this.pos) && !/\w/.test(this.src[this.pos + word.length] ?? '')) {
        this.pos += word.length;
        return val;
      }
    }
    return this.fail(`unexpected ${JSON.stringify(c)}`);
  }

  private str(): string {
    const quote = this.src[this.pos++];
    let out = '';
    for (;;) {
      const c = this.src[this.pos++];
      if (c === undefined) this.fail('unterminated string');
      if (c === quote) return out;
      if (c === '\\') {
        const e = this.src[this.pos++];
        if (e === undefined) this.fail('unterminated string');
        out += e === 'n' ? '\n' : e === 't' ? '\t' : e;
      } else out += c;
    }
  }

  /** Tuple or list; "(x)" without a comma is just x, as in Python. */
  private seq(open: string, close: string): PyValue {
    this.pos++;
    const items: PyValue[] = [];
    let sawComma = false;
    for (;;) {
      this.ws();
      if (this.src[this.pos] === close) {
        this.pos++;
        break;
      }
      items.push(this.value());
      this.ws();
      if (this.src[this.pos] === ',') {
        this.pos++;
        sawComma = true;
      } else if (this.src[this.pos] !== close) this.fail(`expected ',' or '${close}'`);
    }
    if (open === '[') return { t: 'list', v: items };
    if (items.length === 1 && !sawComma) return items[0]!;
    return { t: 'tuple', v: items };
  }

  private dict(): PyValue {
    this.pos++;
    const map = new Map<string, PyValue>();
    for (;;) {
      this.ws();
      if (this.src[this.pos] === '}') {
        this.pos++;
        return { t: 'dict', v: map };
      }
      const key = this.value();
      if (key.t !== 'str') this.fail('dict keys must be strings');
      this.ws();
      if (this.src[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      map.set(key.v, this.value());
      this.ws();
      if (this.src[this.pos] === ',') this.pos++;
      else if (this.src[this.pos] !== '}') this.fail("expected ',' or '}'");
    }
  }
}

function pyRepr(v: PyValue): string {
  switch (v.t) {
    case 'str':
      return `'${v.v}'`;
    case 'bool':
      return v.v ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'int':
    case 'float':
      return String(v.v);
    case 'tuple':
      return v.v.length === 1 ? `(${pyRepr(v.v[0]!)},)` : `(${v.v.map(pyRepr).join(', ')})`;
    case 'list':
      return `[${v.v.map(pyRepr).join(', ')}]`;
    case 'dict':
      return `{${[...v.v].map(([k, x]) => `'${k}': ${pyRepr(x)}`).join(', ')}}`;
  }
}

interface ParsedDescr {
  dtype: Dtype;
  /** data byte order differs from the host's */
  needSwap: boolean;
}

function parseDescr(v: PyValue): ParsedDescr {
  if (v.t !== 'str') {
    throw new Error(
      `decodeNpy: descr ${pyRepr(v)} is not supported; only simple dtypes (${DTYPES.join(' ')}) are, no structured dtypes`,
    );
  }
  const m = /^([<>|=]?)([a-zA-Z?])(\d*)$/.exec(v.v);
  if (m && m[2] === 'O') {
    throw new Error(
      `decodeNpy: descr '${v.v}' is an object dtype, which needs pickle; pickled data is refused`,
    );
  }
  const dtype = m ? (m[2] === '?' && m[3] === '' ? 'b1' : `${m[2]}${m[3]}`) : '';
  if (!m || !(dtype in CTORS)) {
    throw new Error(
      `decodeNpy: descr '${v.v}' is not supported; allowed dtypes: ${DTYPES.join(' ')} (any byte order)`,
    );
  }
  const littleOnWire = m[1] === '<' || (HOST_LITTLE_ENDIAN && m[1] !== '>');
  return {
    dtype: dtype as Dtype,
    needSwap: itemSize(dtype as Dtype) > 1 && littleOnWire !== HOST_LITTLE_ENDIAN,
  };
}

function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

type Indexable = { [i: number]: number | bigint; length: number };

/** Reorders Fortran-ordered data into C order (last axis fastest). */
function fortranToC(src: TypedArray, shape: readonly number[], ctor: TypedArrayCtor): TypedArray {
  const n = src.length;
  const nd = shape.length;
  if (nd <= 1 || n === 0) return src;
  const dst = new ctor(n);
  const s = src as unknown as Indexable;
  const d = dst as unknown as Indexable;
  const fStride: number[] = [];
  let stride = 1;
  for (const dim of shape) {
    fStride.push(stride);
    stride *= dim;
  }
  const idx = new Array<number>(nd).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    d[i] = s[off]!;
    for (let k = nd - 1; k >= 0; k--) {
      idx[k]!++;
      off += fStride[k]!;
      if (idx[k]! < shape[k]!) break;
      off -= fStride[k]! * shape[k]!;
      idx[k] = 0;
    }
  }
  return dst;
}

export interface DecodeNpyOptions {
  /** Largest header accepted, like numpy's `max_header_size` (default 10000). */
  maxHeaderBytes?: number;
}

/**
 * Parses .npy bytes (format 1.0, 2.0 or 3.0). Little-endian C-order data is returned as a view on
 * `bytes` when its offset is aligned for the dtype, otherwise it is copied.
 */
export function decodeNpy(bytes: Uint8Array, opts: DecodeNpyOptions = {}): NDArray {
  const maxHeader = opts.maxHeaderBytes ?? NPY_MAX_HEADER_BYTES;
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    const head = Buffer.from(bytes.subarray(0, 6)).toString('hex');
    throw new Error(
      `decodeNpy: bad magic: expected 93 4e 55 4d 50 59 ("\\x93NUMPY") at offset 0, got ${head || 'nothing'} (${bytes.length} bytes in total)`,
    );
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (minor !== 0 || major < 1 || major > 3) {
    throw new Error(`decodeNpy: unsupported .npy format version ${major}.${minor}; allowed: 1.0, 2.0, 3.0`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new Error(`decodeNpy: truncated preamble (${bytes.length} bytes)`);
  const hlen = lenBytes === 2 ? view.getUint16(8, true) : view.getUint32(8, true);
  const hstart = 8 + lenBytes;
  if (hlen > maxHeader) {
    throw new Error(
      `decodeNpy: header is ${hlen} bytes, more than the allowed ${maxHeader} (numpy's max_header_size)`,
    );
  }
  if (bytes.length < hstart + hlen) {
    throw new Error(
      `decodeNpy: header says ${hlen} bytes but only ${bytes.length - hstart} follow the preamble`,
    );
  }
  const headerText = Buffer.from(bytes.buffer, bytes.byteOffset + hstart, hlen).toString(
    major === 3 ? 'utf8' : 'latin1',
  );
  const parsed = new PyLiteralParser(headerText).parseAll();
  if (parsed.t !== 'dict')
    throw new Error(`decodeNpy: header is not a dictionary: ${JSON.stringify(headerText)}`);
  const keys = [...parsed.v.keys()].sort();
  if (keys.join(',') !== 'descr,fortran_order,shape') {
    throw new Error(
      `decodeNpy: header must have exactly the keys 'descr', 'fortran_order', 'shape'; got ${JSON.stringify(keys)}`,
    );
  }
  const shapeV = parsed.v.get('shape')!;
  if (shapeV.t !== 'tuple' || !shapeV.v.every((x) => x.t === 'int' && x.v >= 0)) {
    throw new Error(`decodeNpy: shape ${pyRepr(shapeV)} is not valid; it must be a tuple of integers >= 0`);
  }
  const shape = shapeV.v.map((x) => (x as { v: number }).v);
  const fortranV = parsed.v.get('fortran_order')!;
  if (fortranV.t !== 'bool') {
    throw new Error(`decodeNpy: fortran_order ${pyRepr(fortranV)} is not a valid bool (True or False)`);
  }
  const { dtype, needSwap } = parseDescr(parsed.v.get('descr')!);
  const ctor = CTORS[dtype];
  const size = itemSize(dtype);
  const n = sizeOf(shape, 'decodeNpy');
  const dataStart = hstart + hlen;
  const nbytes = n * size;
  if (bytes.length - dataStart < nbytes) {
    throw new Error(
      `decodeNpy: data too short: shape ${shapeRepr(shape)} of ${dtype} needs ${nbytes} bytes, got ${bytes.length - dataStart}`,
    );
  }
  let data: TypedArray;
  const abs = bytes.byteOffset + dataStart;
  if (!needSwap && abs % size === 0) {
    data = new ctor(bytes.buffer, abs, n);
  } else {
    const copy = allocBytes(nbytes);
    copy.set(bytes.subarray(dataStart, dataStart + nbytes));
    if (needSwap) swapBytes(copy, size);
    data = new ctor(copy.buffer, copy.byteOffset, n);
  }
  if (fortranV.v) data = fortranToC(data, shape, ctor);
  return { dtype, shape, data };
}

/** Flower's Parameters: one .npy file per array, tensor_type "numpy.ndarray". */
export function arraysToParameters(arrays: readonly NDArray[]): Parameters {
  return {
    tensors: arrays.map((a, i) => {
      try {
        return encodeNpy(a);
      } catch (e) {
        throw new Error(`tensor ${i}: ${(e as Error).message}`, { cause: e });
      }
    }),
    tensorType: TENSOR_TYPE_NDARRAY,
  };
}

/** Decodes every tensor as .npy; like Flower, tensorType is not looked at. */
export function parametersToArrays(p: Parameters): NDArray[] {
  return p.tensors.map((t, i) => {
    try {
      return decodeNpy(t);
    } catch (e) {
      throw new Error(`tensor ${i} of ${p.tensors.length}: ${(e as Error).message}`, { cause: e });
    }
  });
}

/** A float32 NDArray; `data` is copied unless it already is a Float32Array. */
export function float32Array(shape: readonly number[], data: ArrayLike<number> | Float32Array): NDArray {
  const arr = data instanceof Float32Array ? data : Float32Array.from(data);
  const n = sizeOf(shape, 'float32Array');
  if (arr.length !== n) {
    throw new Error(
      `float32Array: shape ${shapeRepr(shape)} holds ${n} elements but ${arr.length} were given`,
    );
  }
  return { dtype: 'f4', shape: [...shape], data: arr };
}
