/**
 * What a host PCI driver may use of the host kernel: the EEH-checked MMIO
 * accessors (readl / writel of arch/powerpc/include/asm/eeh.h and io.h),
 * config space of its device (pci_read_config_* / pci_write_config_*),
 * coherent DMA memory mapped through the device's IOMMU group
 * (dma_alloc_coherent), and the clock. Drivers never touch the hardware
 * objects directly: everything crosses the CPU -> PHB boundary.
 */

import type { Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import type { Hpa } from '../uapi/ids.js';
import type { HostPciDev } from './pci_dev.js';

/** A coherent DMA buffer: host memory plus the IOVA the device uses for it. */
export interface DmaBuffer {
  readonly hpa: Hpa;
  readonly iova: number;
  readonly size: number;
}

export interface DriverHost {
  readonly sim: Sim;
  /** eeh_readl(): a 32-bit CPU load; all 1s runs eeh_check_failure() on the address. */
  readl(addr: number): Task<number>;
  /** writel(): a posted 32-bit CPU store. */
  writel(addr: number, value: number): Task<void>;
  /** pci_read_config_*(): all 1s when the access failed or config is blocked. */
  configRead(pdev: HostPciDev, where: number, size: 1 | 2 | 4): Task<number>;
  /** pci_write_config_*() */
  configWrite(pdev: HostPciDev, where: number, size: 1 | 2 | 4, value: number): Task<void>;
  /** dma_alloc_coherent(): undefined when memory or IOVA space ran out. */
  dmaAlloc(pdev: HostPciDev, size: number): DmaBuffer | undefined;
  dmaFree(pdev: HostPciDev, buf: DmaBuffer): void;
  /** CPU access to the DMA buffer's memory (the kernel's virtual mapping of it). */
  memRead(hpa: number, dst: Uint8Array): void;
  memWrite(hpa: number, src: Uint8Array): void;
}
