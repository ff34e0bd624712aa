/**
 * What KVM needs from the hardware to let a guest touch a passed-through BAR
 * without an exit: loads and stores at host physical addresses. The hardware
 * layer (src/hw) provides it; KVM only translates guest-physical to
 * host-physical through its MMIO memory slots.
 *
 * cf. a VFIO BAR mmap()ed by QEMU and registered as a KVM memory slot:
 * KVM maps the device pages into the guest's partition-scoped page table
 * (cache-inhibited), so the guest's loads and stores reach the PHB directly.
 */
import type { Hpa } from '../uapi/ids.js';

export type MmioSize = 1 | 2 | 4;

export interface HostMmio {
  /** A load of `size` bytes at host physical `hpa` (all 1s where nothing answers). */
  mmioRead(hpa: Hpa, size: MmioSize): number;
  /** A store of `size` bytes at host physical `hpa`. */
  mmioWrite(hpa: Hpa, size: MmioSize, value: number): void;
}

/** All 1s of an access size: what a load returns where nothing answers. */
export const ALL_ONES: Readonly<Record<MmioSize, number>> = Object.freeze({
  1: 0xff,
  2: 0xffff,
  4: 0xffff_ffff,
});
