/**
 * What VFIO needs from the host kernel - the contract between src/vfio/ and
 * src/host/. It lives with the host (the layer that provides it), so VFIO,
 * the layer above, imports it.
 *
 * The host implements `VfioBackend` (HostKernel.vfioBackend()) and passes it
 * to `new Vfio(sim, backend)`; then `vfio.register(syscalls)` creates
 * `/dev/vfio/vfio` and `/dev/vfio/<group>`. VFIO never reaches into the host
 * through anything else, so everything below is all you need to provide.
 * It stands for the kernel interfaces drivers/vfio uses:
 *
 * | here                        | Linux                                                  |
 * |-----------------------------|--------------------------------------------------------|
 * | `iommuGroup(id)`            | iommu_group (one per PE on powernv, pnv_pci_ioda_setup_iommu_api) |
 * | `IommuGroupBackend.devices` | iommu_group_for_each_dev()                             |
 * | `IommuGroupBackend.pe`      | eeh_iommu_group_to_pe() (arch/powerpc/kernel/eeh.c)    |
 * | `tceInfo / tceMap / tceUnmap` | struct iommu_table_group + iommu_tce_xchg_no_kill()  |
 * | `HostPciFunction.*`         | struct pci_dev as vfio-pci uses it (vfio_pci_core.c)   |
 * | `eeh`, `eehEnabled`         | eeh_pe_*() / eeh_dev_open() / eeh_enabled()            |
 *
 * Rules for implementers:
 * - Methods returning `Task` may block (charge costs, sleep); the others
 *   must not. Return -errno, never throw, for conditions the kernel reports.
 * - Addresses are host physical (`Hpa`): the model's process virtual
 *   address equals the host physical address (see src/host/process.ts), so
 *   VFIO passes the caller's `vaddr` as the `hpa` of a TCE after it has
 *   checked that the range belongs to the calling process.
 * - VFIO validates every TCE request (window bounds, alignment to
 *   `pageShift`, permission) before calling `tceMap` / `tceUnmap`; an error
 *   from them is a platform failure (firmware refused) and must leave the
 *   table unchanged (all-or-nothing).
 * - `vfioBound` may change at any time (driver bind / unbind through the
 *   host's PCI core); VFIO re-reads it on every GROUP_GET_STATUS,
 *   GROUP_SET_CONTAINER and GROUP_GET_DEVICE_FD.
 */
import type { EehCore } from '../kernel/eeh.js';
import type { EehDev, EehPe } from '../kernel/eeh_dev.js';
import type { Task } from '../sim/scheduler.js';
import type { Hpa, Iova } from '../uapi/ids.js';

/** The device may read the page (DMA read, memory -> device). = TCE_PCI_READ, asm/tce.h */
export const TCE_PCI_READ = 0x1;
/** The device may write the page (DMA write, device -> memory). = TCE_PCI_WRITE, asm/tce.h */
export const TCE_PCI_WRITE = 0x2;
/** TCE_PCI_READ | TCE_PCI_WRITE, one or both set. */
export type TcePerm = number;

/**
 * The DMA window of a group (struct iommu_table_group as powernv fills it in
 * pnv_pci_ioda2_setup_default_config / pnv_ioda_setup_bus_iommu_group).
 */
export interface TceWindowInfo {
  /** tce32_start: first PCI bus address (IOVA) of the default 32-bit window, bytes. */
  readonly start: number;
  /** tce32_size: bytes of IOVA the default window covers; 0 = no window (IOMMU_ENABLE -EPERM). */
  readonly size: number;
  /** log2 of the IOMMU page size of the default window (12 = 4 KiB, what VFIO creates). */
  readonly pageShift: number;
  /** pgsizes: bitmask of supported IOMMU page sizes (bit n = 2^n bytes). */
  readonly pageSizes: bigint;
  /**
   * max_dynamic_windows_supported: 0 on platforms without DDW. A
   * VFIO_SPAPR_TCE_v2_IOMMU container refuses groups with 0 (-EINVAL).
   */
  readonly maxDynamicWindows: number;
  /** max_levels of a TCE table. */
  readonly levels: number;
}

/** One BAR of a PCI function (pci_resource_start/len/flags). */
export interface BarInfo {
  /** 0..5 */
  readonly index: number;
  /** CPU (host physical) address the BAR is assigned at - what mmap() of the region maps. */
  readonly hostAddress: Hpa;
  /** Bytes; 0 = BAR not implemented. */
  readonly size: number;
  /** IORESOURCE_MEM or IORESOURCE_IO. Only memory BARs can be mmapped. */
  readonly kind: 'mem' | 'io';
  readonly is64: boolean;
  readonly prefetchable: boolean;
}

/** A PCI function of an IOMMU group, as vfio-pci sees it. */
export interface HostPciFunction {
  /** dev_name(): `0000:01:00.0` (domain:bus:device.function, lower-case hex). */
  readonly name: string;
  /** Bound to vfio-pci (decides group viability and GET_DEVICE_FD lookup). */
  readonly vfioBound: boolean;
  /** The EEH device (pci_dev_to_eeh_dev) for eeh_dev_open / eeh_dev_release; undefined without EEH. */
  readonly edev: EehDev | undefined;
  /** pdev->cfg_size: 256, or 4096 with PCIe extended config space. */
  readonly cfgSize: number;
  /** pci_is_pcie(): decides whether VFIO_PCI_ERR_IRQ_INDEX exists. */
  readonly isPcie: boolean;
  /** PCI_INTERRUPT_PIN (0 = no INTx). */
  readonly intxPin: number;
  /** MSI vectors the capability offers (0 = no MSI capability). */
  readonly msiVectors: number;
  /** MSI-X table size (0 = no MSI-X capability). */
  readonly msixVectors: number;
  /** vdev->reset_works: the function has a reset method (FLR, PM, bus). */
  readonly resetWorks: boolean;
  /** The six standard BARs (index 0..5); undefined or size 0 where not implemented. */
  bar(index: number): BarInfo | undefined;
  /**
   * pci_user_read_config_*(): a naturally aligned access inside cfgSize.
   * Returns the value read - all 1s when the PE is frozen or config is blocked.
   */
  configRead(where: number, size: 1 | 2 | 4): Task<number>;
  /** pci_user_write_config_*(): 0 or -errno. */
  configWrite(where: number, size: 1 | 2 | 4, value: number): Task<number>;
  /** pci_try_reset_function() for VFIO_DEVICE_RESET: 0 or -errno. */
  reset(): Task<number>;
}

/** One IOMMU group = one PE on powernv. */
export interface IommuGroupBackend {
  /** iommu_group_id(): the number in /dev/vfio/<id>. */
  readonly id: number;
  /** Every PCI function of the group, bound or not. */
  devices(): readonly HostPciFunction[];
  /** eeh_iommu_group_to_pe(): the group's PE, or undefined (VFIO_EEH_PE_OP -> -ENODEV). */
  pe(): EehPe | undefined;
  tceInfo(): TceWindowInfo;
  /**
   * Installs TCEs so that device DMA to [iova, iova + size) reaches
   * [hpa, hpa + size) with `perm`; existing entries are replaced. VFIO has
   * checked alignment to the window's page size and the window bounds.
   * 0, or -errno with the table unchanged.
   */
  tceMap(iova: Iova, hpa: Hpa, size: number, perm: TcePerm): Task<number>;
  /** Clears the TCEs of [iova, iova + size) (absent ones are fine). 0 or -errno. */
  tceUnmap(iova: Iova, size: number): Task<number>;
}

/** The host kernel as VFIO sees it. */
export interface VfioBackend {
  /** The host's generic EEH core: VFIO_EEH_PE_OP and eeh_dev_open/release call into it. */
  readonly eeh: EehCore;
  /** eeh_enabled(): VFIO_CHECK_EXTENSION(VFIO_EEH) returns 1 when true. */
  eehEnabled(): boolean;
  /** All IOMMU groups, ascending by id. */
  iommuGroups(): readonly IommuGroupBackend[];
  iommuGroup(id: number): IommuGroupBackend | undefined;
  /**
   * PROPOSAL (+notify, not upstream): VFIO hands the host its AER-style
   * error path - `signal(device)` signals the error eventfd of the open
   * vfio-pci device of that name (false: not open or no trigger set) - for
   * the host to call when it finds a passed-through PE frozen. Optional: a
   * host that never notifies ignores it.
   */
  setErrorNotify?(signal: (device: string) => boolean): void;
}
