/**
 * A BAR's bank of 32-bit device registers, declared as a table (offset,
 * reset value, access type, optional read/write hooks), the MMIO
 * counterpart of the config-space engine. Sub-word accesses read or merge
 * the lanes of the 32-bit register, little-endian as on PCI.
 *
 * Performance: a plain register read is an array load; a hooked one is one
 * call. This is the inner end of the healthy MMIO hot path.
 */
import type { AccessSize } from './config_space.js';

export type RegisterAccess =
  /** read-only to software; the device sets it */
  | 'ro'
  /** read-write */
  | 'rw'
  /** write-1-to-clear status */
  | 'w1c'
  /** write-only: reads 0, writes go to the hook */
  | 'wo';

export interface MmioRegisterDef {
  readonly name: string;
  /** Byte offset in the BAR (multiple of 4). */
  readonly offset: number;
  readonly access: RegisterAccess;
  readonly reset?: number;
  /** Computes the value on each read (dynamic registers). */
  readonly read?: () => number;
  /** Called after the register took the written value (with the full 32-bit value). */
  readonly write?: (value: number) => void;
}

const LANE_MASK: Readonly<Record<AccessSize, number>> = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff };
const PLAIN = 0;
const HOOKED = 1;
const WRITE_ONLY = 2;
const zero = (): number => 0;

/*
 * Fields are `declare`d and assigned once in the constructor: a class-field
 * declaration would first define them as undefined, and V8 then loses the
 * field's exact type and re-checks the typed array on every load (this
 * halves the speed of the MMIO hot path).
 */
export class RegisterBank {
  declare readonly size: number;
  declare private readonly values: Uint32Array;
  declare private readonly resets: Uint32Array;
  /** Per register: PLAIN (an array load on read), HOOKED (computed) or WRITE_ONLY (reads 0). */
  declare private readonly readKind: Uint8Array;
  declare private readonly access: (RegisterAccess | undefined)[];
  declare private readonly readHooks: (() => number)[];
  declare private readonly writeHooks: (((v: number) => void) | undefined)[];

  constructor(size: number, defs: readonly MmioRegisterDef[]) {
    this.size = size;
    const n = size >>> 2;
    this.values = new Uint32Array(n);
    this.resets = new Uint32Array(n);
    this.readKind = new Uint8Array(n);
    this.access = new Array(n).fill(undefined);
    this.readHooks = new Array(n).fill(zero);
    this.writeHooks = new Array(n).fill(undefined);
    for (const d of defs) {
      const i = d.offset >>> 2;
      if (d.offset % 4 !== 0 || i >= n || this.access[i] !== undefined) {
        throw new RangeError(`register ${d.name} at 0x${d.offset.toString(16)}`);
      }
      this.access[i] = d.access;
      this.resets[i] = d.reset ?? 0;
      if (d.read) {
        this.readHooks[i] = d.read;
        this.readKind[i] = HOOKED;
      }
      if (d.access === 'wo') this.readKind[i] = WRITE_ONLY;
      this.writeHooks[i] = d.write;
    }
    this.values.set(this.resets);
  }

  read(offset: number, size: AccessSize): number {
    const i = offset >>> 2;
    const v = this.readKind[i] === PLAIN ? (this.values[i] as number) : this.readSpecial(i);
    if (size === 4) return v;
    return (v >>> ((offset & 3) * 8)) & LANE_MASK[size];
  }

  private readSpecial(i: number): number {
    return this.readKind[i] === WRITE_ONLY ? 0 : (this.readHooks[i] as () => number)() >>> 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    const i = offset >>> 2;
    const acc = this.access[i];
    if (acc === undefined || acc === 'ro') return;
    const shift = (offset & 3) * 8;
    const lanes = (LANE_MASK[size] << shift) >>> 0;
    const v = ((value << shift) & lanes) >>> 0;
    const old = this.values[i] as number;
    let next: number;
    if (acc === 'w1c') next = (old & ~v) >>> 0;
    else next = ((old & ~lanes) | v) >>> 0;
    if (acc !== 'wo') this.values[i] = next;
    this.writeHooks[i]?.(acc === 'wo' ? v : next);
  }

  /**
   * The bank as a direct-mapped region (PciFunction.directRead): the values
   * array and the bytes from offset 0 up to the first register with a read
   * hook (plain, write-only and unimplemented registers read their stored
   * value, which for those never changes from 0).
   */
  direct(): { readonly words: Uint32Array; readonly size: number } {
    const firstHook = this.readKind.indexOf(HOOKED);
    return { words: this.values, size: (firstHook < 0 ? this.readKind.length : firstHook) * 4 };
  }

  /** Device-side access to a register value (ignores the access type). */
  get(offset: number): number {
    return this.values[offset >>> 2] as number;
  }

  set(offset: number, value: number): void {
    this.values[offset >>> 2] = value >>> 0;
  }

  setBits(offset: number, bits: number): void {
    this.set(offset, this.get(offset) | bits);
  }

  clearBits(offset: number, bits: number): void {
    this.set(offset, this.get(offset) & ~bits);
  }

  reset(): void {
    this.values.set(this.resets);
  }
}
