/**
 * The VFIO module of the host kernel: `/dev/vfio/vfio` (containers) and
 * `/dev/vfio/<group>` (groups), over a `VfioBackend` (./backend.ts).
 *
 *   const vfio = new Vfio(sim, backend);
 *   vfio.register(syscalls);                       // /dev/vfio/*
 *   vfio.setPciArch(new PowernvAddrMapping(sim));  // EXPERIMENTAL, optional
 *
 * Every object is reached through an fd of the calling process: a
 * container fd, a group fd (one open at a time), device fds from
 * GROUP_GET_DEVICE_FD. ioctls return >= 0 or -errno, never throw.
 */

import type { FileOps, HostProcess, Syscalls } from '../host/process.js';
import type { VfioBackend } from '../host/vfio_backend.js';
import type { Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import { EBADF, EBUSY, ENOENT } from '../uapi/errno.js';
import { DEFAULT_PCI_ARCH, type VfioPciArch } from './arch.js';
import { VfioContainer, VfioContainerFile } from './container.js';
import type { IrqType, VfioPciDevice } from './device.js';
import { VfioFile } from './file.js';
import { VfioGroup, VfioGroupFile } from './group.js';
import './trace_events.js';

/** Where VFIO registers its character devices. */
export const VFIO_DEV_DIR = '/dev/vfio';

/** A plain, comparable picture of VFIO's state (inspection, tests). */
export interface VfioSnapshot {
  containers: Array<{
    id: number;
    files: number;
    groups: number[];
    iommu: null | {
      v2: boolean;
      enabled: boolean;
      defWindowPending: boolean;
      tables: Array<{ start: number; size: number; pageShift: number } | null>;
      lockedPages: number;
      mmPid: number | null;
      groups: number[];
      prereg: Array<{ vaddr: number; size: number; mapped: number }>;
      entries: Array<[page: number, hpa: number, perm: number]>;
    };
  }>;
  groups: Array<{
    id: number;
    opened: boolean;
    fileRefs: number;
    container: number | null;
    containerUsers: number;
    devices: Array<{
      name: string;
      openCount: number;
      irqType: IrqType;
      vectors: (number | null)[];
      intxMasked: boolean;
      errTrigger: number | null;
      reqTrigger: number | null;
      errSignals: number;
    }>;
  }>;
}

export class Vfio {
  /** vfio.group_list: groups that were opened at least once. */
  private readonly groups = new Map<number, VfioGroup>();
  private readonly containers: VfioContainer[] = [];
  private nextContainer = 0;
  /** vfio_pci_arch_ioctl(): the platform override, or the -ENOTTY default. */
  pciArch: VfioPciArch = DEFAULT_PCI_ARCH;

  constructor(
    readonly sim: Sim,
    readonly backend: VfioBackend,
  ) {
    backend.setErrorNotify?.((name) => this.openDevice(name)?.signalError() ?? false);
  }

  /** Registers /dev/vfio/vfio and /dev/vfio/<group> with the syscall layer. */
  register(syscalls: Syscalls): void {
    syscalls.registerDevice(VFIO_DEV_DIR, (proc, minor) => this.open(proc, minor));
  }

  /** Overrides vfio_pci_arch_ioctl() (a platform's hook, e.g. the experimental powernv one). */
  setPciArch(arch: VfioPciArch): void {
    this.pciArch = arch;
  }

  /** open() of /dev/vfio/<minor>: a new file, or -errno. */
  *open(_proc: HostProcess, minor: string): Task<FileOps | number> {
    const file = this.openFile(minor);
    this.sim.trace.emit('vfio.open', {
      path: `${VFIO_DEV_DIR}/${minor}`,
      rc: typeof file === 'number' ? file : 0,
    });
    return file;
  }

  private openFile(minor: string): FileOps | number {
    if (minor === 'vfio') {
      // vfio_fops_open(): a new, empty container.
      const c = new VfioContainer(this, this.nextContainer++);
      this.containers.push(c);
      return new VfioContainerFile(this, c);
    }
    if (!/^\d{1,9}$/.test(minor)) return -ENOENT;
    const id = Number(minor);
    const group = this.group(id);
    // MODEL: the node exists while a function of the group is bound to
    // vfio-pci (vfio_group_find_or_alloc at driver probe).
    if (!group?.present) return -ENOENT;
    // vfio_group_fops_open(): one open at a time.
    if (group.opened) return -EBUSY;
    group.opened = true;
    group.fileRefs = 1;
    return new VfioGroupFile(this, group);
  }

  /** The VFIO group of IOMMU group `id` (made on first use), if the host has it. */
  group(id: number): VfioGroup | undefined {
    let g = this.groups.get(id);
    const backend = this.backend.iommuGroup(id);
    if (!backend) return undefined;
    if (!g || g.backend !== backend) {
      g = new VfioGroup(this, backend);
      this.groups.set(id, g);
    }
    return g;
  }

  /**
   * Passes an open VFIO fd from one process to another (SCM_RIGHTS, or an
   * fd inherited across fork): both fds refer to the same file. Returns the
   * new fd in `to`, or -EBADF.
   */
  passFd(from: HostProcess, fd: number, to: HostProcess): number {
    const f = from.file(fd);
    if (!(f instanceof VfioFile)) return -EBADF;
    f.get();
    return to.install(f);
  }

  /** The open vfio-pci device of that name (for the host's AER path), if any. */
  openDevice(name: string): VfioPciDevice | undefined {
    for (const g of this.groups.values()) {
      const d = g.devices.get(name);
      if (d && d.openCount > 0) return d;
    }
    return undefined;
  }

  snapshot(): VfioSnapshot {
    const containers = this.containers
      .filter((c) => c.alive)
      .map((c) => {
        const t = c.iommu;
        return {
          id: c.id,
          files: c.files,
          groups: c.groups.map((g) => g.id),
          iommu: t
            ? {
                v2: t.v2,
                enabled: t.enabled,
                defWindowPending: t.defWindowPending,
                tables: t.tables.map((w) => (w ? { ...w } : null)),
                lockedPages: t.lockedPages,
                mmPid: t.mmPid ?? null,
                groups: t.groups.map((g) => g.id),
                prereg: t.prereg.map((r) => ({ ...r })),
                entries: [...t.entries]
                  .sort((a, b) => a[0] - b[0])
                  .map(([p, e]): [number, number, number] => [p, e.hpa, e.perm]),
              }
            : null,
        };
      });
    const groups = [...this.groups.values()]
      .sort((a, b) => a.id - b.id)
      .map((g) => ({
        id: g.id,
        opened: g.opened,
        fileRefs: g.fileRefs,
        container: g.container?.id ?? null,
        containerUsers: g.containerUsers,
        devices: [...g.devices.values()].map((d) => ({
          name: d.name,
          openCount: d.openCount,
          irqType: d.irqType,
          vectors: [...d.vectors],
          intxMasked: d.intxMasked,
          errTrigger: d.errTrigger,
          reqTrigger: d.reqTrigger,
          errSignals: d.errSignals,
        })),
      }));
    return { containers, groups };
  }
}
