/**
 * The VFIO group, `/dev/vfio/<n>` (cf. drivers/vfio/group.c). One group is
 * one IOMMU group of the host - one PE on powernv. A group is opened at
 * most once at a time; it is put in a container with GROUP_SET_CONTAINER
 * and hands out device fds with GROUP_GET_DEVICE_FD. Device files hold a
 * reference to the group file, so the group is released (and leaves its
 * container) only after its last device file closed.
 *
 * Viability. MODEL: a group is viable when every function of the IOMMU
 * group is bound to vfio-pci. Linux also accepts functions with no driver
 * (and pci-stub before 5.19); since 5.19 it expresses viability as the
 * DMA-owner claim taken at SET_CONTAINER (iommu_group_claim_dma_owner:
 * -EBUSY while a kernel driver owns a function), which the model keeps;
 * GET_DEVICE_FD also re-checks viability (-EINVAL) as Linux < 5.19's
 * vfio_group_get_device_fd did, because the model's host does not refuse a
 * driver bind while the group is claimed.
 */

import type { HostProcess, IoctlArg } from '../host/process.js';
import type { IommuGroupBackend } from '../host/vfio_backend.js';
import type { Task } from '../sim/scheduler.js';
import { EBADF, EBUSY, EFAULT, EINVAL, ENODEV, ENOTTY } from '../uapi/errno.js';
import {
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  vfio_group_status,
} from '../uapi/vfio.js';
import { type VfioContainer, VfioContainerFile } from './container.js';
import { VfioDeviceFile, VfioPciDevice } from './device.js';
import { VfioFile } from './file.js';
import { copyArgszFromUser, copyToUser, getUserS32, strndupUser } from './uaccess.js';
import type { Vfio } from './vfio.js';

/** PAGE_SIZE as strndup_user(arg, PAGE_SIZE) uses it for the device name. */
const NAME_MAX = 4096;

export class VfioGroup {
  container: VfioContainer | undefined;
  /** group->container_users: 1 for the container, +1 per open device file. */
  containerUsers = 0;
  /** group->opened_file is set (the group is open). */
  opened = false;
  /** References to the open group file: the fd(s) plus one per device file. */
  fileRefs = 0;
  /** struct vfio_device of each function bound to vfio-pci, made on first lookup. */
  readonly devices = new Map<string, VfioPciDevice>();

  constructor(
    readonly vfio: Vfio,
    readonly backend: IommuGroupBackend,
  ) {}

  get id(): number {
    return this.backend.id;
  }

  /** Every function bound to vfio-pci (see the file comment). */
  get viable(): boolean {
    return this.backend.devices().every((d) => d.vfioBound);
  }

  /** True when some function is bound to vfio-pci (the /dev/vfio/<n> node exists). */
  get present(): boolean {
    return this.backend.devices().some((d) => d.vfioBound);
  }

  /**
   * vfio_device_get_from_name(): the vfio_device of a function bound to
   * vfio-pci with that name. MODEL: the object is made on first use and
   * kept once opened (Linux registers it when vfio-pci binds).
   */
  device(name: string): VfioPciDevice | undefined {
    const fn = this.backend.devices().find((d) => d.name === name && d.vfioBound);
    if (!fn) return undefined;
    const dev = this.devices.get(name);
    return dev && dev.fn === fn ? dev : new VfioPciDevice(this, fn);
  }

  *ioctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
    switch (request) {
      case VFIO_GROUP_GET_STATUS:
        return this.getStatus(arg);
      case VFIO_GROUP_SET_CONTAINER:
        return yield* this.setContainer(proc, arg);
      case VFIO_GROUP_UNSET_CONTAINER:
        return yield* this.unsetContainer();
      case VFIO_GROUP_GET_DEVICE_FD:
        return yield* this.getDeviceFd(proc, arg);
      default:
        return -ENOTTY;
    }
  }

  /** vfio_group_ioctl_get_status() */
  private getStatus(arg: IoctlArg): number {
    const st = vfio_group_status;
    const minsz = st.offsetofEnd('flags');
    const status = copyArgszFromUser(arg, st, minsz);
    if (typeof status === 'number') return status;
    let flags = 0;
    if (this.viable) flags |= VFIO_GROUP_FLAGS_VIABLE;
    if (this.container) flags |= VFIO_GROUP_FLAGS_CONTAINER_SET;
    return copyToUser(arg, st, { argsz: status.argsz, flags }, minsz) ? 0 : -EFAULT;
  }

  /** vfio_group_ioctl_set_container() */
  private *setContainer(proc: HostProcess, arg: IoctlArg): Task<number> {
    const fd = getUserS32(arg);
    if (fd === undefined) return -EFAULT;
    const f = proc.file(fd);
    if (!f) return -EBADF;
    if (this.container) return -EINVAL;
    // Sanity check, is this really our fd? (-EINVAL before 6.2, -EBADFD since.)
    if (!(f instanceof VfioContainerFile)) return -EINVAL;
    // iommu_group_claim_dma_owner(): a kernel driver owns a function.
    if (!this.viable) return -EBUSY;
    return yield* f.container.attachGroup(this);
  }

  /** vfio_group_ioctl_unset_container(): only the 1 -> 0 transition. */
  private *unsetContainer(): Task<number> {
    if (!this.container) return -EINVAL;
    if (this.containerUsers !== 1) return -EBUSY;
    yield* this.container.detachGroup(this);
    return 0;
  }

  /** vfio_group_ioctl_get_device_fd() */
  private *getDeviceFd(proc: HostProcess, arg: IoctlArg): Task<number> {
    const name = strndupUser(arg, NAME_MAX);
    if (name === 'EFAULT') return -EFAULT;
    if (name === 'EINVAL') return -EINVAL;
    const dev = this.device(name);
    if (!dev) return -ENODEV;
    // vfio_df_group_open(): the group needs a container with an IOMMU driver.
    if (!this.container?.iommu) return -EINVAL;
    if (!this.viable) return -EINVAL;
    this.devices.set(name, dev);
    this.containerUsers++;
    this.fileRefs++;
    yield* dev.open();
    return proc.install(new VfioDeviceFile(this.vfio, dev));
  }

  /** A device file closed (vfio_df_group_close + the group file reference). */
  *deviceFileClosed(): Task<void> {
    this.containerUsers--;
    yield* this.put();
  }

  /** fput() of the group file; the last one is vfio_group_fops_release(). */
  *put(): Task<void> {
    if (--this.fileRefs > 0) return;
    if (this.container) yield* this.container.detachGroup(this);
    this.opened = false;
    this.vfio.sim.trace.emit('vfio.release', { fd: 'vfio-group', id: String(this.id) });
  }
}

/** An open `/dev/vfio/<n>`. */
export class VfioGroupFile extends VfioFile {
  readonly kind = 'vfio-group';
  protected readonly fdKind = 'group';

  constructor(
    vfio: Vfio,
    readonly group: VfioGroup,
  ) {
    super(vfio);
  }

  protected *doIoctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
    return yield* this.group.ioctl(proc, request, arg);
  }

  protected *doRelease(): Task<void> {
    yield* this.group.put();
  }
}
