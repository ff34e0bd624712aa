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
 * - (b) guest told the mapping: the host PE identity in `deviceTree`
 *   (`hostPeInDeviceTree`); (c) identity: `placePhb` + `peConfigAddr` make
 *   guest addresses the host's (`IDENTITY_MAPPING`).
 */
import type { HostProcess, IoctlArg } from '../host/process.js';
import {
  hostPeBuid,
  identityBuid,
  identityPhbOfBuid,
  KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID,
  kvm_vfio_eeh_pe_id,
  parseHostFunction,
} from '../kvm/uapi_eeh_identity.js';
import type { Task } from '../sim/scheduler.js';
import type { GuestDeviceTree } from '../uapi/device_tree.js';
import { EBADF, EFAULT, EINVAL, ERANGE } from '../uapi/errno.js';
import {
  KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
  kvm_vfio_eeh_mapping,
  VFIO_DEVICE_SET_ADDR_MAPPING,
  vfio_device_addr_mapping,
} from '../uapi/experimental.js';
import type { Buid } from '../uapi/ids.js';
import {
  KVM_DEV_VFIO_GROUP,
  KVM_GET_DEVICE_ATTR,
  KVM_SET_DEVICE_ATTR,
  kvm_device_attr,
} from '../uapi/kvm.js';
import type { VmRunState } from './vmm.js';

/** What a wiring hook may use: the VMM's process, its fds and its syscalls. */
export interface EehWiringContext {
  readonly vmName: string;
  readonly proc: HostProcess;
  /** The KVM VM fd and the kvm-vfio device fd (undefined when no PHB has a group). */
  readonly vmFd: number;
  readonly kvmVfioFd: number | undefined;
  /** ioctl() through the syscall layer (charged like any other). */
  ioctl(fd: number, request: number, arg: IoctlArg): Task<number>;
  /** Reads `len` bytes of the VMM's own memory (what an ioctl wrote back). */
  readUser(addr: number, len: number): Uint8Array;
  /** Copies `bytes` into the VMM's own memory and returns their address (for pointers in ioctl structs). */
  userPointer(bytes: Uint8Array): number;
  /** eventfd(0, 0) in the VMM's process: the fd (the `+notify` wirings, src/vmm/notify_wiring.ts). */
  eventfd(): number;
  /** The VMM's main loop watches eventfd `fd`: a VMM thread `name` blocks in read() and runs `onSignal` per wake-up. */
  watch(fd: number, name: string, onSignal: () => Task<void>): void;
  /** vm_stop(): the VMM pauses the VM's vCPUs for good (the `aer` baseline, src/vmm/aer_wiring.ts). */
  vmStop(state: VmRunState, reason: string): void;
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

/** Where the VMM puts a virtual PHB and its functions (a design's placement). */
export interface PhbPlacement {
  /** PHB index (BUID = SPAPR_PCI_BASE_BUID + index). */
  readonly index: number;
  /** Guest bus and devfn of each host function, by host name. */
  readonly devices: ReadonlyArray<{
    readonly host: string;
    readonly bus: number;
    readonly devfn: number;
  }>;
}

/** A placement the design cannot make: the VMM fails the PHB with this step and rc. */
export interface PlacementError {
  readonly error: string;
  readonly rc: number;
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
  /**
   * Where a virtual PHB and its functions go (default: the configured
   * index, root bus, first free slots in the order of the host slots).
   */
  placePhb?(index: number, hosts: readonly string[]): PhbPlacement | PlacementError;
  /**
   * ibm,get-config-addr-info2's PE address of a function of `phb`
   * (default: QEMU's (bus << 16) + 1).
   */
  peConfigAddr?(
    phb: { readonly devices: ReadonlyArray<{ readonly configAddr: number }> },
    dev: { readonly bus: number; readonly configAddr: number },
  ): number;
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

/**
 * Seed option (b), guest told the mapping: per virtual PHB the VMM asks KVM
 * for the host PE identity of the group it opened and linked (EXPERIMENTAL
 * KVM_GET_DEVICE_ATTR KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID) and writes it into
 * the guest device tree ("ibm,host-eeh-pe" on each function); the guest's
 * pseries platform addresses its state queries with it and KVM answers them
 * after checking the PE is one of this VM's groups. Stateful (identities
 * between phbRealized and deviceTree): one object per VMM.
 *
 * MODEL: a real VMM could read the identity from the host's sysfs
 * (eeh_pe_config_addr); the model's VMM reaches the host only through its
 * fds, so it asks KVM about a group fd it holds.
 */
export function hostPeInDeviceTree(): EehWiring {
  const ids = new Map<string, { buid: Buid; peAddr: number }>();
  const key = (buid: Buid, configAddr: number) => `${buid}/${configAddr}`;
  return {
    name: 'host-pe-in-device-tree',
    kernelRtasServices: [STATE_QUERY],
    *phbRealized(ctx: EehWiringContext, phb: WiringPhb): Task<number> {
      if (ctx.kvmVfioFd === undefined) return -EBADF;
      const buf = new Uint8Array(
        kvm_vfio_eeh_pe_id.encode({ groupfd: phb.groupFd, flags: 0, phb: 0, pe: 0 }),
      );
      const at = ctx.userPointer(buf);
      const attr = kvm_device_attr.encode({
        group: KVM_DEV_VFIO_GROUP,
        attr: KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID,
        addr: at,
      });
      const rc = yield* ctx.ioctl(ctx.kvmVfioFd, KVM_GET_DEVICE_ATTR, attr);
      if (rc !== 0) return rc;
      const out = kvm_vfio_eeh_pe_id.decode(
        ctx.readUser(at, kvm_vfio_eeh_pe_id.size).buffer as ArrayBuffer,
      );
      if (!out.ok) return -EFAULT;
      const id = { buid: hostPeBuid(out.value.phb), peAddr: out.value.pe };
      for (const d of phb.devices) ids.set(key(phb.buid, d.configAddr), id);
      return 0;
    },
    deviceTree(tree: GuestDeviceTree): GuestDeviceTree {
      return {
        ...tree,
        phbs: tree.phbs.map((p) => ({
          ...p,
          devices: p.devices.map((d) => {
            const id = ids.get(key(p.buid, d.configAddr));
            return id ? { ...d, hostEehPe: id } : d;
          }),
        })),
      };
    },
  };
}

/**
 * Seed option (c), identity mapping: each virtual PHB takes the identity of
 * the host PHB its functions sit on (index = host PHB id, so BUID =
 * SPAPR_PCI_BASE_BUID + host PHB id) and each function its host bus/devfn;
 * a PE's address is the config address of its first function. The guest's
 * (BUID, config address) is then the host's (PHB, bdf) and KVM answers the
 * state query from it directly after the ownership check. Nothing is
 * registered and the guest is unmodified.
 *
 * The constraint: the host dictates the guest's PCI layout. Functions of
 * two host PHBs cannot share a virtual PHB (two vPHBs are forced), and -
 * since QEMU's EEH needs one IOMMU group per virtual PHB - a VM can take
 * only one group per host PHB (a second vPHB would need the same BUID).
 * Another VM's layout does not matter: each VM has its own BUID and config
 * space, and ownership, not address, keeps them apart.
 *
 * MODEL: a function on a host bus other than 0 appears on that bus number
 * of the virtual PHB with no bridge above it (QEMU would need a
 * pci-bridge); the model's guest enumerates from the device tree.
 */
export const IDENTITY_MAPPING: EehWiring = Object.freeze({
  name: 'identity-mapping',
  kernelRtasServices: Object.freeze([STATE_QUERY]),
  placePhb(_index: number, hosts: readonly string[]): PhbPlacement | PlacementError {
    const devices: Array<{ host: string; bus: number; devfn: number }> = [];
    const phbs = new Set<number>();
    for (const host of hosts) {
      const f = parseHostFunction(host);
      if (!f) return { error: `identity mapping: '${host}' is not dddd:bb:dd.f`, rc: -EINVAL };
      phbs.add(f.phb);
      devices.push({ host, bus: f.bus, devfn: f.devfn });
    }
    if (phbs.size > 1) {
      return {
        error: `identity mapping: functions of host PHBs ${[...phbs].join(', ')} on one virtual PHB - each host PHB needs its own virtual PHB`,
        rc: -EINVAL,
      };
    }
    const [phb] = [...phbs];
    if (phb === undefined) return { error: 'identity mapping: no function', rc: -EINVAL };
    if (identityPhbOfBuid(identityBuid(phb)) !== phb) {
      return { error: `identity mapping: host PHB ${phb} has no BUID`, rc: -ERANGE };
    }
    return { index: phb, devices };
  },
  peConfigAddr(phb: { readonly devices: ReadonlyArray<{ readonly configAddr: number }> }): number {
    return Math.min(...phb.devices.map((d) => d.configAddr));
  },
});
