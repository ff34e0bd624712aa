/**
 * Declarative C struct layouts with encode/decode on DataView.
 *
 * A layout names each field with its byte offset and C type, exactly as the
 * header declares it (field names are the C names). The offsets are written
 * out, not computed, so that a layout reads like the header and the ABI
 * conformance test (test/uapi/abi.test.ts) can check each one against
 * `offsetof()` from the real header compiled with `cc`.
 *
 * Byte order: host ABI structs (VFIO, KVM) are native-endian. The model's host
 * is little-endian - what the x86-64 test host and a ppc64le POWER host both
 * use - so they are declared 'le'. PAPR RTAS buffers are always big-endian
 * ('be'), whatever the guest's endianness.
 *
 * Errors: `decode` never throws; it returns a discriminated union (a buffer
 * that is too short is the caller's -EFAULT/-EINVAL, not an exception).
 * `encode` throws RangeError on values that do not fit the field: that is a
 * bug in the calling TypeScript, not a modelled condition.
 */

export type Endian = 'le' | 'be';
/** C scalar types as spelled in uapi headers (`__u8` -> 'u8', `__s32` -> 's32'). */
export type ScalarType = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 's64';
type WideType = 'u64' | 's64';

export const SCALAR_SIZE: Readonly<Record<ScalarType, number>> = Object.freeze({
  u8: 1,
  u16: 2,
  u32: 4,
  s32: 4,
  u64: 8,
  s64: 8,
});

/** `__u32 flags;` */
export interface ScalarField {
  readonly offset: number;
  readonly type: ScalarType;
}
/** `__u64 args[9];` */
export interface ArrayField {
  readonly offset: number;
  readonly type: ScalarType;
  readonly count: number;
}
/** `char name[120];` - decoded as a string up to the first NUL (latin1). */
export interface CharField {
  readonly offset: number;
  readonly type: 'char';
  readonly count: number;
}
/** `struct vfio_eeh_pe_err err;` */
export interface NestedField {
  readonly offset: number;
  // biome-ignore lint/suspicious/noExplicitAny: any nested layout
  readonly type: Struct<any>;
}
export type FieldSpec = ScalarField | ArrayField | CharField | NestedField;
export type Fields = Readonly<Record<string, FieldSpec>>;

/** The decoded value of one field. */
export type FieldValue<F> = F extends { type: 'char' }
  ? string
  : F extends { type: Struct<infer N> }
    ? StructValue<N>
    : F extends { type: WideType; count: number }
      ? bigint[]
      : F extends { count: number }
        ? number[]
        : F extends { type: WideType }
          ? bigint
          : number;

/** The value accepted by `encode` for one field (u64 also takes a safe integer number). */
export type FieldInput<F> = F extends { type: 'char' }
  ? string
  : F extends { type: Struct<infer N> }
    ? StructInput<N>
    : F extends { type: WideType; count: number }
      ? readonly (bigint | number)[]
      : F extends { count: number }
        ? readonly number[]
        : F extends { type: WideType }
          ? bigint | number
          : number;

export type StructValue<Fs extends Fields> = { -readonly [K in keyof Fs]: FieldValue<Fs[K]> };
export type StructInput<Fs extends Fields> = { readonly [K in keyof Fs]?: FieldInput<Fs[K]> };

/** `"err"`, `"err.mask"`: a field or a field of a nested struct. */
export type FieldPath<Fs extends Fields> = {
  [K in keyof Fs & string]: Fs[K] extends { type: Struct<infer N> }
    ? K | `${K}.${FieldPath<N>}`
    : K;
}[keyof Fs & string];

export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: 'short'; readonly need: number; readonly have: number }
  | { readonly ok: false; readonly error: 'range'; readonly message: string };

/** One leaf or nested field, flattened with its absolute offset (for the ABI test, dumps). */
export interface FlatField {
  /** `"err.type"` */
  readonly path: string;
  readonly offset: number;
  readonly size: number;
  /** Scalar type, 'char', or 'struct' for a nested struct itself. */
  readonly type: ScalarType | 'char' | 'struct';
  /** Element count for arrays and char[N]; undefined for a single scalar. */
  readonly count?: number;
}

/** How the real header spells this struct, for the ABI test. */
export interface CBinding {
  /** `struct vfio_eeh_pe_op` */
  readonly type: string;
  /**
   * For an anonymous struct inside another: the member path, e.g. `papr_hcall`
   * inside `struct kvm_run`. Offsets are then relative to that member.
   */
  readonly member?: string;
  /** Only the listed fields are modelled: do not compare sizeof. */
  readonly partial?: boolean;
}

/** A trailing flexible array member (`__u8 data[];`), not part of `size`. */
export interface FlexMember {
  readonly name: string;
  readonly offset: number;
  readonly type: ScalarType;
}

export interface StructDef<Fs extends Fields> {
  /** The C tag, e.g. `vfio_eeh_pe_op`. */
  readonly name: string;
  /** `sizeof`, including tail padding. */
  readonly size: number;
  readonly endian?: Endian;
  readonly fields: Fs;
  readonly flex?: FlexMember;
  /** Defaults to `struct <name>`. */
  readonly c?: CBinding;
}

type ByteSource = ArrayBuffer | ArrayBufferView;

function toView(src: ByteSource): DataView {
  if (src instanceof DataView) return src;
  if (ArrayBuffer.isView(src)) return new DataView(src.buffer, src.byteOffset, src.byteLength);
  return new DataView(src);
}

function isNested(f: FieldSpec): f is NestedField {
  return f.type instanceof Struct;
}

function fieldAlign(f: FieldSpec): number {
  if (isNested(f)) return f.type.align;
  if (f.type === 'char') return 1;
  return SCALAR_SIZE[f.type];
}

function fieldSize(f: FieldSpec): number {
  if (isNested(f)) return f.type.size;
  if (f.type === 'char') return f.count;
  const n = 'count' in f ? f.count : 1;
  return SCALAR_SIZE[f.type] * n;
}

function readScalar(v: DataView, at: number, t: ScalarType, le: boolean): number | bigint {
  switch (t) {
    case 'u8':
      return v.getUint8(at);
    case 'u16':
      return v.getUint16(at, le);
    case 'u32':
      return v.getUint32(at, le);
    case 's32':
      return v.getInt32(at, le);
    case 'u64':
      return v.getBigUint64(at, le);
    case 's64':
      return v.getBigInt64(at, le);
  }
}

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const S64_MIN = -(2n ** 63n);
const S64_MAX = 2n ** 63n - 1n;

function checkedInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name}: ${String(value)} is not an integer in [${min}, ${max}]`);
  }
  return value;
}

function checkedBig(name: string, value: unknown, min: bigint, max: bigint): bigint {
  let b: bigint;
  if (typeof value === 'bigint') b = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) b = BigInt(value);
  else throw new RangeError(`${name}: ${String(value)} is not a 64-bit integer`);
  if (b < min || b > max) throw new RangeError(`${name}: ${b} out of range [${min}, ${max}]`);
  return b;
}

function writeScalar(
  v: DataView,
  at: number,
  t: ScalarType,
  le: boolean,
  value: unknown,
  name: string,
): void {
  switch (t) {
    case 'u8':
      v.setUint8(at, checkedInt(name, value, 0, 0xff));
      return;
    case 'u16':
      v.setUint16(at, checkedInt(name, value, 0, 0xffff), le);
      return;
    case 'u32':
      v.setUint32(at, checkedInt(name, value, 0, 0xffff_ffff), le);
      return;
    case 's32':
      v.setInt32(at, checkedInt(name, value, -0x8000_0000, 0x7fff_ffff), le);
      return;
    case 'u64':
      v.setBigUint64(at, checkedBig(name, value, 0n, U64_MAX), le);
      return;
    case 's64':
      v.setBigInt64(at, checkedBig(name, value, S64_MIN, S64_MAX), le);
      return;
  }
}

/** A C struct layout with its codec. Build with `defineStruct`. */
export class Struct<Fs extends Fields> {
  readonly name: string;
  readonly size: number;
  readonly endian: Endian;
  readonly fields: Fs;
  readonly flex: FlexMember | undefined;
  readonly c: CBinding;
  /** Largest field alignment (what C uses to pad the struct). */
  readonly align: number;

  constructor(def: StructDef<Fs>) {
    this.name = def.name;
    this.size = def.size;
    this.endian = def.endian ?? 'le';
    this.fields = def.fields;
    this.flex = def.flex;
    this.c = def.c ?? { type: `struct ${def.name}` };
    let align = 1;
    const spans: [number, number, string][] = [];
    for (const [name, f] of Object.entries(def.fields)) {
      const a = fieldAlign(f);
      const sz = fieldSize(f);
      if (!Number.isInteger(f.offset) || f.offset < 0 || f.offset % a !== 0) {
        throw new Error(`${def.name}.${name}: offset ${f.offset} not aligned to ${a}`);
      }
      if (!isNested(f) && 'count' in f && (!Number.isInteger(f.count) || f.count < 1)) {
        throw new Error(`${def.name}.${name}: bad count`);
      }
      if (f.offset + sz > def.size) throw new Error(`${def.name}.${name}: beyond sizeof`);
      align = Math.max(align, a);
      spans.push([f.offset, f.offset + sz, name]);
    }
    spans.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) {
      const prev = spans[i - 1] as [number, number, string];
      const cur = spans[i] as [number, number, string];
      if (cur[0] < prev[1]) throw new Error(`${def.name}: ${prev[2]} overlaps ${cur[2]}`);
    }
    if (def.flex) align = Math.max(align, SCALAR_SIZE[def.flex.type]);
    if (!def.c?.partial && def.size % align !== 0) {
      throw new Error(`${def.name}: sizeof ${def.size} not a multiple of alignment ${align}`);
    }
    this.align = align;
    Object.freeze(this);
  }

  private spec(path: string): { offset: number; spec: FieldSpec } {
    let offset = 0;
    // biome-ignore lint/suspicious/noExplicitAny: walking nested layouts
    let s: Struct<any> = this;
    let spec: FieldSpec | undefined;
    const parts = path.split('.');
    for (let i = 0; i < parts.length; i++) {
      spec = s.fields[parts[i] as string] as FieldSpec | undefined;
      if (!spec) throw new Error(`${this.name}: no field ${path}`);
      offset += spec.offset;
      if (i < parts.length - 1) {
        if (!isNested(spec)) throw new Error(`${this.name}: ${path} is not nested`);
        s = spec.type;
      }
    }
    return { offset, spec: spec as FieldSpec };
  }

  /** `offsetof(struct, field)`; accepts nested paths (`err.mask`). */
  offsetof(path: FieldPath<Fs>): number {
    return this.spec(path).offset;
  }

  /** `sizeof(((struct *)0)->field)` */
  sizeofField(path: FieldPath<Fs>): number {
    return fieldSize(this.spec(path).spec);
  }

  /**
   * Linux's `offsetofend(struct, field)`: the usual `minsz` of a VFIO ioctl
   * (e.g. `vfio_eeh_pe_op.offsetofEnd('op')` is 12).
   */
  offsetofEnd(path: FieldPath<Fs>): number {
    const { offset, spec } = this.spec(path);
    return offset + fieldSize(spec);
  }

  /** All fields, nested ones expanded after their parent, in declaration order. */
  flatFields(): FlatField[] {
    const out: FlatField[] = [];
    const walk = (fs: Fields, base: number, prefix: string) => {
      for (const [name, f] of Object.entries(fs)) {
        const path = prefix + name;
        const offset = base + f.offset;
        if (isNested(f)) {
          out.push({ path, offset, size: f.type.size, type: 'struct' });
          walk(f.type.fields, offset, `${path}.`);
        } else if ('count' in f) {
          out.push({ path, offset, size: fieldSize(f), type: f.type, count: f.count });
        } else {
          out.push({ path, offset, size: fieldSize(f), type: f.type });
        }
      }
    };
    walk(this.fields, 0, '');
    return out;
  }

  /** All-zero value (what `memset(&s, 0, sizeof(s))` holds). */
  zero(): StructValue<Fs> {
    const r = this.decodeFrom(new DataView(new ArrayBuffer(this.size)), 0, this.size);
    return r;
  }

  /** A new buffer of `size` bytes holding `value` (missing fields are 0). */
  encode(value: StructInput<Fs>): ArrayBuffer {
    const buf = new ArrayBuffer(this.size);
    this.encodeInto(new DataView(buf), 0, value);
    return buf;
  }

  /**
   * Writes all `size` bytes of the struct at `offset` (missing fields and
   * padding become 0). Throws RangeError if it does not fit or a value is out
   * of its field's range.
   */
  encodeInto(dst: ByteSource, offset: number, value: StructInput<Fs>): void {
    const v = toView(dst);
    if (!Number.isInteger(offset) || offset < 0 || offset + this.size > v.byteLength) {
      throw new RangeError(`${this.name}: ${this.size} bytes at ${offset} do not fit`);
    }
    for (let i = 0; i < this.size; i++) v.setUint8(offset + i, 0);
    this.writeFields(v, offset, value as Record<string, unknown>);
  }

  /** Overwrites only the given fields, leaving other bytes as they are. */
  patch(dst: ByteSource, offset: number, value: StructInput<Fs>): void {
    const v = toView(dst);
    if (!Number.isInteger(offset) || offset < 0 || offset + this.size > v.byteLength) {
      throw new RangeError(`${this.name}: ${this.size} bytes at ${offset} do not fit`);
    }
    this.writeFields(v, offset, value as Record<string, unknown>);
  }

  private writeFields(v: DataView, base: number, value: Record<string, unknown>): void {
    const le = this.endian === 'le';
    for (const [name, f] of Object.entries(this.fields)) {
      const x = value[name];
      if (x === undefined) continue;
      const at = base + f.offset;
      const label = `${this.name}.${name}`;
      if (isNested(f)) {
        if (typeof x !== 'object' || x === null) throw new RangeError(`${label}: expected object`);
        f.type.writeFields(v, at, x as Record<string, unknown>);
      } else if (f.type === 'char') {
        if (typeof x !== 'string' || x.length > f.count) {
          throw new RangeError(`${label}: expected a string of at most ${f.count} chars`);
        }
        for (let i = 0; i < f.count; i++) {
          const code = i < x.length ? x.charCodeAt(i) : 0;
          if (code > 0xff) throw new RangeError(`${label}: non-latin1 character`);
          v.setUint8(at + i, code);
        }
      } else if ('count' in f) {
        if (!Array.isArray(x) || x.length > f.count) {
          throw new RangeError(`${label}: expected an array of at most ${f.count} elements`);
        }
        const step = SCALAR_SIZE[f.type];
        x.forEach((e, i) => {
          writeScalar(v, at + i * step, f.type, le, e, `${label}[${i}]`);
        });
      } else {
        writeScalar(v, at, f.type, le, x, label);
      }
    }
  }

  /**
   * Decodes the struct at `offset`. `length` is how many bytes the caller
   * copies in (the kernel's `copy_from_user(&s, arg, minsz)`): fields that do
   * not lie entirely within it read as 0. The source must hold `length` bytes
   * at `offset`, else `{ ok: false, error: 'short' }`. Never throws.
   */
  decode(src: ByteSource, offset = 0, length: number = this.size): DecodeResult<StructValue<Fs>> {
    if (!Number.isInteger(offset) || offset < 0) {
      return { ok: false, error: 'range', message: `bad offset ${offset}` };
    }
    if (!Number.isInteger(length) || length < 0 || length > this.size) {
      return { ok: false, error: 'range', message: `bad length ${length}` };
    }
    const v = toView(src);
    const have = Math.max(0, v.byteLength - offset);
    if (have < length) return { ok: false, error: 'short', need: length, have };
    return { ok: true, value: this.decodeFrom(v, offset, length) };
  }

  private decodeFrom(v: DataView, base: number, limit: number): StructValue<Fs> {
    const le = this.endian === 'le';
    const out: Record<string, unknown> = {};
    for (const [name, f] of Object.entries(this.fields)) {
      const at = base + f.offset;
      const inside = f.offset + fieldSize(f) <= limit;
      if (isNested(f)) {
        out[name] = inside
          ? f.type.decodeFrom(v, at, f.type.size)
          : f.type.decodeFrom(v, at, Math.max(0, limit - f.offset));
      } else if (f.type === 'char') {
        let s = '';
        if (inside) {
          for (let i = 0; i < f.count; i++) {
            const c = v.getUint8(at + i);
            if (c === 0) break;
            s += String.fromCharCode(c);
          }
        }
        out[name] = s;
      } else if ('count' in f) {
        const step = SCALAR_SIZE[f.type];
        const wide = f.type === 'u64' || f.type === 's64';
        const arr: (number | bigint)[] = [];
        for (let i = 0; i < f.count; i++) {
          arr.push(inside ? readScalar(v, at + i * step, f.type, le) : wide ? 0n : 0);
        }
        out[name] = arr;
      } else {
        const wide = f.type === 'u64' || f.type === 's64';
        out[name] = inside ? readScalar(v, at, f.type, le) : wide ? 0n : 0;
      }
    }
    return out as StructValue<Fs>;
  }

  /** Reads one scalar field (not array/char/nested) in place. Throws on a short view. */
  get<P extends FieldPath<Fs>>(src: ByteSource, base: number, path: P): number | bigint {
    const { offset, spec } = this.spec(path);
    if (isNested(spec) || spec.type === 'char' || 'count' in spec) {
      throw new Error(`${this.name}.${path}: not a scalar field`);
    }
    return readScalar(toView(src), base + offset, spec.type, this.endian === 'le');
  }

  /** Writes one scalar field in place (e.g. the kernel writing back `size`). */
  set<P extends FieldPath<Fs>>(
    dst: ByteSource,
    base: number,
    path: P,
    value: number | bigint,
  ): void {
    const { offset, spec } = this.spec(path);
    if (isNested(spec) || spec.type === 'char' || 'count' in spec) {
      throw new Error(`${this.name}.${path}: not a scalar field`);
    }
    writeScalar(toView(dst), base + offset, spec.type, this.endian === 'le', value, path);
  }
}

/** Declares a struct layout (see the file comment). */
export function defineStruct<const Fs extends Fields>(def: StructDef<Fs>): Struct<Fs> {
  return new Struct(def);
}

export function isStruct(x: unknown): x is Struct<Fields> {
  return x instanceof Struct;
}
