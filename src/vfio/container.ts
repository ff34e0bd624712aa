/**
 * The VFIO container, `/dev/vfio/vfio` (cf. drivers/vfio/container.c).
 *
 * A container holds groups (`group_list`, list_add = newest first) and,
 * once VFIO_SET_IOMMU succeeded, an IOMMU driver. Without a driver only
 * GET_API_VERSION / CHECK_EXTENSION / SET_IOMMU work and every other
 * request is -EINVAL (vfio_fops_unl_ioctl's default); with one, unknown
 * requests go to the driver (-ENOTTY there). Detaching the last group
 * releases the driver: the container returns to its unset state.
 *
 * MODEL: the only IOMMU driver registered is vfio_iommu_spapr_tce (a POWER
 * host without CONFIG_VFIO_NOIOMMU).
 */

import type { HostProcess, IoctlArg } from '../host/process.js';
import type { Task } from '../sim/scheduler.js';
import { EINVAL, ENODEV } from '../uapi/errno.js';
import {
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_GET_API_VERSION,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
} from '../uapi/vfio.js';
import { VfioFile } from './file.js';
import type { VfioGroup } from './group.js';
import { TceIommu, tceCheckExtension } from './spapr_tce.js';
import type { Vfio } from './vfio.js';

export class VfioContainer {
  /** container->group_list: head = most recently attached. */
  readonly groups: VfioGroup[] = [];
  /** container->iommu_driver + iommu_data. */
  iommu: TceIommu | undefined;
  /** Open container files (the fd(s) of /dev/vfio/vfio). */
  files = 0;

  constructor(
    private readonly vfio: Vfio,
    readonly id: number,
  ) {}

  /** Alive while a file or a group refers to it (the kref). */
  get alive(): boolean {
    return this.files > 0 || this.groups.length > 0;
  }

  *ioctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
    switch (request) {
      case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
      case VFIO_CHECK_EXTENSION:
        // Without a driver, poll the registered drivers; with one, ask it.
        return this.iommu
          ? yield* this.iommu.ioctl(proc, request, arg)
          : tceCheckExtension(this.vfio.backend, arg);
      case VFIO_SET_IOMMU:
        return yield* this.setIommu(arg);
      default:
        // Pass all unrecognized ioctls to the driver.
        return this.iommu ? yield* this.iommu.ioctl(proc, request, arg) : -EINVAL;
    }
  }

  /** vfio_ioctl_set_iommu() */
  private *setIommu(arg: IoctlArg): Task<number> {
    // Only a container with a group may set an IOMMU, and only once.
    if (this.groups.length === 0 || this.iommu) return -EINVAL;
    // The arg magic is the same as CHECK_EXTENSION: a driver that does not
    // report it is skipped, leaving -ENODEV.
    if (tceCheckExtension(this.vfio.backend, arg) <= 0) return -ENODEV;
    // tce_iommu_open(): only the two sPAPR types (VFIO_EEH passes the check above).
    if (arg !== VFIO_SPAPR_TCE_IOMMU && arg !== VFIO_SPAPR_TCE_v2_IOMMU) return -EINVAL;
    const drv = new TceIommu(this.vfio, arg === VFIO_SPAPR_TCE_v2_IOMMU);
    // __vfio_container_attach_groups(): in container list order, unwind on error.
    const attached: VfioGroup[] = [];
    for (const g of this.groups) {
      const rc = yield* drv.attachGroup(g);
      if (rc) {
        for (const a of attached.reverse()) yield* drv.detachGroup(a);
        yield* drv.release();
        return rc;
      }
      attached.push(g);
    }
    this.iommu = drv;
    return 0;
  }

  /** vfio_container_attach_group(): the caller checked the group is free and viable. */
  *attachGroup(group: VfioGroup): Task<number> {
    if (this.iommu) {
      const rc = yield* this.iommu.attachGroup(group);
      if (rc) return rc;
    }
    group.container = this;
    group.containerUsers = 1;
    this.groups.unshift(group);
    return 0;
  }

  /** vfio_group_detach_container() */
  *detachGroup(group: VfioGroup): Task<void> {
    if (this.iommu) yield* this.iommu.detachGroup(group);
    group.container = undefined;
    group.containerUsers = 0;
    const i = this.groups.indexOf(group);
    if (i >= 0) this.groups.splice(i, 1);
    // Detaching the last group deprivileges a container: remove the IOMMU.
    if (this.iommu && this.groups.length === 0) {
      yield* this.iommu.release();
      this.iommu = undefined;
    }
  }
}

/** An open `/dev/vfio/vfio`. */
export class VfioContainerFile extends VfioFile {
  readonly kind = 'vfio-container';
  protected readonly fdKind = 'container';

  constructor(
    vfio: Vfio,
    readonly container: VfioContainer,
  ) {
    super(vfio);
    container.files++;
  }

  protected *doIoctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
    return yield* this.container.ioctl(proc, request, arg);
  }

  /** vfio_fops_release(): drops the file's reference; groups keep the container alive. */
  protected *doRelease(): Task<void> {
    this.container.files--;
    this.vfio.sim.trace.emit('vfio.release', { fd: this.kind, id: String(this.container.id) });
  }
}
