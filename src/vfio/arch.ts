/**
 * The arch hook of vfio-pci's device-fd ioctl: requests vfio-pci does not
 * know fall to `vfio_pci_arch_ioctl()`, a weak function returning -ENOTTY
 * that a platform may override. The hook never existed upstream: it is the
 * shape of the 2013 proposal "[PATCH 2/3] VFIO: VFIO_DEVICE_SET_ADDR_MAPPING
 * command" (Gavin Shan), where powernv overrode it to learn the guest
 * address of a passed-through device. See ./experimental_addr_mapping.ts.
 */

import type { HostProcess, IoctlArg } from '../host/process.js';
import type { EehPe } from '../kernel/eeh_dev.js';
import type { Task } from '../sim/scheduler.js';
import { ENOTTY } from '../uapi/errno.js';
import type { Buid } from '../uapi/ids.js';

/** What the arch hook may see of the device behind the fd. */
export interface VfioArchDevice {
  /** `0000:01:00.0` */
  readonly name: string;
  /** IOMMU group number. */
  readonly groupId: number;
  /** eeh_iommu_group_to_pe() of the device's group. */
  pe(): EehPe | undefined;
}

/** A platform's override of vfio_pci_arch_ioctl() (plus a release notification). */
export interface VfioPciArch {
  readonly name: string;
  ioctl(proc: HostProcess, dev: VfioArchDevice, request: number, arg: IoctlArg): Task<number>;
  /** The device's last file closed: drop per-device state. */
  release?(dev: VfioArchDevice): void;
  /**
   * EXPERIMENTAL (never merged): the PE a guest RTAS address names, among
   * the mappings `owner` (a process's mm) set - see experimental_addr_mapping.ts.
   */
  lookupPe?(owner: object, buid: Buid, addr: number): { groupId: number; pe: EehPe } | undefined;
}

/** The weak default: every unknown request is -ENOTTY. */
export const DEFAULT_PCI_ARCH: VfioPciArch = Object.freeze({
  name: 'default',
  *ioctl(): Task<number> {
    return -ENOTTY;
  },
});
