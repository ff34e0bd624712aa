/**
 * The sPAPR TCE IOMMU driver of a VFIO container, with the EEH ioctl
 * (cf. drivers/vfio/vfio_iommu_spapr_tce.c, Linux 6.2+, where
 * vfio_spapr_eeh.c's VFIO_EEH_PE_OP handling moved).
 *
 * One `TceIommu` is a `struct tce_container` (the container's iommu_data):
 * its attached groups (`group_list`, list_add = newest first), the default
 * DMA window (`tables[0]`, created lazily at the first MAP/UNMAP as
 * tce_iommu_create_default_window does), the owning mm, and for v2 the
 * preregistered memory. `entries` mirrors the shared TCE table as the
 * kernel's it_userspace does: IOMMU page number -> host address | perm.
 *
 * Order of checks is the kernel's: CHECK_EXTENSION first, then the mm
 * check (-EPERM when another process's mm owns the container), then per
 * ioctl: copy_from_user(minsz) -> -EFAULT, argsz / flags -> -EINVAL, then
 * the operation.
 */

import type { HostProcess, IoctlArg } from '../host/process.js';
import { TCE_PCI_READ, TCE_PCI_WRITE, type VfioBackend } from '../host/vfio_backend.js';
import {
  EEH_OPT_DISABLE,
  EEH_OPT_ENABLE,
  EEH_OPT_THAW_DMA,
  EEH_OPT_THAW_MMIO,
  EEH_RESET_DEACTIVATE,
  EEH_RESET_FUNDAMENTAL,
  EEH_RESET_HOT,
} from '../kernel/eeh_consts.js';
import type { Task } from '../sim/scheduler.js';
import {
  EBUSY,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOENT,
  ENOSPC,
  ENOTTY,
  ENXIO,
  EPERM,
} from '../uapi/errno.js';
import { type Hpa, hpa, type Iova, iova } from '../uapi/ids.js';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_EEH,
  VFIO_EEH_PE_CONFIGURE,
  VFIO_EEH_PE_DISABLE,
  VFIO_EEH_PE_ENABLE,
  VFIO_EEH_PE_GET_STATE,
  VFIO_EEH_PE_INJECT_ERR,
  VFIO_EEH_PE_OP,
  VFIO_EEH_PE_RESET_DEACTIVATE,
  VFIO_EEH_PE_RESET_FUNDAMENTAL,
  VFIO_EEH_PE_RESET_HOT,
  VFIO_EEH_PE_UNFREEZE_DMA,
  VFIO_EEH_PE_UNFREEZE_IO,
  VFIO_IOMMU_DISABLE,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_SPAPR_INFO_DDW,
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
  VFIO_IOMMU_SPAPR_TCE_CREATE,
  VFIO_IOMMU_SPAPR_TCE_GET_INFO,
  VFIO_IOMMU_SPAPR_TCE_REMOVE,
  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
  vfio_eeh_pe_op,
  vfio_iommu_spapr_register_memory,
  vfio_iommu_spapr_tce_create,
  vfio_iommu_spapr_tce_info,
  vfio_iommu_spapr_tce_remove,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
} from '../uapi/vfio.js';
import type { VfioGroup } from './group.js';
import { copyArgszFromUser, copyFromUser, copyToUser } from './uaccess.js';
import type { Vfio } from './vfio.js';

/**
 * The host page size the TCE driver accounts and aligns preregistered
 * memory to. MODEL: 4 KiB (the model's memory pages); a POWER host
 * normally runs with 64 KiB pages.
 */
export const HOST_PAGE_SIZE = 4096;

/** IOMMU_TABLE_GROUP_MAX_TABLES (arch/powerpc/include/asm/iommu.h). */
const MAX_TABLES = 2;
/** IOMMU_PAGE_SHIFT_4K: the page size of the default window VFIO creates. */
const IOMMU_PAGE_SHIFT_4K = 12;

/** One DMA window (struct iommu_table): [start, start + size), 2^pageShift pages. */
export interface TceWindow {
  readonly start: number;
  readonly size: number;
  readonly pageShift: number;
}

/** A region of VFIO_IOMMU_SPAPR_REGISTER_MEMORY (mm_iommu_table_group_mem_t). */
export interface PreregRegion {
  readonly vaddr: number;
  readonly size: number;
  /** TCEs currently pointing into the region (mem->mapped). */
  mapped: number;
}

interface TceEntry {
  readonly hpa: number;
  readonly perm: number;
}

/**
 * tce_iommu_ioctl(NULL, VFIO_CHECK_EXTENSION, arg) - what the driver
 * answers whether or not a container uses it. A non-number arg (a pointer)
 * is no extension.
 */
export function tceCheckExtension(backend: VfioBackend, arg: IoctlArg): number {
  switch (arg) {
    case VFIO_SPAPR_TCE_IOMMU:
    case VFIO_SPAPR_TCE_v2_IOMMU:
      return 1;
    case VFIO_EEH:
      return backend.eehEnabled() ? 1 : 0;
    default:
      return 0;
  }
}

/** Packs a bigint into a JS number when exact, else undefined. */
function safe(v: bigint): number | undefined {
  return v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

export class TceIommu {
  enabled = false;
  /** def_window_pending: the default window is created at the first MAP/UNMAP. */
  defWindowPending = false;
  /** container->tables[] */
  readonly tables: (TceWindow | undefined)[] = new Array(MAX_TABLES).fill(undefined);
  /** Pages accounted in locked_vm (v1 IOMMU_ENABLE). MODEL: no RLIMIT_MEMLOCK check. */
  lockedPages = 0;
  /** container->mm, bound by IOMMU_ENABLE (v1) or the first v2 ioctl that needs it. */
  mm: object | undefined;
  /** pid of the process whose mm is bound (for inspection). */
  mmPid: number | undefined;
  /** tce_container.group_list: head = most recently attached. */
  readonly groups: VfioGroup[] = [];
  readonly prereg: PreregRegion[] = [];
  /** IOMMU page number (iova >> pageShift) -> TCE; the shared table's content. */
  readonly entries = new Map<number, TceEntry>();

  constructor(
    private readonly vfio: Vfio,
    readonly v2: boolean,
  ) {}

  private get backend(): VfioBackend {
    return this.vfio.backend;
  }

  // ---- driver ops: attach / detach / release --------------------------------

  /** tce_iommu_attach_group() */
  *attachGroup(group: VfioGroup): Task<number> {
    const info = group.backend.tceInfo();
    // v2 requires full support of dynamic DMA windows.
    if (this.v2 && info.maxDynamicWindows === 0) return -EINVAL;
    // v1 reuses TCE tables and does not share them among PEs.
    if (!this.v2 && this.groups.length > 0) return -EBUSY;
    if (this.groups.includes(group)) return -EBUSY;
    // tce_iommu_take_ownership(): program the existing windows into the group.
    const rc = yield* this.replayInto(group);
    if (this.groups.length === 0 && !this.tables[0]) this.defWindowPending = true;
    if (rc) return rc;
    this.groups.unshift(group);
    return 0;
  }

  /**
   * tce_iommu_detach_group() -> tce_iommu_release_ownership(): the windows
   * are cleared and unset from the group. The table is shared by every
   * group of the container, so clearing it removes the mappings for all of
   * them - as in the kernel.
   */
  *detachGroup(group: VfioGroup): Task<void> {
    const i = this.groups.indexOf(group);
    if (i < 0) return;
    this.groups.splice(i, 1);
    for (const tbl of this.tables) {
      if (!tbl) continue;
      yield* this.clear(tbl, tbl.start, tbl.size, [group, ...this.groups]);
    }
  }

  /** tce_iommu_release(): the container lost its last group. */
  *release(): Task<void> {
    while (this.groups.length > 0) yield* this.detachGroup(this.groups[0] as VfioGroup);
    this.tables.fill(undefined);
    this.entries.clear();
    this.prereg.length = 0;
    this.enabled = false;
    this.lockedPages = 0;
    this.mm = undefined;
    this.mmPid = undefined;
  }

  // ---- ioctl ------------------------------------------------------------------

  /** tce_iommu_ioctl() */
  *ioctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
    if (request === VFIO_CHECK_EXTENSION) return tceCheckExtension(this.backend, arg);
    // Sanity check to prevent one userspace from manipulating another userspace mm.
    if (this.mm && this.mm !== proc.mm) return -EPERM;
    switch (request) {
      case VFIO_IOMMU_SPAPR_TCE_GET_INFO:
        return this.getInfo(arg);
      case VFIO_IOMMU_MAP_DMA:
        return yield* this.mapDma(proc, arg);
      case VFIO_IOMMU_UNMAP_DMA:
        return yield* this.unmapDma(arg);
      case VFIO_IOMMU_SPAPR_REGISTER_MEMORY:
        if (!this.v2) return -ENOTTY;
        return this.registerMemory(proc, arg);
      case VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY:
        if (!this.v2) return -ENOTTY;
        return this.unregisterMemory(arg);
      case VFIO_IOMMU_ENABLE:
        if (this.v2) return -ENOTTY;
        return this.enable(proc);
      case VFIO_IOMMU_DISABLE:
        if (this.v2) return -ENOTTY;
        // tce_iommu_disable(): the mm stays bound.
        if (this.enabled) {
          this.enabled = false;
          this.lockedPages = 0;
        }
        return 0;
      case VFIO_EEH_PE_OP: {
        // Each group in list order; the first non-zero result (an error or a
        // state other than NORMAL) wins. No group: 0.
        let ret = 0;
        for (const g of [...this.groups]) {
          ret = yield* this.eehPeOp(g, arg);
          if (ret) return ret;
        }
        return ret;
      }
      case VFIO_IOMMU_SPAPR_TCE_CREATE:
        if (!this.v2) return -ENOTTY;
        return this.tceCreate(proc, arg);
      case VFIO_IOMMU_SPAPR_TCE_REMOVE:
        if (!this.v2) return -ENOTTY;
        return yield* this.tceRemove(proc, arg);
      default:
        return -ENOTTY;
    }
  }

  private mmSet(proc: HostProcess): number {
    if (this.mm) return this.mm === proc.mm ? 0 : -EPERM;
    this.mm = proc.mm;
    this.mmPid = proc.pid;
    return 0;
  }

  /** VFIO_IOMMU_SPAPR_TCE_GET_INFO (= VFIO_IOMMU_GET_INFO) */
  private getInfo(arg: IoctlArg): number {
    const first = this.groups[0];
    if (!first) return -ENXIO;
    const st = vfio_iommu_spapr_tce_info;
    let minsz = st.offsetofEnd('dma32_window_size');
    const info = copyArgszFromUser(arg, st, minsz);
    if (typeof info === 'number') return info;
    const tg = first.backend.tceInfo();
    const ddw = this.v2 && tg.maxDynamicWindows > 0;
    const ddwsz = st.offsetofEnd('ddw');
    if (info.argsz >= ddwsz) minsz = ddwsz;
    const ok = copyToUser(
      arg,
      st,
      {
        argsz: info.argsz,
        flags: ddw ? VFIO_IOMMU_SPAPR_INFO_DDW : 0,
        // __u32 fields: the kernel truncates the unsigned long values.
        dma32_window_start: tg.start % 2 ** 32,
        dma32_window_size: tg.size % 2 ** 32,
        ddw: ddw
          ? {
              pgsizes: tg.pageSizes,
              max_dynamic_windows_supported: tg.maxDynamicWindows,
              levels: tg.levels,
            }
          : {},
      },
      minsz,
    );
    return ok ? 0 : -EFAULT;
  }

  /** tce_iommu_enable() (v1) */
  private enable(proc: HostProcess): number {
    if (this.enabled) return -EBUSY;
    const first = this.groups[0];
    // Enabling needs a group: the locked memory accounted is its window size.
    if (!first) return -ENODEV;
    const tg = first.backend.tceInfo();
    if (!tg.size) return -EPERM;
    const rc = this.mmSet(proc);
    if (rc) return rc;
    // MODEL: account_locked_vm() never fails (no RLIMIT_MEMLOCK in the model).
    this.lockedPages = Math.floor(tg.size / HOST_PAGE_SIZE);
    this.enabled = true;
    return 0;
  }

  /** tce_iommu_find_table(): the window holding `ioba`, or undefined. */
  private findTable(ioba: bigint): TceWindow | undefined {
    for (const tbl of this.tables) {
      if (!tbl) continue;
      if (ioba >= BigInt(tbl.start) && ioba < BigInt(tbl.start) + BigInt(tbl.size)) return tbl;
    }
    return undefined;
  }

  /** tce_iommu_create_default_window() */
  private createDefaultWindow(): number {
    if (!this.defWindowPending) return 0;
    const first = this.groups[0];
    if (!first) return -ENODEV;
    const tg = first.backend.tceInfo();
    // tce_iommu_create_window(container, IOMMU_PAGE_SHIFT_4K, tce32_size, 1, ...)
    if ((tg.pageSizes & (1n << BigInt(IOMMU_PAGE_SHIFT_4K))) === 0n) return -EINVAL;
    // MODEL: the platform's create_table/set_window are the group's default
    // window as the backend describes it; nothing is allocated.
    this.tables[0] = { start: tg.start, size: tg.size, pageShift: IOMMU_PAGE_SHIFT_4K };
    this.defWindowPending = false;
    return 0;
  }

  /**
   * The checks of MAP/UNMAP after find_table: alignment and the window.
   * MODEL: iommu_tce_check_ioba() only checks the first IOMMU page; the
   * model rejects (-EINVAL) any range that does not fit the window.
   */
  private checkRange(tbl: TceWindow, ioba: bigint, size: bigint): number {
    const mask = (1n << BigInt(tbl.pageShift)) - 1n;
    if (ioba & mask) return -EINVAL;
    if (ioba + size > BigInt(tbl.start) + BigInt(tbl.size)) return -EINVAL;
    return 0;
  }

  /** VFIO_IOMMU_MAP_DMA */
  private *mapDma(proc: HostProcess, arg: IoctlArg): Task<number> {
    if (!this.enabled) return -EPERM;
    const st = vfio_iommu_type1_dma_map;
    const minsz = st.offsetofEnd('size');
    const p = copyArgszFromUser(arg, st, minsz);
    if (typeof p === 'number') return p;
    if (p.flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) return -EINVAL;
    let rc = this.createDefaultWindow();
    if (rc) return rc;
    const tbl = this.findTable(p.iova);
    if (!tbl) return -ENXIO;
    const mask = (1n << BigInt(tbl.pageShift)) - 1n;
    if (p.size & mask || p.vaddr & mask) return -EINVAL;
    let perm = 0;
    if (p.flags & VFIO_DMA_MAP_FLAG_READ) perm |= TCE_PCI_READ;
    if (p.flags & VFIO_DMA_MAP_FLAG_WRITE) perm |= TCE_PCI_WRITE;
    if (!perm) return -EINVAL;
    rc = this.checkRange(tbl, p.iova, p.size);
    if (rc) return rc;
    const io = Number(p.iova);
    const size = Number(p.size);
    if (size === 0) return 0;
    const va = safe(p.vaddr);
    if (this.v2) {
      // tce_iommu_build_v2(): every page must be preregistered memory.
      if (va === undefined || !this.preregCovers(va, size)) return -EINVAL;
    } else if (va === undefined || !proc.ownsRange(va, size)) {
      // tce_iommu_build(): pin_user_pages_fast() of current->mm fails.
      // MODEL: the range is checked as a whole before any TCE is written.
      return -EFAULT;
    }
    // Program the shared table into every group (all-or-nothing).
    const done: VfioGroup[] = [];
    for (const g of this.groups) {
      rc = yield* g.backend.tceMap(io as Iova, hpa(va), size, perm);
      if (rc) {
        for (const d of done) yield* d.backend.tceUnmap(io as Iova, size);
        return rc;
      }
      done.push(g);
    }
    const pageSize = 2 ** tbl.pageShift;
    for (let off = 0; off < size; off += pageSize) {
      const page = (io + off) / pageSize;
      this.dropEntry(page);
      this.entries.set(page, { hpa: va + off, perm });
      if (this.v2) {
        const r = this.preregAt(va + off);
        if (r) r.mapped++;
      }
    }
    return 0;
  }

  /** VFIO_IOMMU_UNMAP_DMA */
  private *unmapDma(arg: IoctlArg): Task<number> {
    if (!this.enabled) return -EPERM;
    const st = vfio_iommu_type1_dma_unmap;
    const minsz = st.offsetofEnd('size');
    const p = copyArgszFromUser(arg, st, minsz);
    if (typeof p === 'number') return p;
    // No flag is supported now.
    if (p.flags) return -EINVAL;
    let rc = this.createDefaultWindow();
    if (rc) return rc;
    const tbl = this.findTable(p.iova);
    if (!tbl) return -ENXIO;
    const mask = (1n << BigInt(tbl.pageShift)) - 1n;
    if (p.size & mask) return -EINVAL;
    rc = this.checkRange(tbl, p.iova, p.size);
    if (rc) return rc;
    yield* this.clear(tbl, Number(p.iova), Number(p.size), this.groups);
    return 0;
  }

  /**
   * tce_iommu_clear(): invalidates [start, start + size) of the shared
   * table in `groups`. MODEL: a platform error on one entry is ignored, as
   * the kernel's loop does (`continue`).
   */
  private *clear(tbl: TceWindow, start: number, size: number, groups: VfioGroup[]): Task<void> {
    if (size === 0) return;
    for (const g of groups) yield* g.backend.tceUnmap(start as Iova, size);
    const pageSize = 2 ** tbl.pageShift;
    const first = start / pageSize;
    const last = (start + size) / pageSize;
    if (this.entries.size < last - first) {
      for (const page of [...this.entries.keys()]) {
        if (page >= first && page < last) this.dropEntry(page);
      }
    } else {
      for (let page = first; page < last; page++) this.dropEntry(page);
    }
  }

  private dropEntry(page: number): void {
    const old = this.entries.get(page);
    if (!old) return;
    this.entries.delete(page);
    if (this.v2) {
      const r = this.preregAt(old.hpa);
      if (r) r.mapped--;
    }
  }

  /** Programs the current table content into a newly attached group. */
  private *replayInto(group: VfioGroup): Task<number> {
    const tbl = this.tables[0];
    if (!tbl || this.entries.size === 0) return 0;
    const pageSize = 2 ** tbl.pageShift;
    const pages = [...this.entries.keys()].sort((a, b) => a - b);
    let i = 0;
    while (i < pages.length) {
      const p0 = pages[i] as number;
      const e0 = this.entries.get(p0) as TceEntry;
      let n = 1;
      for (;;) {
        const p = pages[i + n];
        const e = p === undefined ? undefined : this.entries.get(p);
        if (!e || p !== p0 + n || e.perm !== e0.perm || e.hpa !== e0.hpa + n * pageSize) break;
        n++;
      }
      const rc = yield* group.backend.tceMap(
        iova(p0 * pageSize),
        e0.hpa as Hpa,
        n * pageSize,
        e0.perm,
      );
      if (rc) {
        yield* group.backend.tceUnmap(iova(tbl.start), tbl.size);
        return rc;
      }
      i += n;
    }
    return 0;
  }

  // ---- v2: preregistered memory --------------------------------------------

  private preregAt(addr: number): PreregRegion | undefined {
    return this.prereg.find((r) => addr >= r.vaddr && addr < r.vaddr + r.size);
  }

  /** Whether every byte of [vaddr, vaddr + size) lies in registered regions. */
  private preregCovers(vaddr: number, size: number): boolean {
    let at = vaddr;
    const end = vaddr + size;
    while (at < end) {
      const r = this.preregAt(at);
      if (!r) return false;
      at = r.vaddr + r.size;
    }
    return true;
  }

  /** VFIO_IOMMU_SPAPR_REGISTER_MEMORY -> tce_iommu_register_pages() */
  private registerMemory(proc: HostProcess, arg: IoctlArg): number {
    const st = vfio_iommu_spapr_register_memory;
    const minsz = st.offsetofEnd('size');
    // As in the kernel, the mm is bound before the argument is read.
    const rc = this.mmSet(proc);
    if (rc) return rc;
    const p = copyArgszFromUser(arg, st, minsz);
    if (typeof p === 'number') return p;
    if (p.flags) return -EINVAL;
    const mask = BigInt(HOST_PAGE_SIZE - 1);
    if (p.vaddr & mask || p.size & mask) return -EINVAL;
    const vaddr = safe(p.vaddr);
    const size = safe(p.size);
    // (vaddr + size) < vaddr in the kernel; beyond 2^53 here.
    if (vaddr === undefined || size === undefined || vaddr + size > Number.MAX_SAFE_INTEGER) {
      return -EINVAL;
    }
    // MODEL: an empty registration is refused; Linux would create an empty region.
    if (size === 0) return -EINVAL;
    const same = this.prereg.find((r) => r.vaddr === vaddr && r.size === size);
    if (same) return -EBUSY;
    // mm_iommu_do_alloc(): overlapping an existing region of the mm.
    if (this.prereg.some((r) => r.vaddr < vaddr + size && vaddr < r.vaddr + r.size)) {
      return -EINVAL;
    }
    // Pinning the pages fails when they are not the caller's.
    if (!proc.ownsRange(vaddr, size)) return -EFAULT;
    this.prereg.push({ vaddr, size, mapped: 0 });
    this.enabled = true;
    return 0;
  }

  /** VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY -> tce_iommu_unregister_pages() */
  private unregisterMemory(arg: IoctlArg): number {
    if (!this.mm) return -EPERM;
    const st = vfio_iommu_spapr_register_memory;
    const minsz = st.offsetofEnd('size');
    const p = copyArgszFromUser(arg, st, minsz);
    if (typeof p === 'number') return p;
    if (p.flags) return -EINVAL;
    const mask = BigInt(HOST_PAGE_SIZE - 1);
    if (p.vaddr & mask || p.size & mask) return -EINVAL;
    const i = this.prereg.findIndex(
      (r) => BigInt(r.vaddr) === p.vaddr && BigInt(r.size) === p.size,
    );
    if (i < 0) return -ENOENT;
    // mm_iommu_put(): TCEs still point into the region.
    if ((this.prereg[i] as PreregRegion).mapped > 0) return -EBUSY;
    this.prereg.splice(i, 1);
    return 0;
  }

  /** VFIO_IOMMU_SPAPR_TCE_CREATE */
  private tceCreate(proc: HostProcess, arg: IoctlArg): number {
    let rc = this.mmSet(proc);
    if (rc) return rc;
    const first = this.groups[0];
    if (!first) return -ENXIO;
    const st = vfio_iommu_spapr_tce_create;
    const minsz = st.offsetofEnd('start_addr');
    const c = copyArgszFromUser(arg, st, minsz);
    if (typeof c === 'number') return c;
    if (c.flags) return -EINVAL;
    rc = this.createDefaultWindow();
    if (rc) return rc;
    // tce_iommu_create_window()
    const num = this.tables.indexOf(undefined);
    if (num < 0) return -ENOSPC;
    const tg = first.backend.tceInfo();
    if (c.page_shift > 63 || (tg.pageSizes & (1n << BigInt(c.page_shift))) === 0n) return -EINVAL;
    // MODEL: dynamic DMA windows are not modelled; the backend offers no
    // create_table / set_window ops, which the kernel reports as -EPERM.
    return -EPERM;
  }

  /** VFIO_IOMMU_SPAPR_TCE_REMOVE */
  private *tceRemove(proc: HostProcess, arg: IoctlArg): Task<number> {
    const rc = this.mmSet(proc);
    if (rc) return rc;
    if (!this.groups.length) return -ENXIO;
    const st = vfio_iommu_spapr_tce_remove;
    const minsz = st.offsetofEnd('start_addr');
    const r = copyArgszFromUser(arg, st, minsz);
    if (typeof r === 'number') return r;
    if (r.flags) return -EINVAL;
    if (this.defWindowPending && r.start_addr === 0n) {
      this.defWindowPending = false;
      return 0;
    }
    // tce_iommu_remove_window()
    const tbl = this.findTable(r.start_addr);
    if (!tbl) return -EINVAL;
    yield* this.clear(tbl, tbl.start, tbl.size, this.groups);
    this.tables[this.tables.indexOf(tbl)] = undefined;
    return 0;
  }

  // ---- EEH --------------------------------------------------------------------

  /**
   * vfio_spapr_ioctl_eeh_pe_op(): one group's PE. The user buffer is read
   * again for every group, as the kernel does.
   */
  private *eehPeOp(group: VfioGroup, arg: IoctlArg): Task<number> {
    const eeh = this.backend.eeh;
    const pe = group.backend.pe();
    if (!pe) return -ENODEV;
    const st = vfio_eeh_pe_op;
    let minsz = st.offsetofEnd('op');
    let op = copyArgszFromUser(arg, st, minsz);
    if (typeof op === 'number') return op;
    if (op.flags) return -EINVAL;
    let rc: number;
    switch (op.op) {
      case VFIO_EEH_PE_DISABLE:
        rc = yield* eeh.peSetOption(pe, EEH_OPT_DISABLE);
        break;
      case VFIO_EEH_PE_ENABLE:
        rc = yield* eeh.peSetOption(pe, EEH_OPT_ENABLE);
        break;
      case VFIO_EEH_PE_UNFREEZE_IO:
        rc = yield* eeh.peSetOption(pe, EEH_OPT_THAW_MMIO);
        break;
      case VFIO_EEH_PE_UNFREEZE_DMA:
        rc = yield* eeh.peSetOption(pe, EEH_OPT_THAW_DMA);
        break;
      case VFIO_EEH_PE_GET_STATE:
        // The state is the return value; nothing is copied back.
        rc = yield* eeh.peGetState(pe);
        break;
      case VFIO_EEH_PE_RESET_DEACTIVATE:
        rc = yield* eeh.peReset(pe, EEH_RESET_DEACTIVATE, true);
        break;
      case VFIO_EEH_PE_RESET_HOT:
        rc = yield* eeh.peReset(pe, EEH_RESET_HOT, true);
        break;
      case VFIO_EEH_PE_RESET_FUNDAMENTAL:
        rc = yield* eeh.peReset(pe, EEH_RESET_FUNDAMENTAL, true);
        break;
      case VFIO_EEH_PE_CONFIGURE:
        rc = yield* eeh.peConfigure(pe);
        break;
      case VFIO_EEH_PE_INJECT_ERR: {
        // Here the kernel checks argsz before copying the longer struct.
        minsz = st.offsetofEnd('err.mask');
        if (op.argsz < minsz) return -EINVAL;
        const full = copyFromUser(arg, st, minsz);
        if (!full) return -EFAULT;
        op = full;
        rc = yield* eeh.peInjectErr(pe, op.err.type, op.err.func, op.err.addr, op.err.mask);
        break;
      }
      default:
        return -EINVAL;
    }
    this.vfio.sim.trace.emit('vfio.eeh.pe_op', { group: group.id, pe: pe.label, op: op.op, rc });
    return rc;
  }
}
