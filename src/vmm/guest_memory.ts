/**
 * The VMM's view of guest RAM: its own anonymous mapping (what QEMU's
 * address_space_memory reaches for RAM). rtas_ld / rtas_st of
 * include/hw/ppc/spapr.h, with ppc64_phys_to_real() masking the top 4 bits.
 *
 * An access outside RAM behaves as QEMU's unassigned memory: loads read 0,
 * stores are dropped (no error reaches the guest).
 */
import type { HostMemory } from '../hw/memory.js';
import { hpa } from '../uapi/ids.js';

const REAL_MASK = 0x0fff_ffff_ffff_ffffn;

export class VmmGuestMemory {
  constructor(
    private readonly memory: HostMemory,
    /** Where the VMM mapped guest RAM (its address = HPA, see src/host/process.ts). */
    readonly base: number,
    readonly size: number,
  ) {}

  /** GPA -> offset in RAM, or undefined when [gpa, gpa+len) is not RAM. */
  private at(gpa: bigint | number, len: number): number | undefined {
    const g = (typeof gpa === 'bigint' ? gpa : BigInt(gpa)) & REAL_MASK;
    if (g < 0n || g + BigInt(len) > BigInt(this.size)) return undefined;
    return Number(g);
  }

  /** Whether [gpa, gpa+len) is guest RAM. */
  contains(gpa: bigint | number, len: number): boolean {
    return this.at(gpa, len) !== undefined;
  }

  /** ldl_be_phys() */
  ldl(gpa: bigint | number): number {
    const o = this.at(gpa, 4);
    if (o === undefined) return 0;
    const b = new Uint8Array(4);
    this.memory.read(hpa(this.base + o), b);
    return new DataView(b.buffer).getUint32(0);
  }

  /** stl_be_phys() */
  stl(gpa: bigint | number, value: number): void {
    const o = this.at(gpa, 4);
    if (o === undefined) return;
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0);
    this.memory.write(hpa(this.base + o), b);
  }

  read(gpa: bigint | number, dst: Uint8Array): boolean {
    const o = this.at(gpa, dst.length);
    if (o === undefined) return false;
    this.memory.read(hpa(this.base + o), dst);
    return true;
  }

  write(gpa: bigint | number, src: Uint8Array): boolean {
    const o = this.at(gpa, src.length);
    if (o === undefined) return false;
    this.memory.write(hpa(this.base + o), src);
    return true;
  }

  /** The VMM virtual address (= HPA) of a guest-physical address in RAM (vfio_get_xlat_addr). */
  vaddr(gpa: number, len: number): number | undefined {
    const o = this.at(gpa, len);
    return o === undefined ? undefined : this.base + o;
  }
}
