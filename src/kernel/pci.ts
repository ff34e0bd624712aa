/**
 * The parts of the Linux PCI core the EEH model needs, common to the host
 * kernel and the guest kernel: devices, drivers with error handlers
 * (include/linux/pci.h struct pci_dev, struct pci_driver,
 * struct pci_error_handlers) and the MMIO accessors.
 */
import type { Task } from '../sim/scheduler.js';
import type { Bdf } from '../uapi/ids.js';
import type { PciChannelState, PciErsResult } from './eeh_consts.js';
import type { EehDev } from './eeh_dev.js';

/** struct pci_error_handlers: every callback is optional. */
export interface PciErrorHandlers {
  errorDetected?(pdev: PciDev, state: PciChannelState): Task<PciErsResult>;
  mmioEnabled?(pdev: PciDev): Task<PciErsResult>;
  slotReset?(pdev: PciDev): Task<PciErsResult>;
  resume?(pdev: PciDev): Task<void>;
}

/** struct pci_driver */
export interface PciDriver {
  readonly name: string;
  readonly errHandler: PciErrorHandlers | undefined;
  /** Whether the driver binds to this vendor/device id. */
  matches(vendor: number, device: number): boolean;
  probe(pdev: PciDev): Task<number>;
  remove(pdev: PciDev): Task<void>;
}

/** A memory resource (BAR) as assigned by the PCI core: CPU-visible address and size. */
export interface Resource {
  readonly index: number;
  start: number;
  size: number;
  readonly is64: boolean;
}

/** MMIO accessors of one kernel: a CPU load/store to an address. */
export interface MmioOps {
  read(addr: number, size: 1 | 2 | 4): Task<number>;
  write(addr: number, size: 1 | 2 | 4, value: number): Task<void>;
}

export class PciDev {
  driver: PciDriver | undefined;
  errorState: PciChannelState = 'normal';
  edev: EehDev | undefined;
  /** Set once the device was hot-removed (pci_stop_and_remove_bus_device). */
  removed = false;
  /** Config space saved by eeh_save_bars(): the first 16 dwords. */
  saved: number[] | undefined;
  constructor(
    /** Domain (PHB index in this kernel). */
    readonly domain: number,
    readonly bdf: Bdf,
    readonly vendor: number,
    readonly device: number,
    readonly isBridge: boolean,
    readonly resources: Resource[],
  ) {}

  /** The resource (BAR) that contains `addr`, if any. */
  resourceAt(addr: number): Resource | undefined {
    return this.resources.find((r) => r.size > 0 && addr >= r.start && addr < r.start + r.size);
  }
}

/** All 1s of an access size (the value a frozen PE returns). */
export function allOnes(size: 1 | 2 | 4): number {
  return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
}
