/**
 * How guest EEH reaches the host PE: the one place that knows which design
 * is in force. The VMM calls these hooks at fixed points and never tests
 * which design it runs, so the designs of the 2013 discussion plug in as
 * further strategy objects next to `QEMU_INTERCEPT`:
 *
 * - (d) QEMU intercepts every call (upstream, merged 2014): KVM gets no
 *   EEH service, every EEH RTAS call exits to the VMM, which issues
 *   VFIO_EEH_PE_OP on the PHB's container.
 * - (a) host kernel told the mapping: bind EEH names to in-kernel KVM
 *   services (`kernelRtasServices`) and register the (BUID, PE address) ->
 *   group link in `phbRealized` (KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING or
 *   VFIO_DEVICE_SET_ADDR_MAPPING, both experimental).
 * - (b) guest told the mapping / (c) identity: change what the guest sees
 *   in `deviceTree`.
 */
import type { HostProcess, IoctlArg } from '../host/process.js';
import type { Task } from '../sim/scheduler.js';
import { EBADF } from '../uapi/errno.js';
import {
  KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
  kvm_vfio_eeh_mapping,
  VFIO_DEVICE_SET_ADDR_MAPPING,
  vfio_device_addr_mapping,
} from '../uapi/experimental.js';
import type { Buid } from '../uapi/ids.js';
import { KVM_DEV_VFIO_GROUP, KVM_SET_DEVICE_ATTR, kvm_device_attr } from '../uapi/kvm.js';
import type { GuestDeviceTree } from './device_tree.js';

/** What a wiring hook may use: the VMM's process, its fds and its syscalls. */
export interface EehWiringContext {
  readonly vmName: string;
  readonly proc: HostProcess;
  /** The KVM VM fd and the kvm-vfio device fd (undefined when no PHB has a group). */
  readonly vmFd: number;
  readonly kvmVfioFd: number | undefined;
  /** ioctl() through the syscall layer (charged like any other). */
  ioctl(fd: number, request: number, arg: IoctlArg): Task<number>;
  /** Copies `bytes` into the VMM's own memory and returns their address (for pointers in ioctl structs). */
  userPointer(bytes: Uint8Array): number;
}

/** A realized virtual PHB as the wiring sees it. */
export interface WiringPhb {
  readonly index: number;
  readonly buid: Buid;
  readonly containerFd: number;
  readonly groupFd: number;
  /** ibm,get-config-addr-info2's PE address of the PHB's PE ((bus << 16) + 1). */
  readonly peConfigAddr: number;
  readonly devices: ReadonlyArray<{
    readonly host: string;
    readonly fd: number;
    readonly configAddr: number;
  }>;
}

export interface EehWiring {
  readonly name: string;
  /**
   * RTAS services the VMM binds in KVM with KVM_PPC_RTAS_DEFINE_TOKEN
   * (using its own token numbers); calls to them never reach the VMM.
   */
  readonly kernelRtasServices: readonly string[];
  /** After a PHB with a VFIO group is realized: 0, or -errno to fail the machine. */
  phbRealized?(ctx: EehWiringContext, phb: WiringPhb): Task<number>;
  /** The device tree handed to the guest (default: unchanged). */
  deviceTree?(tree: GuestDeviceTree): GuestDeviceTree;
}

/** Seed option (d), upstream since 2014: nothing in KVM, every EEH call exits to the VMM. */
export const QEMU_INTERCEPT: EehWiring = Object.freeze({
  name: 'qemu-intercept',
  kernelRtasServices: Object.freeze([]),
});

/** The RTAS call the in-kernel designs answer in KVM: the guest's state query. */
const STATE_QUERY = 'ibm,read-slot-reset-state2';

/**
 * Seed option (a) via KVM (Alex Williamson's "maybe the mapping should be
 * registered with KVM"): per virtual PHB, KVM_SET_DEVICE_ATTR on the
 * kvm-vfio device with the EXPERIMENTAL KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING
 * (BUID, PE address -> the PHB's group fd; KVM checks the fd in this
 * process's table), and the state query bound to KVM's in-kernel service.
 * Whether KVM answers in virtual or real mode is the host's service, not
 * the VMM's business: designs `a` and `a-realmode` share this wiring.
 */
export const KVM_EEH_MAPPING: EehWiring = Object.freeze({
  name: 'kvm-eeh-mapping',
  kernelRtasServices: Object.freeze([STATE_QUERY]),
  *phbRealized(ctx: EehWiringContext, phb: WiringPhb): Task<number> {
    if (ctx.kvmVfioFd === undefined) return -EBADF;
    const data = kvm_vfio_eeh_mapping.encode({
      groupfd: phb.groupFd,
      flags: 0,
      buid: phb.buid,
      pe_config_addr: phb.peConfigAddr,
    });
    const attr = kvm_device_attr.encode({
      group: KVM_DEV_VFIO_GROUP,
      attr: KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
      addr: ctx.userPointer(new Uint8Array(data)),
    });
    return yield* ctx.ioctl(ctx.kvmVfioFd, KVM_SET_DEVICE_ATTR, attr);
  },
});

/**
 * Seed option (a) via VFIO (Gavin Shan's 2013 patch): the EXPERIMENTAL
 * VFIO_DEVICE_SET_ADDR_MAPPING on every passed-through device fd (guest
 * BUID + config address), and the state query bound to KVM's in-kernel
 * service, which finds the PE through that table (this process's entries
 * only, through this VM's kvm-vfio groups only).
 */
export const VFIO_ADDR_MAPPING: EehWiring = Object.freeze({
  name: 'vfio-addr-mapping',
  kernelRtasServices: Object.freeze([STATE_QUERY]),
  *phbRealized(ctx: EehWiringContext, phb: WiringPhb): Task<number> {
    for (const d of phb.devices) {
      const arg = vfio_device_addr_mapping.encode({
        argsz: vfio_device_addr_mapping.size,
        flags: 0,
        buid: phb.buid,
        config_addr: d.configAddr,
      });
      const rc = yield* ctx.ioctl(d.fd, VFIO_DEVICE_SET_ADDR_MAPPING, arg);
      if (rc !== 0) return rc;
    }
    return 0;
  },
});
