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

export class RegisterBank {
  private readonly values: Uint32Array;
  private readonly resets: Uint32Array;
  private readonly access: (RegisterAccess | undefined)[];
  private readonly readHooks: ((() => number) | undefined)[];
  private readonly writeHooks: (((v: number) => void) | undefined)[];

  constructor(
    readonly size: number,
    defs: readonly MmioRegisterDef[],
  ) {
    const n = size >>> 2;
    this.values = new Uint32Array(n);
    this.resets = new Uint32Array(n);
    this.access = new Array(n).fill(undefined);
    this.readHooks = new Array(n).fill(undefined);
    this.writeHooks = new Array(n).fill(undefined);
    for (const d of defs) {
      const i = d.offset >>> 2;
      if (d.offset % 4 !== 0 || i >= n || this.access[i] !== undefined) {
        throw new RangeError(`register ${d.name} at 0x${d.offset.toString(16)}`);
      }
      this.access[i] = d.access;
      this.resets[i] = d.reset ?? 0;
      this.readHooks[i] = d.read;
      this.writeHooks[i] = d.write;
    }
    this.values.set(this.resets);
  }

  read(offset: number, size: AccessSize): number {
    const i = offset >>> 2;
    const hook = this.readHooks[i];
    let v = hook === undefined ? (this.values[i] as number) : hook() >>> 0;
    if (this.access[i] === 'wo') v = 0;
    if (size === 4) return v;
    return (v >>> ((offset & 3) * 8)) & LANE_MASK[size];
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
