/**
 * A vfio-pci device and its file (cf. drivers/vfio/pci/vfio_pci_core.c,
 * vfio_pci_intrs.c, vfio_pci_config.c; drivers/vfio/vfio_main.c for the
 * file operations and vfio_set_irqs_validate_and_prepare).
 *
 * The device file reaches one PCI function: its config space (pread /
 * pwrite on region 7), its memory BARs (mmap of regions 0..5), its
 * interrupts (SET_IRQS) and its reset. Region `index` lives at file offset
 * `index << 40` (VFIO_PCI_INDEX_TO_OFFSET).
 *
 * First open calls eeh_dev_open() (the PE is thawed if frozen and counted
 * as passed through); last close calls eeh_dev_release() - both from
 * vfio_pci_core_finish_enable / vfio_pci_core_close_device.
 *
 * MODEL (what vfio-pci does and the model does not):
 * - config space is not virtualized: reads and writes go to the device
 *   through the host (vfio-pci emulates BARs, parts of the command
 *   register, MSI/MSI-X capabilities and hides some capabilities) - except
 *   writes to the BAR and ROM registers, which are dropped (never reach the
 *   device; reads return the device's host-assigned BARs, not a vconfig copy);
 * - BAR and ROM regions are reachable by mmap only; pread/pwrite of them is
 *   -EINVAL (vfio_pci_bar_rw is not modelled); there is no ROM or VGA;
 * - every memory BAR with a size is mmappable (vfio_pci_probe_mmaps also
 *   handles sub-page BARs with dummy resources);
 * - eventfds: an fd >= 0 in SET_IRQS data is accepted and recorded by
 *   number; device interrupts are not delivered. Only the error trigger
 *   (VFIO_PCI_ERR_IRQ_INDEX) is delivered, and only when the fd is an
 *   eventfd of the caller (src/host/eventfd.ts): signalError() signals it
 *   `msi_delivery` later (the wake-up of the user's thread, charged to no
 *   process, like the host's own error interrupt); any other fd number is
 *   recorded as before and never signalled;
 * - PCI hot reset (slot / bus) is not available: GET_PCI_HOT_RESET_INFO and
 *   PCI_HOT_RESET report -ENODEV after their argument checks, as when
 *   pci_probe_reset_slot/bus fail;
 * - closing the device does not reset it (vfio_pci_core_disable tries a
 *   function reset and restores the saved state).
 */

import { type EventFd, eventfdOf } from '../host/eventfd.js';
import type { HostProcess, IoctlArg } from '../host/process.js';
import type { BarInfo, HostPciFunction } from '../host/vfio_backend.js';
import type { Task } from '../sim/scheduler.js';
import { EBADF, EFAULT, EINVAL, ENODEV, ENOTTY } from '../uapi/errno.js';
import type { Hpa } from '../uapi/ids.js';
import { PCI_BASE_ADDRESS_0, PCI_ROM_ADDRESS } from '../uapi/pci_regs.js';
import {
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_TYPE_MASK,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_DATA_TYPE_MASK,
  VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_BAR5_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS,
  VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_PCI_ROM_REGION_INDEX,
  VFIO_PCI_VGA_REGION_INDEX,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  vfio_device_info,
  vfio_irq_info,
  vfio_irq_set,
  vfio_region_info,
  vfioPciIndexToOffset,
} from '../uapi/vfio.js';
import type { VfioArchDevice } from './arch.js';
import { VfioFile } from './file.js';
import type { VfioGroup } from './group.js';
import { HOST_PAGE_SIZE } from './spapr_tce.js';
import { copyArgszFromUser, copyFromUser, copyToUser } from './uaccess.js';
import type { Vfio } from './vfio.js';

/** VFIO_PCI_OFFSET_SHIFT (drivers/vfio/pci/vfio_pci_priv.h) */
const OFFSET_SHIFT = 40;
const OFFSET_SPAN = 2 ** OFFSET_SHIFT;
const U32_MAX = 0xffff_ffff;

/** vdev->irq_type */
export type IrqType = 'none' | 'intx' | 'msi' | 'msix';

/** vfio_pci_probe_mmaps(), simplified (see the file comment). */
/** Config offset `at` is in BAR0..5 or the ROM BAR (vfio-pci virtualizes them). */
const virtualizedBar = (at: number): boolean =>
  (at >= PCI_BASE_ADDRESS_0 && at < PCI_BASE_ADDRESS_0 + 24) ||
  (at >= PCI_ROM_ADDRESS && at < PCI_ROM_ADDRESS + 4);

function mmapSupported(bar: BarInfo | undefined): bar is BarInfo {
  return bar !== undefined && bar.kind === 'mem' && bar.size > 0;
}

const pageAlign = (n: number): number => Math.ceil(n / HOST_PAGE_SIZE) * HOST_PAGE_SIZE;

/** struct vfio_pci_core_device: one function bound to vfio-pci. */
export class VfioPciDevice implements VfioArchDevice {
  /** device->open_count: open device files. */
  openCount = 0;
  irqType: IrqType = 'none';
  /** Eventfd of each enabled vector (INTx: one), null where none is set. */
  vectors: (number | null)[] = [];
  intxMasked = false;
  /** vdev->err_trigger: the AER error eventfd (VFIO_PCI_ERR_IRQ_INDEX). */
  errTrigger: number | null = null;
  /** The eventfd behind errTrigger in the setting process (eventfd_ctx_fdget), if it is one. */
  errEventfd: EventFd | undefined;
  /** vdev->req_trigger: the device-request eventfd (VFIO_PCI_REQ_IRQ_INDEX). */
  reqTrigger: number | null = null;
  /** Times the error eventfd was signalled (by the host or by loopback). */
  errSignals = 0;

  constructor(
    readonly group: VfioGroup,
    readonly fn: HostPciFunction,
  ) {}

  get name(): string {
    return this.fn.name;
  }

  get groupId(): number {
    return this.group.id;
  }

  pe() {
    return this.group.backend.pe();
  }

  private get vfio(): Vfio {
    return this.group.vfio;
  }

  /** vfio_df_open(): the first open enables the device and calls eeh_dev_open(). */
  *open(): Task<void> {
    this.openCount++;
    if (this.openCount !== 1) return;
    // vfio_pci_core_finish_enable() ignores eeh_dev_open()'s result.
    yield* this.vfio.backend.eeh.devOpen(this.fn.edev);
    this.vfio.sim.trace.emit('vfio.device.open', {
      dev: this.name,
      group: this.groupId,
      opens: this.openCount,
    });
  }

  /** vfio_df_close(): the last close calls eeh_dev_release() and disables the device. */
  *close(): Task<void> {
    this.openCount--;
    if (this.openCount !== 0) return;
    yield* this.vfio.backend.eeh.devRelease(this.fn.edev);
    // vfio_pci_core_disable(): interrupts off; close_device drops the triggers.
    this.irqType = 'none';
    this.vectors = [];
    this.intxMasked = false;
    this.errTrigger = null;
    this.errEventfd = undefined;
    this.reqTrigger = null;
    this.vfio.pciArch.release?.(this);
    this.vfio.sim.trace.emit('vfio.device.close', {
      dev: this.name,
      group: this.groupId,
      opens: this.openCount,
    });
  }

  /**
   * vfio_pci_core_aer_err_detected(): the host's AER handler signals the
   * error eventfd, if userspace set one (the x86 path). Returns whether a
   * signal was sent.
   */
  signalError(): boolean {
    if (this.errTrigger === null) return false;
    this.errSignals++;
    const sim = this.vfio.sim;
    sim.trace.emit('vfio.err_signal', { dev: this.name, eventfd: this.errTrigger });
    const ctx = this.errEventfd;
    if (ctx) sim.sched.after(sim.costs.ns('msi_delivery'), () => ctx.signal());
    return true;
  }

  /** vfio_pci_get_irq_count() */
  irqCount(index: number): number {
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        return this.fn.intxPin ? 1 : 0;
      case VFIO_PCI_MSI_IRQ_INDEX:
        return this.fn.msiVectors;
      case VFIO_PCI_MSIX_IRQ_INDEX:
        return this.fn.msixVectors;
      case VFIO_PCI_ERR_IRQ_INDEX:
        return this.fn.isPcie ? 1 : 0;
      case VFIO_PCI_REQ_IRQ_INDEX:
        return 1;
      default:
        return 0;
    }
  }

  // ---- ioctl ------------------------------------------------------------------

  /** vfio_device_fops_unl_ioctl() -> vfio_pci_core_ioctl() -> arch hook. */
  *ioctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
    if (!this.accessGranted) return -EINVAL;
    switch (request) {
      case VFIO_DEVICE_GET_INFO:
        return this.getInfo(arg);
      case VFIO_DEVICE_GET_IRQ_INFO:
        return this.getIrqInfo(arg);
      case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
        return this.hotReset(arg, false);
      case VFIO_DEVICE_GET_REGION_INFO:
        return this.getRegionInfo(arg);
      case VFIO_DEVICE_PCI_HOT_RESET:
        return this.hotReset(arg, true);
      case VFIO_DEVICE_RESET:
        // vfio_pci_ioctl_reset(): pci_try_reset_function().
        if (!this.fn.resetWorks) return -EINVAL;
        return yield* this.fn.reset();
      case VFIO_DEVICE_SET_IRQS:
        return this.setIrqs(proc, arg);
      default:
        return yield* this.vfio.pciArch.ioctl(proc, this, request, arg);
    }
  }

  /**
   * df->access_granted: the device was opened through a group whose
   * container has an IOMMU. MODEL: this always holds while the file is open
   * (the group cannot leave its container then); it is checked anyway.
   */
  private get accessGranted(): boolean {
    return this.openCount > 0 && this.group.container?.iommu !== undefined;
  }

  /** vfio_pci_ioctl_get_info() */
  private getInfo(arg: IoctlArg): number {
    const st = vfio_device_info;
    const minsz = st.offsetofEnd('num_irqs');
    const info = copyArgszFromUser(arg, st, minsz);
    if (typeof info === 'number') return info;
    const len = Math.min(info.argsz, st.size);
    let flags = VFIO_DEVICE_FLAGS_PCI;
    if (this.fn.resetWorks) flags |= VFIO_DEVICE_FLAGS_RESET;
    const out = {
      argsz: info.argsz,
      flags,
      num_regions: VFIO_PCI_NUM_REGIONS,
      num_irqs: VFIO_PCI_NUM_IRQS,
      cap_offset: 0,
    };
    return copyToUser(arg, st, out, len) ? 0 : -EFAULT;
  }

  /** vfio_pci_ioctl_get_region_info() */
  private getRegionInfo(arg: IoctlArg): number {
    const st = vfio_region_info;
    const minsz = st.offsetofEnd('offset');
    const info = copyArgszFromUser(arg, st, minsz);
    if (typeof info === 'number') return info;
    const index = info.index;
    let size = 0;
    let flags = 0;
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      size = this.fn.cfgSize;
      flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    } else if (index >= VFIO_PCI_BAR0_REGION_INDEX && index <= VFIO_PCI_BAR5_REGION_INDEX) {
      const bar = this.fn.bar(index);
      size = bar?.size ?? 0;
      if (size) {
        flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        if (mmapSupported(bar)) flags |= VFIO_REGION_INFO_FLAG_MMAP;
      }
    } else if (index === VFIO_PCI_ROM_REGION_INDEX) {
      // No expansion ROM: size 0, no flags.
    } else if (index === VFIO_PCI_VGA_REGION_INDEX) {
      return -EINVAL; // !vdev->has_vga
    } else {
      return -EINVAL; // no device-specific regions
    }
    const out = {
      argsz: info.argsz,
      flags,
      index,
      cap_offset: info.cap_offset,
      size,
      offset: vfioPciIndexToOffset(index),
    };
    return copyToUser(arg, st, out, minsz) ? 0 : -EFAULT;
  }

  /** vfio_pci_ioctl_get_irq_info() */
  private getIrqInfo(arg: IoctlArg): number {
    const st = vfio_irq_info;
    const minsz = st.offsetofEnd('count');
    const info = copyArgszFromUser(arg, st, minsz);
    if (typeof info === 'number') return info;
    if (info.index >= VFIO_PCI_NUM_IRQS) return -EINVAL;
    if (info.index === VFIO_PCI_ERR_IRQ_INDEX && !this.fn.isPcie) return -EINVAL;
    let flags = VFIO_IRQ_INFO_EVENTFD;
    if (info.index === VFIO_PCI_INTX_IRQ_INDEX) {
      flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    } else {
      // MODEL: no dynamic MSI-X allocation (has_dyn_msix false): every index is NORESIZE.
      flags |= VFIO_IRQ_INFO_NORESIZE;
    }
    const out = { argsz: info.argsz, flags, index: info.index, count: this.irqCount(info.index) };
    return copyToUser(arg, st, out, minsz) ? 0 : -EFAULT;
  }

  /**
   * GET_PCI_HOT_RESET_INFO / PCI_HOT_RESET: the header checks, then -ENODEV
   * (no slot or bus reset in the model). The structs start with
   * argsz, flags, count (minsz 12); uapi has no codec for them yet.
   */
  private hotReset(arg: IoctlArg, doReset: boolean): number {
    if (typeof arg === 'number' || arg.byteLength < 12) return -EFAULT;
    const v = new DataView(arg);
    const argsz = v.getUint32(0, true);
    const flags = v.getUint32(4, true);
    const count = v.getUint32(8, true);
    if (argsz < 12) return -EINVAL;
    if (doReset) {
      if (flags) return -EINVAL;
      // Group-opened devices must pass group fds (a zero-length array is for cdev only).
      if (count === 0) return -EINVAL;
    }
    return -ENODEV;
  }

  // ---- interrupts -------------------------------------------------------------

  /** vfio_pci_ioctl_set_irqs(): validate_and_prepare, copy the data, dispatch. */
  private setIrqs(proc: HostProcess, arg: IoctlArg): number {
    const st = vfio_irq_set;
    const minsz = st.offsetofEnd('count');
    const hdr = copyFromUser(arg, st, minsz);
    if (!hdr || typeof arg === 'number') return -EFAULT;
    const max = this.irqCount(hdr.index);
    // vfio_set_irqs_validate_and_prepare()
    if (
      hdr.argsz < minsz ||
      hdr.index >= VFIO_PCI_NUM_IRQS ||
      hdr.count >= U32_MAX - hdr.start ||
      hdr.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)
    ) {
      return -EINVAL;
    }
    if (hdr.start >= max || hdr.start + hdr.count > max) return -EINVAL;
    let size: number;
    switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
      case VFIO_IRQ_SET_DATA_NONE:
        size = 0;
        break;
      case VFIO_IRQ_SET_DATA_BOOL:
        size = 1;
        break;
      case VFIO_IRQ_SET_DATA_EVENTFD:
        size = 4;
        break;
      default:
        return -EINVAL;
    }
    const dataSize = hdr.count * size;
    if (size && hdr.argsz - minsz < dataSize) return -EINVAL;
    // memdup_user(&arg->data, data_size)
    if (arg.byteLength < minsz + dataSize) return -EFAULT;
    const data = new DataView(arg, minsz, dataSize);
    const { flags, index, start, count } = hdr;
    // vfio_pci_set_irqs_ioctl()
    const action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        switch (action) {
          case VFIO_IRQ_SET_ACTION_MASK:
          case VFIO_IRQ_SET_ACTION_UNMASK:
            return this.setIntxMask(action === VFIO_IRQ_SET_ACTION_MASK, start, count, flags, data);
          case VFIO_IRQ_SET_ACTION_TRIGGER:
            return this.setIntxTrigger(start, count, flags, data);
          default:
            return -ENOTTY;
        }
      case VFIO_PCI_MSI_IRQ_INDEX:
      case VFIO_PCI_MSIX_IRQ_INDEX:
        // MASK / UNMASK: "XXX Need masking support exported".
        if (action !== VFIO_IRQ_SET_ACTION_TRIGGER) return -ENOTTY;
        return this.setMsiTrigger(index === VFIO_PCI_MSIX_IRQ_INDEX, start, count, flags, data);
      case VFIO_PCI_ERR_IRQ_INDEX:
        if (action !== VFIO_IRQ_SET_ACTION_TRIGGER || !this.fn.isPcie) return -ENOTTY;
        if (start !== 0 || count > 1) return -EINVAL;
        return this.setCtxTrigger(proc, 'err', count, flags, data);
      case VFIO_PCI_REQ_IRQ_INDEX:
        if (action !== VFIO_IRQ_SET_ACTION_TRIGGER) return -ENOTTY;
        if (start !== 0 || count > 1) return -EINVAL;
        return this.setCtxTrigger(proc, 'req', count, flags, data);
      default:
        return -ENOTTY;
    }
  }

  /** vfio_pci_set_intx_mask / unmask. MODEL: the unmask eventfd (virqfd) is accepted, not kept. */
  private setIntxMask(
    mask: boolean,
    start: number,
    count: number,
    flags: number,
    data: DataView,
  ): number {
    if (this.irqType !== 'intx' || start !== 0 || count !== 1) return -EINVAL;
    if (flags & VFIO_IRQ_SET_DATA_NONE) {
      this.intxMasked = mask;
    } else if (flags & VFIO_IRQ_SET_DATA_BOOL) {
      if (data.getUint8(0)) this.intxMasked = mask;
    } else if (mask) {
      return -ENOTTY; // XXX implement me
    } else {
      const fd = data.getInt32(0, true);
      if (fd < -1) return -EBADF;
    }
    return 0;
  }

  /** vfio_pci_set_intx_trigger() */
  private setIntxTrigger(start: number, count: number, flags: number, data: DataView): number {
    const intx = this.irqType === 'intx';
    if (intx && !count && flags & VFIO_IRQ_SET_DATA_NONE) {
      this.disableIrqs();
      return 0;
    }
    if (!(intx || this.irqType === 'none') || start !== 0 || count !== 1) return -EINVAL;
    if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
      const fd = data.getInt32(0, true);
      if (fd === -1) {
        if (intx) this.disableIrqs();
        return 0;
      }
      if (fd < 0) return -EBADF;
      this.irqType = 'intx';
      this.vectors = [fd];
      return 0;
    }
    if (!intx) return -EINVAL;
    return 0; // DATA_NONE / DATA_BOOL: loopback signal, not delivered in the model
  }

  /** vfio_pci_set_msi_trigger(): enable / disable MSI or MSI-X and set vector eventfds. */
  private setMsiTrigger(
    msix: boolean,
    start: number,
    count: number,
    flags: number,
    data: DataView,
  ): number {
    const type: IrqType = msix ? 'msix' : 'msi';
    const is = this.irqType === type;
    if (is && !count && flags & VFIO_IRQ_SET_DATA_NONE) {
      this.disableIrqs();
      return 0;
    }
    if (!(is || this.irqType === 'none')) return -EINVAL;
    if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
      const fds: number[] = [];
      for (let i = 0; i < count; i++) fds.push(data.getInt32(i * 4, true));
      // vfio_msi_enable(vdev, start + count, msix) when not enabled yet; a
      // failing vfio_msi_set_block() disables again, so check it first.
      const nvec = is ? this.vectors.length : start + count;
      if (nvec < 1 || start >= nvec || start + count > nvec) return -EINVAL;
      if (!is) {
        this.irqType = type;
        this.vectors = new Array(nvec).fill(null);
      }
      fds.forEach((fd, i) => {
        this.vectors[start + i] = fd >= 0 ? fd : null;
      });
      return 0;
    }
    if (!is) return -EINVAL;
    return 0; // DATA_NONE / DATA_BOOL: loopback signal, not delivered in the model
  }

  /** vfio_pci_set_ctx_trigger_single() for the ERR and REQ eventfds. */
  private setCtxTrigger(
    proc: HostProcess,
    which: 'err' | 'req',
    count: number,
    flags: number,
    data: DataView,
  ): number {
    const key = which === 'err' ? 'errTrigger' : 'reqTrigger';
    const cur = this[key];
    if (flags & VFIO_IRQ_SET_DATA_NONE) {
      if (cur !== null) {
        if (count) {
          if (which === 'err') this.signalError();
        } else {
          this[key] = null;
          if (which === 'err') this.errEventfd = undefined;
        }
        return 0;
      }
    } else if (flags & VFIO_IRQ_SET_DATA_BOOL) {
      if (!count) return -EINVAL;
      if (data.getUint8(0) && cur !== null && which === 'err') this.signalError();
      return 0;
    } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
      if (!count) return -EINVAL;
      const fd = data.getInt32(0, true);
      if (fd === -1) this[key] = null;
      else if (fd >= 0) this[key] = fd;
      if (which === 'err' && fd >= -1) this.errEventfd = fd >= 0 ? eventfdOf(proc, fd) : undefined;
      return 0;
    }
    return -EINVAL;
  }

  private disableIrqs(): void {
    this.irqType = 'none';
    this.vectors = [];
    this.intxMasked = false;
  }

  // ---- read / write / mmap ----------------------------------------------------

  /** vfio_pci_rw(): only the config region is reachable (see the file comment). */
  *rw(offset: number, buf: Uint8Array, write: boolean): Task<number> {
    if (!this.accessGranted) return -EINVAL;
    if (buf.length === 0) return 0;
    if (!Number.isSafeInteger(offset) || offset < 0) return -EINVAL;
    const index = Math.floor(offset / OFFSET_SPAN);
    if (index >= VFIO_PCI_NUM_REGIONS) return -EINVAL;
    if (index !== VFIO_PCI_CONFIG_REGION_INDEX) return -EINVAL;
    return yield* this.configRw(offset % OFFSET_SPAN, buf, write);
  }

  /** vfio_pci_config_rw() -> vfio_config_do_rw(): aligned 4/2/1-byte chunks, little-endian. */
  private *configRw(pos: number, buf: Uint8Array, write: boolean): Task<number> {
    const cfgSize = this.fn.cfgSize;
    if (pos >= cfgSize || pos + buf.length > cfgSize) return -EFAULT;
    let done = 0;
    while (done < buf.length) {
      const left = buf.length - done;
      const at = pos + done;
      const size: 1 | 2 | 4 = left >= 4 && at % 4 === 0 ? 4 : left >= 2 && at % 2 === 0 ? 2 : 1;
      if (write) {
        let value = 0;
        for (let i = size - 1; i >= 0; i--) value = value * 256 + (buf[done + i] as number);
        // vfio_pci_config.c init_pci_cap_basic_perm(): "Virtualize all bars,
        // can't touch the real ones" (BAR0..5 and the ROM BAR are ALL_VIRT):
        // a user's write never reaches the device - else a VMM could move its
        // device's BAR over another PE's MMIO (the PHB decodes what the BAR
        // registers say). MODEL: the write is dropped rather than kept in a
        // vconfig copy, so reads return the device's BARs (the host-assigned
        // addresses vconfig starts with), not a sizing mask.
        if (!virtualizedBar(at)) {
          const rc = yield* this.fn.configWrite(at, size, value);
          if (rc < 0) return rc;
        }
      } else {
        let value = yield* this.fn.configRead(at, size);
        for (let i = 0; i < size; i++) {
          buf[done + i] = value & 0xff;
          value = Math.floor(value / 256);
        }
      }
      done += size;
    }
    return done;
  }

  /** vfio_pci_core_mmap(): the host physical address of the mapped BAR range. */
  mmap(offset: number, length: number): number {
    if (!this.accessGranted) return -EINVAL;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % HOST_PAGE_SIZE) return -EINVAL;
    if (!Number.isSafeInteger(length) || length <= 0) return -EINVAL;
    const index = Math.floor(offset / OFFSET_SPAN);
    if (index >= VFIO_PCI_NUM_REGIONS) return -EINVAL;
    if (index >= VFIO_PCI_ROM_REGION_INDEX) return -EINVAL;
    const bar = this.fn.bar(index);
    if (!mmapSupported(bar)) return -EINVAL;
    const reqStart = offset % OFFSET_SPAN;
    if (reqStart + pageAlign(length) > pageAlign(bar.size)) return -EINVAL;
    return (bar.hostAddress + reqStart) as Hpa;
  }
}

/** An open device fd (anon inode "[vfio-device]"). */
export class VfioDeviceFile extends VfioFile {
  readonly kind = 'vfio-device';
  protected readonly fdKind = 'device';

  constructor(
    vfio: Vfio,
    readonly device: VfioPciDevice,
  ) {
    super(vfio);
  }

  protected *doIoctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
    return yield* this.device.ioctl(proc, request, arg);
  }

  *read(_proc: HostProcess, offset: number, buf: Uint8Array): Task<number> {
    return yield* this.device.rw(offset, buf, false);
  }

  *write(_proc: HostProcess, offset: number, buf: Uint8Array): Task<number> {
    return yield* this.device.rw(offset, buf, true);
  }

  mmap(_proc: HostProcess, offset: number, length: number): number {
    return this.device.mmap(offset, length);
  }

  /** vfio_device_fops_release() */
  protected *doRelease(): Task<void> {
    yield* this.device.close();
    yield* this.device.group.deviceFileClosed();
  }
}
