/**
 * Virtual PHBs of the sPAPR machine and the vfio-pci devices on them
 * (cf. QEMU hw/ppc/spapr_pci.c, include/hw/pci-host/spapr.h,
 * hw/vfio/pci.c for the config-space handling of a passed-through device).
 *
 * One virtual PHB = one guest PCI domain with a BUID, one VFIO container
 * holding exactly one IOMMU group (QEMU's EEH needs that), one DMA window
 * (LIOBN) and the passed-through functions of that group on its root bus.
 */
import type { Task } from '../sim/scheduler.js';
import { type Bdf, type Buid, bdf, type Gpa, type Hpa, buid as toBuid } from '../uapi/ids.js';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAP_ID_MSIX,
  PCI_CAPABILITY_LIST,
  PCI_ROM_ADDRESS,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
} from '../uapi/pci_regs.js';
import { rtasConfigAddr } from '../uapi/rtas.js';
import { VFIO_PCI_MSIX_IRQ_INDEX } from '../uapi/vfio.js';
import type { Result, VfioUser } from './vfio_user.js';

/** include/hw/pci-host/spapr.h */
export const SPAPR_PCI_BASE_BUID = 0x800000020000000n;
/**
 * MODEL: the guest MMIO window of PHB `index` as QEMU placed it before 2.8
 * (SPAPR_PCI_WINDOW_BASE + index * SPAPR_PCI_WINDOW_SPACING +
 * SPAPR_PCI_MMIO_WIN_OFF); newer QEMU computes it in spapr_phb_placement().
 */
export const SPAPR_PCI_WINDOW_BASE = 0x100_0000_0000;
export const SPAPR_PCI_WINDOW_SPACING = 0x10_0000_0000;
export const SPAPR_PCI_MMIO_WIN_OFF = 0xa000_0000;

/** include/hw/ppc/spapr.h SPAPR_PCI_LIOBN(phb_index, window_num) */
export const spaprPciLiobn = (index: number, window: number): number =>
  (0x8000_0000 | (index << 8) | window) >>> 0;

export const spaprPhbBuid = (index: number): Buid => toBuid(SPAPR_PCI_BASE_BUID + BigInt(index));

/** PCI_MSIX_FLAGS / PCI_MSIX_FLAGS_ENABLE (include/uapi/linux/pci_regs.h; not in src/uapi yet). */
export const PCI_MSIX_FLAGS = 2;
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;

/** A BAR as the guest sees it: emulated register, guest-physical placement. */
export interface EmulatedBar {
  readonly index: number;
  readonly size: number;
  /** Low flag bits of the physical BAR register (space, type, prefetch). */
  readonly flags: number;
  readonly is64: boolean;
  /** Guest-physical address the VMM mapped the BAR at (KVM memory slot). */
  readonly gpa: Gpa;
  /** Host-physical address mmap() of the VFIO region returned. */
  readonly hpa: Hpa;
  readonly slot: number;
  /** The emulated BAR register value (address bits), as the guest last wrote it. */
  addr: number;
}

const POW32 = 2 ** 32;

/** A vfio-pci device (QEMU's VFIOPCIDevice) on a virtual PHB. */
export class PassthroughDevice {
  readonly bars: EmulatedBar[] = [];
  /** Offset of the MSI-X capability, if the device has one. */
  msixCap: number | undefined;
  /** QEMU's msix_enabled(): the guest set PCI_MSIX_FLAGS_ENABLE. */
  msixEnabled = false;
  /** msix_reset() calls (the emulated MSI-X table/PBA cache cleared). */
  msixResets = 0;
  vendor = 0xffff;
  device = 0xffff;
  private probed: Uint8Array | undefined;

  constructor(
    private readonly vfio: VfioUser,
    /** Host device name (`0000:01:00.0`). */
    readonly host: string,
    readonly fd: number,
    /** Guest bus number (the PHB's root bus: 0). */
    readonly bus: number,
    readonly devfn: number,
    /** File offset of the VFIO config region and its size (256 or 4096). */
    readonly configOffset: number,
    readonly configSize: number,
    private readonly onMsix: (dev: PassthroughDevice, op: string, rc: number) => void,
  ) {}

  get bdf(): Bdf {
    return bdf(this.bus, this.devfn >> 3, this.devfn & 7);
  }

  /** PAPR config address of the function: bus << 16 | devfn << 8. */
  get configAddr(): number {
    return rtasConfigAddr(this.bus, this.devfn);
  }

  /** Reads the first 256 bytes once (QEMU copies config space at realize) for ids and capabilities. */
  *probe(): Task<number> {
    const r = yield* this.vfio.preadBlock(this.fd, this.configOffset, 256);
    if (r.rc !== 0 || !r.value) return r.rc;
    const c = r.value;
    this.probed = c;
    const u16 = (o: number) => (c[o] as number) | ((c[o + 1] as number) << 8);
    this.vendor = u16(0);
    this.device = u16(2);
    if (u16(PCI_STATUS) & PCI_STATUS_CAP_LIST) {
      let ptr = (c[PCI_CAPABILITY_LIST] as number) & 0xfc;
      for (let n = 0; ptr >= 0x40 && n < 48; n++) {
        if (c[ptr] === PCI_CAP_ID_MSIX) {
          this.msixCap = ptr;
          break;
        }
        ptr = (c[ptr + 1] as number) & 0xfc;
      }
    }
    return 0;
  }

  /** Physical BAR register `index` as read at probe time (its low bits give the BAR type). */
  rawBar(index: number): number {
    const c = this.probed;
    if (!c) return 0;
    const o = PCI_BASE_ADDRESS_0 + 4 * index;
    return (
      ((c[o] as number) |
        ((c[o + 1] as number) << 8) |
        ((c[o + 2] as number) << 16) |
        ((c[o + 3] as number) << 24)) >>>
      0
    );
  }

  // ---- config space (hw/vfio/pci.c vfio_pci_read_config / vfio_pci_write_config) ----

  /**
   * MODEL: of what QEMU virtualizes, only the BARs and the expansion ROM
   * register are emulated (so the guest sees and restores its own BAR
   * values, never the host's); everything else - including the MSI-X
   * capability - reads from and writes to the device through VFIO.
   */
  private emulated(reg: number): boolean {
    return (
      (reg >= PCI_BASE_ADDRESS_0 && reg < PCI_BASE_ADDRESS_0 + 24) ||
      (reg >= PCI_ROM_ADDRESS && reg < PCI_ROM_ADDRESS + 4)
    );
  }

  private barDword(k: number): number {
    const lo = this.bars.find((b) => b.index === k);
    if (lo) return ((lo.addr % POW32) | lo.flags) >>> 0;
    const hi = this.bars.find((b) => b.is64 && b.index === k - 1);
    if (hi) return Math.floor(hi.addr / POW32) >>> 0;
    return 0;
  }

  private setBarDword(k: number, v: number): void {
    const lo = this.bars.find((b) => b.index === k);
    if (lo) {
      const mask = (~(lo.size - 1) & ~0xf) >>> 0;
      lo.addr = Math.floor(lo.addr / POW32) * POW32 + ((v & mask) >>> 0);
      return;
    }
    const hi = this.bars.find((b) => b.is64 && b.index === k - 1);
    if (hi) hi.addr = (v >>> 0) * POW32 + (hi.addr % POW32);
  }

  private emulatedDword(reg: number): number {
    if (reg >= PCI_ROM_ADDRESS) return 0; // no expansion ROM
    return this.barDword((reg - PCI_BASE_ADDRESS_0) >> 2);
  }

  /** A naturally aligned config read: the value or -errno. */
  *configRead(reg: number, size: 1 | 2 | 4): Task<Result<number>> {
    if (this.emulated(reg)) {
      const dword = this.emulatedDword(reg & ~3);
      const shift = 8 * (reg & 3);
      const mask = size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
      return { rc: 0, value: ((dword >>> shift) & mask) >>> 0 };
    }
    return yield* this.vfio.pread(this.fd, this.configOffset + reg, size);
  }

  /** A naturally aligned config write: 0 or -errno. */
  *configWrite(reg: number, size: 1 | 2 | 4, value: number): Task<number> {
    if (this.emulated(reg)) {
      if (reg >= PCI_ROM_ADDRESS) return 0;
      const base = reg & ~3;
      const shift = 8 * (reg & 3);
      const mask = size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
      const old = this.emulatedDword(base);
      const merged = ((old & ~(mask << shift)) | ((value & mask) << shift)) >>> 0;
      this.setBarDword((base - PCI_BASE_ADDRESS_0) >> 2, merged);
      return 0;
    }
    // "Write everything to VFIO, let it filter out what we can't write".
    const rc = yield* this.vfio.pwrite(this.fd, this.configOffset + reg, size, value);
    if (rc) return rc;
    const cap = this.msixCap;
    const hi = cap === undefined ? -1 : cap + PCI_MSIX_FLAGS + 1; // byte holding the enable bit
    if (cap !== undefined && reg <= hi && hi < reg + size) {
      const enable = ((value >>> (8 * (hi - reg))) & 0x80) !== 0;
      if (enable && !this.msixEnabled) {
        // vfio_msix_enable(). MODEL: no vector eventfds (interrupts are not delivered).
        this.msixEnabled = true;
        this.onMsix(
          this,
          'enable',
          yield* this.vfio.enableMsixNoVec(this.fd, VFIO_PCI_MSIX_IRQ_INDEX),
        );
      } else if (!enable && this.msixEnabled) {
        // vfio_msix_disable() -> vfio_disable_irqindex()
        this.msixEnabled = false;
        this.onMsix(
          this,
          'disable',
          yield* this.vfio.disableIrqIndex(this.fd, VFIO_PCI_MSIX_IRQ_INDEX),
        );
      }
    }
    return 0;
  }

  /**
   * spapr_phb_vfio_eeh_clear_dev_msix(): before a hot or fundamental reset,
   * disable MSI-X if the guest enabled it (through a config write, which
   * makes vfio-pci drop the host vectors) and clear the cached table.
   */
  *clearMsix(): Task<void> {
    const cap = this.msixCap;
    if (cap !== undefined && this.msixEnabled) {
      const r = yield* this.configRead(cap + PCI_MSIX_FLAGS, 2);
      const flags = r.rc === 0 && r.value !== undefined ? r.value : 0;
      yield* this.configWrite(cap + PCI_MSIX_FLAGS, 2, flags & ~PCI_MSIX_FLAGS_ENABLE);
    }
    this.msixResets++;
    this.onMsix(this, 'reset', 0);
  }
}

/** The emulated BAR register's low flag bits kept from the device's own BAR. */
export function barFlagBits(raw: number): { flags: number; is64: boolean; io: boolean } {
  const io = (raw & PCI_BASE_ADDRESS_SPACE_IO) !== 0;
  if (io) return { flags: raw & 0x3, is64: false, io };
  return { flags: raw & 0xf, is64: (raw & 0x6) === PCI_BASE_ADDRESS_MEM_TYPE_64, io };
}

/** A virtual PHB (QEMU's SpaprPhbState with its VFIO address space). */
export class SpaprPhb {
  readonly buid: Buid;
  readonly liobn: number;
  /** VFIO container of the PHB's IOMMU address space (undefined: no passthrough). */
  containerFd: number | undefined;
  groupFd: number | undefined;
  /** IOMMU group id and the groups in the container (QEMU's vfio_eeh_container_ok needs 1). */
  iommuGroup: number | undefined;
  groupsInContainer = 0;
  /** VFIO_CHECK_EXTENSION(VFIO_EEH) on the container. */
  eehExtension = false;
  /** The default 32-bit DMA window from SPAPR_TCE_GET_INFO. */
  window = { start: 0, size: 0 };
  /** The guest's TCE table (spapr_iommu.c tcet->table): IOMMU page index -> TCE. */
  readonly tces = new Map<number, bigint>();
  readonly devices: PassthroughDevice[] = [];
  /** Next free guest-physical address of the PHB's MMIO window. */
  mmioNext: number;

  constructor(readonly index: number) {
    this.buid = spaprPhbBuid(index);
    this.liobn = spaprPciLiobn(index, 0);
    this.mmioNext =
      SPAPR_PCI_WINDOW_BASE + index * SPAPR_PCI_WINDOW_SPACING + SPAPR_PCI_MMIO_WIN_OFF;
  }

  /** spapr_phb_eeh_available() -> vfio_eeh_as_ok(): one container holding exactly one group. */
  get eehAvailable(): boolean {
    return this.containerFd !== undefined && this.groupsInContainer === 1;
  }

  /** spapr_pci_find_dev() on this PHB: (config_addr >> 16) & 0xff bus, (>> 8) & 0xff devfn. */
  findDevice(configAddr: number): PassthroughDevice | undefined {
    const bus = (configAddr >>> 16) & 0xff;
    const devfn = (configAddr >>> 8) & 0xff;
    return this.devices.find((d) => d.bus === bus && d.devfn === devfn);
  }

  /** pci_for_each_device(phb->bus, bus_num, ...) finding a vfio-pci device. */
  hasVfioDeviceOnBus(bus: number): boolean {
    return this.devices.some((d) => d.bus === bus);
  }

  /** Allocates a naturally aligned guest-physical range for a BAR. */
  allocMmio(size: number): Gpa {
    const align = Math.max(size, 4096);
    const at = Math.ceil(this.mmioNext / align) * align;
    this.mmioNext = at + align;
    return at as Gpa;
  }
}
