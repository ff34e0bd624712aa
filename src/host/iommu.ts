/**
 * IOMMU groups of the powernv host: one group per PE (the PE is the unit
 * the PHB isolates, so it is the unit VFIO can hand to a user), holding
 * every PCI function of the PE, with the PE's DMA window (TCE table) behind
 * it. cf. arch/powerpc/platforms/powernv/pci-ioda.c
 * (pnv_pci_ioda_setup_iommu_api, pnv_ioda_setup_bus_iommu_group,
 * pnv_pci_ioda2_setup_default_config) and arch/powerpc/kernel/iommu.c
 * (iommu_tce_xchg_no_kill, iommu_register_group).
 *
 * This is the host side of the `IommuGroupBackend` contract of src/vfio.
 */
import type { Pe } from '../hw/pe.js';
import { TCE_PAGE_SHIFT, TCE_PAGE_SIZE, TCE_PCI_READ, TCE_PCI_WRITE } from '../hw/tce.js';
import type { EehPe } from '../kernel/eeh_dev.js';
import type { Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import { EINVAL, ENODEV } from '../uapi/errno.js';
import type { Hpa, Iova } from '../uapi/ids.js';
import type { HostPciDev } from './pci_dev.js';
import type { HostPciFunction, IommuGroupBackend, TceWindowInfo } from './vfio_backend.js';
import './trace_events.js';

const hex = (n: number): string => `0x${n.toString(16)}`;

/** What an IOMMU group needs from the host to describe its devices to VFIO. */
export interface IommuHost {
  readonly sim: Sim;
  functionView(pdev: HostPciDev): HostPciFunction;
}

export class IommuGroup implements IommuGroupBackend {
  /** The PCI functions of the PE, in bus order. */
  readonly pdevs: HostPciDev[] = [];
  /** Pages currently mapped through this group (for inspection). */
  mappedPages = 0;

  constructor(
    private readonly host: IommuHost,
    /** iommu_group_id(): allocated in creation order from 0, as the IOMMU core's ida. */
    readonly id: number,
    /** The host EEH PE (eeh_iommu_group_to_pe). */
    readonly eehPe: EehPe,
    /**
     * The hardware PE whose TCE table this group programs.
     * MODEL: the host writes TCEs straight into the PE's table, as Linux
     * does (the table lives in host memory; only the TCE cache kill is an
     * MMIO, charged as one mmio_write per call).
     */
    private readonly hwPe: Pe,
  ) {}

  devices(): readonly HostPciFunction[] {
    return this.pdevs.filter((p) => !p.removed).map((p) => this.host.functionView(p));
  }

  pe(): EehPe | undefined {
    return this.eehPe;
  }

  tceInfo(): TceWindowInfo {
    const size = this.hwPe.tce?.windowSize ?? 0;
    return {
      start: 0,
      size,
      pageShift: TCE_PAGE_SHIFT,
      pageSizes: 1n << BigInt(TCE_PAGE_SHIFT),
      // MODEL: no dynamic DMA windows (the hardware has one 32-bit window
      // per PE, 4 KiB TCE pages, a one-level table).
      maxDynamicWindows: 0,
      levels: 1,
    };
  }

  *tceMap(iova: Iova, hpa: Hpa, size: number, perm: number): Task<number> {
    const rc = this.map(iova, hpa, size, perm);
    if (rc === 0) yield* this.host.sim.charge('mmio_write');
    this.host.sim.trace.emit('host.iommu.map', {
      group: this.id,
      iova: hex(iova),
      size: hex(size),
      perm,
      rc,
    });
    return rc;
  }

  *tceUnmap(iova: Iova, size: number): Task<number> {
    const rc = this.unmap(iova, size);
    if (rc === 0) yield* this.host.sim.charge('mmio_write');
    this.host.sim.trace.emit('host.iommu.unmap', {
      group: this.id,
      iova: hex(iova),
      size: hex(size),
      rc,
    });
    return rc;
  }

  /** Non-blocking map (the host's own dma_map for its drivers). All or nothing. */
  map(iova: number, hpa: number, size: number, perm: number): number {
    const t = this.hwPe.tce;
    if (!t) return -ENODEV;
    if (
      !Number.isSafeInteger(iova) ||
      !Number.isSafeInteger(hpa) ||
      !Number.isSafeInteger(size) ||
      size <= 0 ||
      iova % TCE_PAGE_SIZE !== 0 ||
      hpa % TCE_PAGE_SIZE !== 0 ||
      size % TCE_PAGE_SIZE !== 0 ||
      iova < 0 ||
      iova + size > t.windowSize ||
      (perm & (TCE_PCI_READ | TCE_PCI_WRITE)) === 0 ||
      perm & ~(TCE_PCI_READ | TCE_PCI_WRITE)
    ) {
      return -EINVAL;
    }
    for (let off = 0; off < size; off += TCE_PAGE_SIZE) {
      if (t.lookup(iova + off) === undefined) this.mappedPages++;
      t.put((iova + off) as Iova, (hpa + off) as Hpa, perm);
    }
    return 0;
  }

  /** Non-blocking unmap; pages that were not mapped are fine. */
  unmap(iova: number, size: number): number {
    const t = this.hwPe.tce;
    if (!t) return -ENODEV;
    if (
      !Number.isSafeInteger(iova) ||
      !Number.isSafeInteger(size) ||
      size <= 0 ||
      iova % TCE_PAGE_SIZE !== 0 ||
      size % TCE_PAGE_SIZE !== 0 ||
      iova < 0 ||
      iova + size > t.windowSize
    ) {
      return -EINVAL;
    }
    for (let off = 0; off < size; off += TCE_PAGE_SIZE) {
      if (t.lookup(iova + off) !== undefined) this.mappedPages--;
      t.clear((iova + off) as Iova);
    }
    return 0;
  }
}
