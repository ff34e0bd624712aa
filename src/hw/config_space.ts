/**
 * PCI configuration space as a declarative register table: every register
 * is declared once with its reset value, the bits software may write, the
 * write-1-to-clear bits and the sticky bits (kept across a hot reset, as
 * AER status is). The engine enforces the masks for every device, so BAR
 * sizing, read-only ids and RW1C status bits behave the same everywhere.
 *
 * Bytes not covered by a register read as 0 and ignore writes (reserved).
 * Values are little-endian as on the PCI bus. The freeze rule (all 1s on a
 * frozen PE) is not here: it lives once in the PHB, which decides whether a
 * config cycle reaches the device at all.
 */
import {
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_CAPABILITY_LIST,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_EXT_CAP_ID,
  PCI_EXT_CAP_NEXT,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
} from '../uapi/pci_regs.js';

export type AccessSize = 1 | 2 | 4;
export type ResetKind = 'hot' | 'fundamental';

export interface RegisterDef {
  readonly offset: number;
  readonly size: AccessSize;
  readonly name?: string;
  /** Value after reset (default 0). */
  readonly reset?: number;
  /** Bits software can change (default none: read-only). */
  readonly writable?: number;
  /** Write-1-to-clear bits (status bits set by the hardware). */
  readonly rw1c?: number;
  /** Bits that keep their value across a hot reset (RWS / RW1CS). */
  readonly sticky?: number;
}

export class ConfigSpaceError extends Error {
  override name = 'ConfigSpaceError';
}

export const ALL_ONES: Readonly<Record<AccessSize, number>> = {
  1: 0xff,
  2: 0xffff,
  4: 0xffff_ffff,
};

export class ConfigSpace {
  readonly size: number;
  private readonly data: Uint8Array;
  private readonly resetImage: Uint8Array;
  private readonly wmask: Uint8Array;
  private readonly w1cmask: Uint8Array;
  private readonly stickymask: Uint8Array;
  private readonly defined: Uint8Array;
  private readonly names = new Map<number, string>();

  constructor(size: number = PCI_CFG_SPACE_EXP_SIZE) {
    if (size !== PCI_CFG_SPACE_SIZE && size !== PCI_CFG_SPACE_EXP_SIZE) {
      throw new ConfigSpaceError(`config space size must be 256 or 4096, not ${size}`);
    }
    this.size = size;
    this.data = new Uint8Array(size);
    this.resetImage = new Uint8Array(size);
    this.wmask = new Uint8Array(size);
    this.w1cmask = new Uint8Array(size);
    this.stickymask = new Uint8Array(size);
    this.defined = new Uint8Array(size);
  }

  /** Declares one register; registers may not overlap. */
  define(def: RegisterDef): this {
    const { offset, size } = def;
    if (offset < 0 || offset + size > this.size || offset % size !== 0) {
      throw new ConfigSpaceError(`register ${def.name ?? ''} at 0x${offset.toString(16)}/${size}`);
    }
    for (let i = 0; i < size; i++) {
      if (this.defined[offset + i]) {
        throw new ConfigSpaceError(
          `register ${def.name ?? ''} at 0x${offset.toString(16)} overlaps ${this.nameAt(offset + i)}`,
        );
      }
    }
    const rw1c = def.rw1c ?? 0;
    const writable = (def.writable ?? 0) & ~rw1c;
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      const shift = 8 * i;
      this.defined[o] = 1;
      this.resetImage[o] = ((def.reset ?? 0) >>> shift) & 0xff;
      this.data[o] = this.resetImage[o] as number;
      this.wmask[o] = (writable >>> shift) & 0xff;
      this.w1cmask[o] = (rw1c >>> shift) & 0xff;
      this.stickymask[o] = ((def.sticky ?? 0) >>> shift) & 0xff;
    }
    if (def.name) this.names.set(offset, def.name);
    return this;
  }

  /** Name of the register covering `offset`, for messages. */
  nameAt(offset: number): string {
    for (let o = offset; o >= Math.max(0, offset - 3); o--) {
      const n = this.names.get(o);
      if (n !== undefined) return n;
    }
    return `0x${offset.toString(16)}`;
  }

  isDefined(offset: number): boolean {
    return this.defined[offset] === 1;
  }

  /** A config read as the device answers it (little-endian, any alignment inside the space). */
  read(offset: number, size: AccessSize): number {
    this.check(offset, size);
    const d = this.data;
    if (size === 1) return d[offset] as number;
    if (size === 2) return (d[offset] as number) | ((d[offset + 1] as number) << 8);
    return (
      ((d[offset] as number) |
        ((d[offset + 1] as number) << 8) |
        ((d[offset + 2] as number) << 16) |
        ((d[offset + 3] as number) << 24)) >>>
      0
    );
  }

  /** A config write: only writable bits change, RW1C bits written with 1 clear. */
  write(offset: number, size: AccessSize, value: number): void {
    this.check(offset, size);
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      const v = (value >>> (8 * i)) & 0xff;
      const w = this.wmask[o] as number;
      let b = ((this.data[o] as number) & ~w) | (v & w);
      b &= ~(v & (this.w1cmask[o] as number));
      this.data[o] = b & 0xff;
    }
  }

  /** Adds read-only bits to a register's reset value (and to its current value). */
  setResetBits(offset: number, size: AccessSize, bits: number): void {
    for (let i = 0; i < size; i++) {
      const b = (bits >>> (8 * i)) & 0xff;
      this.resetImage[offset + i] = (this.resetImage[offset + i] as number) | b;
      this.data[offset + i] = (this.data[offset + i] as number) | b;
    }
  }

  /** Sets bits from the device side (status bits, link state), ignoring the masks. */
  setBits(offset: number, size: AccessSize, bits: number): void {
    this.poke(offset, size, this.read(offset, size) | bits);
  }

  clearBits(offset: number, size: AccessSize, bits: number): void {
    this.poke(offset, size, this.read(offset, size) & ~bits);
  }

  /** Stores a value from the device side, ignoring the masks. */
  poke(offset: number, size: AccessSize, value: number): void {
    this.check(offset, size);
    for (let i = 0; i < size; i++) this.data[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  /**
   * Back to reset values. A hot reset keeps sticky bits (PCIe RWS/RW1CS);
   * a fundamental reset (power-on, PERST#) resets everything.
   */
  reset(kind: ResetKind): void {
    if (kind === 'fundamental') {
      this.data.set(this.resetImage);
      return;
    }
    for (let o = 0; o < this.size; o++) {
      const s = this.stickymask[o] as number;
      this.data[o] = ((this.resetImage[o] as number) & ~s) | ((this.data[o] as number) & s);
    }
  }

  /** Offset of the first capability with `id` in the standard list, or 0. */
  findCapability(id: number): number {
    if (!(this.read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) return 0;
    let pos = this.read(PCI_CAPABILITY_LIST, 1) & ~3;
    for (let ttl = 48; pos >= 0x40 && ttl > 0; ttl--) {
      if (this.read(pos + PCI_CAP_LIST_ID, 1) === id) return pos;
      pos = this.read(pos + PCI_CAP_LIST_NEXT, 1) & ~3;
    }
    return 0;
  }

  /** Offset of the first extended capability with `id` (from 0x100), or 0. */
  findExtCapability(id: number): number {
    if (this.size <= PCI_CFG_SPACE_SIZE) return 0;
    let pos = PCI_CFG_SPACE_SIZE;
    for (let ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8; ttl > 0; ttl--) {
      const header = this.read(pos, 4);
      if (header === 0) return 0;
      if (PCI_EXT_CAP_ID(header) === id) return pos;
      pos = PCI_EXT_CAP_NEXT(header);
      if (pos < PCI_CFG_SPACE_SIZE) return 0;
    }
    return 0;
  }

  private check(offset: number, size: AccessSize): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.size) {
      throw new ConfigSpaceError(`config access 0x${offset.toString(16)}/${size} outside space`);
    }
  }
}
