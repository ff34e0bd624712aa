import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defineStruct,
  type FieldSpec,
  type Fields,
  isStruct,
  SCALAR_SIZE,
  type Struct,
} from '../../src/uapi/codec.js';
import * as experimental from '../../src/uapi/experimental.js';
import * as kvm from '../../src/uapi/kvm.js';
import * as rtas from '../../src/uapi/rtas.js';
import * as vfio from '../../src/uapi/vfio.js';

/** Every struct layout the uapi modules export. */
const ALL: [string, Struct<Fields>][] = [vfio, kvm, rtas, experimental].flatMap((ns) =>
  Object.entries(ns).filter((e): e is [string, Struct<Fields>] => isStruct(e[1])),
);

/** An arbitrary valid value of a layout. */
function arbFor(s: Struct<Fields>): fc.Arbitrary<Record<string, unknown>> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, f] of Object.entries(s.fields) as [string, FieldSpec][]) {
    rec[name] = arbField(f);
  }
  return fc.record(rec);
}

function arbScalar(t: string): fc.Arbitrary<number | bigint> {
  switch (t) {
    case 'u8':
      return fc.integer({ min: 0, max: 0xff });
    case 'u16':
      return fc.integer({ min: 0, max: 0xffff });
    case 'u32':
      return fc.integer({ min: 0, max: 0xffff_ffff });
    case 's32':
      return fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
    case 'u64':
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    default:
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  }
}

function arbField(f: FieldSpec): fc.Arbitrary<unknown> {
  const t = f.type;
  if (typeof t !== 'string') return arbFor(t);
  const count = (f as { count?: number }).count;
  if (t === 'char') {
    const ch = fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c));
    return fc.array(ch, { maxLength: count }).map((a) => a.join(''));
  }
  if (count !== undefined) return fc.array(arbScalar(t), { minLength: count, maxLength: count });
  return arbScalar(t);
}

describe('struct codec', () => {
  it('knows all the layouts (sanity)', () => {
    expect(ALL.length).toBeGreaterThanOrEqual(22);
  });

  it.each(ALL)('%s: encode/decode round-trips any valid value', (_name, s) => {
    fc.assert(
      fc.property(arbFor(s), (v) => {
        const buf = s.encode(v as never);
        expect(buf.byteLength).toBe(s.size);
        const r = s.decode(buf);
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.value).toEqual(v);
        // ... also at an offset inside a bigger buffer, through a typed array view.
        const big = new Uint8Array(s.size + 13);
        s.encodeInto(big, 7, v as never);
        const r2 = s.decode(big.subarray(7));
        expect(r2.ok && r2.value).toEqual(v);
      }),
      { numRuns: 50 },
    );
  });

  it.each(ALL)('%s: decoding random bytes never throws; short buffers are rejected', (_n, s) => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: s.size * 2 }),
        fc.integer({ min: -2, max: 40 }),
        (bytes, offset) => {
          const r = s.decode(bytes, offset);
          if (offset < 0) expect(r).toMatchObject({ ok: false, error: 'range' });
          else if (bytes.length - offset < s.size) {
            expect(r).toEqual({
              ok: false,
              error: 'short',
              need: s.size,
              have: Math.max(0, bytes.length - offset),
            });
          } else expect(r.ok).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it.each(ALL.filter(([, s]) => !s.c.partial))(
    '%s: gaps between fields are only the padding C inserts',
    (_n, s) => {
      // A field left out of a layout would show up as an unexplained gap.
      const top = Object.values(s.fields as Fields).sort((a, b) => a.offset - b.offset);
      let end = 0;
      for (const f of top) {
        const t = f.type;
        const count = (f as { count?: number }).count ?? 1;
        const align = typeof t !== 'string' ? t.align : t === 'char' ? 1 : SCALAR_SIZE[t];
        expect(f.offset).toBe(Math.ceil(end / align) * align);
        const size = typeof t !== 'string' ? t.size : t === 'char' ? count : SCALAR_SIZE[t] * count;
        end = f.offset + size;
      }
      if (s.flex) {
        expect(s.flex.offset).toBe(end);
      }
      expect(s.size).toBe(Math.ceil(end / s.align) * s.align);
    },
  );

  it('vfio_eeh_pe_op: minsz, err union at 16, 40 bytes (eeh-facts section 3)', () => {
    const op = vfio.vfio_eeh_pe_op;
    expect(op.size).toBe(40);
    expect(op.offsetofEnd('op')).toBe(12);
    expect(op.offsetof('err')).toBe(16);
    expect(op.offsetof('err.mask')).toBe(32);
    expect(op.offsetofEnd('err.mask')).toBe(40);
    expect(op.sizeofField('err')).toBe(24);
  });

  it('decode with a minsz length reads only the copied prefix (copy_from_user(minsz))', () => {
    const buf = vfio.vfio_eeh_pe_op.encode({
      argsz: 40,
      flags: 0,
      op: vfio.VFIO_EEH_PE_INJECT_ERR,
      err: { type: 1, func: 12, addr: 0x1000n, mask: 0xffffn },
    });
    const r = vfio.vfio_eeh_pe_op.decode(buf, 0, vfio.vfio_eeh_pe_op.offsetofEnd('op'));
    expect(r).toEqual({
      ok: true,
      value: { argsz: 40, flags: 0, op: 9, err: { type: 0, func: 0, addr: 0n, mask: 0n } },
    });
    // Only 12 bytes are needed for a 12-byte read.
    expect(vfio.vfio_eeh_pe_op.decode(new Uint8Array(12), 0, 12).ok).toBe(true);
    expect(vfio.vfio_eeh_pe_op.decode(new Uint8Array(11), 0, 12)).toMatchObject({ error: 'short' });
    expect(vfio.vfio_eeh_pe_op.decode(buf, 0, 41)).toMatchObject({ ok: false, error: 'range' });
  });

  it('host structs are little-endian, RTAS big-endian', () => {
    const le = new Uint8Array(vfio.vfio_group_status.encode({ argsz: 8, flags: 3 }));
    expect([...le]).toEqual([8, 0, 0, 0, 3, 0, 0, 0]);
    const be = new Uint8Array(rtas.rtas_args.encode({ token: 0x2022, nargs: 3, nret: 4 }));
    expect([...be.subarray(0, 12)]).toEqual([0, 0, 0x20, 0x22, 0, 0, 0, 3, 0, 0, 0, 4]);
  });

  it('char[N]: NUL-terminated latin1, zero-filled, at most N', () => {
    const s = kvm.kvm_rtas_token_args;
    const buf = s.encode({ name: 'ibm,set-xive', token: 0x200an });
    const bytes = new Uint8Array(buf);
    expect(bytes[12]).toBe(0);
    expect(new DataView(buf).getBigUint64(120, true)).toBe(0x200an);
    expect(s.decode(buf)).toEqual({ ok: true, value: { name: 'ibm,set-xive', token: 0x200an } });
    // A full 120-char name has no NUL (the kernel compares with strncmp over 120).
    const long = 'x'.repeat(120);
    expect(s.decode(s.encode({ name: long }))).toMatchObject({ value: { name: long } });
    expect(() => s.encode({ name: 'x'.repeat(121) })).toThrow(RangeError);
    expect(() => s.encode({ name: '\u0100' })).toThrow(RangeError);
  });

  it('encode rejects values that do not fit their field', () => {
    const s = vfio.vfio_iommu_type1_dma_map;
    expect(() => s.encode({ argsz: -1 })).toThrow(RangeError);
    expect(() => s.encode({ argsz: 2 ** 32 })).toThrow(RangeError);
    expect(() => s.encode({ argsz: 1.5 })).toThrow(RangeError);
    expect(() => s.encode({ iova: -1n })).toThrow(RangeError);
    expect(() => s.encode({ iova: 2n ** 64n })).toThrow(RangeError);
    expect(() => s.encode({ iova: 2 ** 60 })).toThrow(RangeError); // not a safe integer
    expect(s.decode(s.encode({ iova: 0x1000 }))).toMatchObject({ value: { iova: 0x1000n } });
    expect(() => kvm.kvm_vfio_spapr_tce.encode({ groupfd: 2 ** 31 })).toThrow(RangeError);
    expect(() => kvm.kvm_run_papr_hcall.encode({ args: Array(10).fill(0) })).toThrow(RangeError);
    expect(() => s.encodeInto(new ArrayBuffer(31), 0, {})).toThrow(RangeError);
  });

  it('get / set / patch touch one field in place', () => {
    const s = vfio.vfio_iommu_type1_dma_unmap;
    const buf = new ArrayBuffer(64);
    s.encodeInto(buf, 8, { argsz: 24, iova: 0x8000n, size: 0x2000n });
    expect(s.get(buf, 8, 'size')).toBe(0x2000n);
    s.set(buf, 8, 'size', 0x1000n); // the kernel writes back the unmapped size
    s.patch(buf, 8, { flags: 2 });
    expect(s.decode(buf, 8)).toEqual({
      ok: true,
      value: { argsz: 24, flags: 2, iova: 0x8000n, size: 0x1000n },
    });
    expect(() => kvm.kvm_rtas_token_args.get(buf, 0, 'name')).toThrow();
    expect(vfio.vfio_eeh_pe_op.get(new ArrayBuffer(40), 0, 'err.func')).toBe(0);
  });

  it('zero() is the all-zero value', () => {
    expect(vfio.vfio_iommu_spapr_tce_info.zero()).toEqual({
      argsz: 0,
      flags: 0,
      dma32_window_start: 0,
      dma32_window_size: 0,
      ddw: { pgsizes: 0n, max_dynamic_windows_supported: 0, levels: 0 },
    });
  });

  it('layout definitions are checked when declared', () => {
    expect(() =>
      defineStruct({ name: 'bad', size: 8, fields: { a: { offset: 2, type: 'u32' } } }),
    ).toThrow(/aligned/);
    expect(() =>
      defineStruct({
        name: 'bad',
        size: 8,
        fields: { a: { offset: 0, type: 'u64' }, b: { offset: 4, type: 'u32' } },
      }),
    ).toThrow(/overlaps/);
    expect(() =>
      defineStruct({ name: 'bad', size: 4, fields: { a: { offset: 0, type: 'u64' } } }),
    ).toThrow(/beyond/);
    expect(() =>
      defineStruct({ name: 'bad', size: 12, fields: { a: { offset: 0, type: 'u64' } } }),
    ).toThrow(/multiple/);
    expect(() =>
      defineStruct({ name: 'bad', size: 8, fields: { a: { offset: 0, type: 'u8', count: 0 } } }),
    ).toThrow(/count/);
  });

  it('experimental layouts: VFIO style argsz/flags first, minsz at the end of the data', () => {
    const m = experimental.vfio_device_addr_mapping;
    expect(m.offsetofEnd('config_addr')).toBe(20);
    expect(m.size).toBe(24);
    expect(experimental.kvm_vfio_eeh_mapping.offsetofEnd('pe_config_addr')).toBe(20);
  });
});
