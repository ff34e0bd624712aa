/**
 * KVM as a host-kernel module: the `/dev/kvm` character device and the files
 * it hands out - the system fd, VM fds, vCPU fds, the kvm-vfio device fd and
 * sPAPR TCE table fds - each an ioctl dispatcher over encoded argument bytes.
 *
 * Upstream: virt/kvm/kvm_main.c (kvm_dev_ioctl, kvm_vm_ioctl, kvm_vcpu_ioctl,
 * kvm_device_ioctl, kvm_ioctl_create_device), arch/powerpc/kvm/powerpc.c
 * (kvm_vm_ioctl_check_extension, kvm_arch_vm_ioctl: KVM_PPC_RTAS_DEFINE_TOKEN,
 * KVM_CREATE_SPAPR_TCE_64), arch/powerpc/kvm/book3s_rtas.c (token table),
 * virt/kvm/vfio.c (the kvm-vfio device), arch/powerpc/kvm/book3s_64_vio.c
 * (TCE tables).
 */

import type { FileOps, HostProcess, IoctlArg, Syscalls } from '../host/process.js';
import type { HostMemory } from '../hw/memory.js';
import type { Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import {
  EBADF,
  EBUSY,
  EEXIST,
  EFAULT,
  EINVAL,
  EIO,
  ENODEV,
  ENOENT,
  ENOTTY,
  ENXIO,
  EPERM,
} from '../uapi/errno.js';
import { buid as toBuid } from '../uapi/ids.js';
import {
  KVM_API_VERSION,
  KVM_CAP_DEVICE_CTRL,
  KVM_CAP_PPC_RTAS,
  KVM_CAP_SPAPR_TCE_64,
  KVM_CAP_SPAPR_TCE_VFIO,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_DEVICE,
  KVM_CREATE_DEVICE_TEST,
  KVM_CREATE_SPAPR_TCE_64,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_DEV_TYPE_VFIO,
  KVM_DEV_VFIO_GROUP,
  KVM_DEV_VFIO_GROUP_ADD,
  KVM_DEV_VFIO_GROUP_DEL,
  KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
  KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE,
  KVM_GET_API_VERSION,
  KVM_GET_DEVICE_ATTR,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_HAS_DEVICE_ATTR,
  KVM_PPC_RTAS_DEFINE_TOKEN,
  KVM_SET_DEVICE_ATTR,
  kvm_create_device,
  kvm_create_spapr_tce_64,
  kvm_device_attr,
  kvm_rtas_token_args,
  kvm_vfio_eeh_mapping,
  kvm_vfio_spapr_tce,
  kvmIoctlName,
} from '../uapi/kvm.js';
import { vfioFileEehPe } from '../vfio/kvm_export.js';
import { KVM_PPC_EEH_EVENT, kvm_ppc_eeh_event } from './eeh_event.js';
import type { HostMmio } from './host_mmio.js';
import { defaultRtasServices, type KvmRtasServiceTable } from './rtas_services.js';
import { KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID, kvm_vfio_eeh_pe_id } from './uapi_eeh_identity.js';
import {
  KVM_CAP_NR_MEMSLOTS,
  KVM_CAP_USER_MEMORY,
  KVM_MAX_VCPU_IDS,
  KVM_SET_USER_MEMORY_REGION,
  KVM_USER_MEM_SLOTS,
  KVM_VM_PPC_HV,
  kvm_userspace_memory_region,
} from './uapi_memory.js';
import { copyFromUser, copyToUser } from './user_memory.js';
import { type SpaprTceTable, Vcpu, type VcpuRunHandler, Vm } from './vm.js';
import './trace_events.js';

/** The only registered device type: kvm-vfio. MODEL: no in-kernel XICS/XIVE device. */
const DEVICE_TYPES_MAX = 9; // ARRAY_SIZE(kvm_device_ops_table) is KVM_DEV_TYPE_MAX

export interface KvmOptions {
  /** Host RAM: backs guest memory slots and user pointers (see user_memory.ts). */
  readonly memory: HostMemory;
  /** Host-physical MMIO for passthrough BAR slots (provided by src/hw). */
  readonly mmio: HostMmio;
  /** In-kernel RTAS services (default: the four XICS names, no EEH). */
  readonly services?: KvmRtasServiceTable;
  /**
   * EXPERIMENTAL, never merged: accept KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING on
   * the kvm-vfio device (default false: -ENXIO, as upstream).
   */
  readonly experimentalEehMapping?: boolean;
  /**
   * kvm_vfio_file_is_valid(): is this open file a VFIO group? Default: its
   * FileOps.kind starts with `vfio-group`.
   */
  readonly isVfioGroupFile?: (f: FileOps) => boolean;
}

/** How a VMM's vCPU thread attaches to KVM_RUN (see VcpuRunHandler). */
export interface KvmRunPort {
  /**
   * Attaches `handler` as the run loop of the vCPU behind `vcpuFd` in
   * `proc`'s fd table: 0, -EBADF (no such fd), -EINVAL (not a vCPU fd),
   * -EIO (the VM belongs to another process).
   */
  attachRunLoop(proc: HostProcess, vcpuFd: number, handler: VcpuRunHandler): number;
  /**
   * The VMM's vCPU thread pauses and does not enter KVM_RUN again (QEMU
   * vm_stop -> pause_all_vcpus; see Vm.pausedAt for what the guest then
   * does). Same fd checks and results as attachRunLoop.
   */
  pauseVcpu(proc: HostProcess, vcpuFd: number): number;
}

const isBuf = (arg: IoctlArg, size: number): arg is ArrayBuffer =>
  arg instanceof ArrayBuffer && arg.byteLength >= size;

/** An integer ioctl argument; a pointer given where a value is expected reads as a huge value. */
const intArg = (arg: IoctlArg): number =>
  typeof arg === 'number' && Number.isInteger(arg) ? arg : Number.MAX_SAFE_INTEGER;

export class Kvm implements KvmRunPort {
  readonly vms: Vm[] = [];
  readonly services: KvmRtasServiceTable;
  private readonly vmFiles = new WeakMap<FileOps, Vm>();
  private readonly vcpuFiles = new WeakMap<FileOps, { vm: Vm; vcpu: Vcpu }>();
  private readonly tceFiles = new WeakMap<FileOps, { vm: Vm; table: SpaprTceTable }>();
  private readonly isGroup: (f: FileOps) => boolean;

  constructor(
    readonly sim: Sim,
    private readonly opts: KvmOptions,
  ) {
    this.services = opts.services ?? defaultRtasServices();
    this.isGroup = opts.isVfioGroupFile ?? ((f) => f.kind.startsWith('vfio-group'));
  }

  /**
   * Registers `/dev/kvm`. MODEL: Syscalls registers openers per directory, so
   * this claims `/dev` and answers only the minor `kvm` (-ENOENT otherwise).
   */
  register(sys: Syscalls): void {
    sys.registerDevice('/dev', (proc, minor) => this.open(proc, minor));
  }

  *open(_proc: HostProcess, minor: string): Task<FileOps | number> {
    if (minor !== 'kvm') return -ENOENT;
    return this.systemFile();
  }

  vmByName(name: string): Vm | undefined {
    return this.vms.find((v) => v.vmName === name);
  }

  /** The VM behind a VM fd of `proc` (for the machine that wires a guest kernel to it). */
  vmOf(proc: HostProcess, vmFd: number): Vm | undefined {
    const f = proc.file(vmFd);
    return f ? this.vmFiles.get(f) : undefined;
  }

  attachRunLoop(proc: HostProcess, vcpuFd: number, handler: VcpuRunHandler): number {
    const f = proc.file(vcpuFd);
    if (!f) return -EBADF;
    const v = this.vcpuFiles.get(f);
    if (!v) return -EINVAL;
    if (v.vm.mm !== proc.mm) return -EIO;
    v.vcpu.handler = handler;
    return 0;
  }

  pauseVcpu(proc: HostProcess, vcpuFd: number): number {
    const f = proc.file(vcpuFd);
    if (!f) return -EBADF;
    const v = this.vcpuFiles.get(f);
    if (!v) return -EINVAL;
    if (v.vm.mm !== proc.mm) return -EIO;
    v.vm.pauseVcpu(v.vcpu);
    return 0;
  }

  // ---- capabilities (kvm_vm_ioctl_check_extension_generic + powerpc.c) ---------

  private checkExtension(ext: number): number {
    switch (ext) {
      case KVM_CAP_USER_MEMORY:
      case KVM_CAP_DEVICE_CTRL:
      case KVM_CAP_PPC_RTAS:
      case KVM_CAP_SPAPR_TCE_64:
      case KVM_CAP_SPAPR_TCE_VFIO:
        return 1;
      case KVM_CAP_NR_MEMSLOTS:
        return KVM_USER_MEM_SLOTS;
      default:
        return 0;
    }
  }

  private trace(
    vm: string,
    fd: string,
    request: number,
    kind: 'system' | 'vm' | 'vcpu' | 'device',
    rc: number,
  ): number {
    this.sim.trace.emit('kvm.ioctl', {
      vm,
      fd,
      ioctl:
        kvmIoctlName(kind, request) ??
        (request === KVM_SET_USER_MEMORY_REGION
          ? 'KVM_SET_USER_MEMORY_REGION'
          : request === KVM_PPC_EEH_EVENT
            ? 'KVM_PPC_EEH_EVENT'
            : `0x${request.toString(16)}`),
      rc: rc,
    });
    return rc;
  }

  // ---- /dev/kvm ------------------------------------------------------------------

  private systemFile(): FileOps {
    const kvm = this;
    return {
      kind: 'kvm',
      *ioctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
        const rc = kvm.systemIoctl(proc, request, arg);
        return kvm.trace('', 'kvm', request, 'system', rc);
      },
      *release(): Task<void> {},
    };
  }

  private systemIoctl(proc: HostProcess, request: number, arg: IoctlArg): number {
    switch (request) {
      case KVM_GET_API_VERSION:
        return arg === 0 ? KVM_API_VERSION : -EINVAL;
      case KVM_CREATE_VM: {
        // kvm_arch_init_vm(): 0 = default (HV here), KVM_VM_PPC_HV; MODEL: PR KVM is not modelled.
        const type = intArg(arg);
        if (type !== 0 && type !== KVM_VM_PPC_HV) return -EINVAL;
        const taken = this.vms.filter((v) => v.vmName.split('.')[0] === proc.name).length;
        const name = taken === 0 ? proc.name : `${proc.name}.${taken}`;
        const vm = new Vm(
          {
            sim: this.sim,
            memory: this.opts.memory,
            mmio: this.opts.mmio,
            services: this.services,
          },
          name,
          proc.mm,
        );
        this.vms.push(vm);
        return proc.install(this.vmFile(vm));
      }
      case KVM_CHECK_EXTENSION:
        return this.checkExtension(intArg(arg));
      case KVM_GET_VCPU_MMAP_SIZE:
        // MODEL: one 4 KiB page (the real size adds arch pages on some hosts).
        return arg === 0 ? 4096 : -EINVAL;
      default:
        return -EINVAL;
    }
  }

  // ---- VM fd -----------------------------------------------------------------------

  private vmFile(vm: Vm): FileOps {
    const kvm = this;
    vm.refs++;
    const file: FileOps = {
      kind: 'kvm-vm',
      *ioctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
        const rc = proc.mm !== vm.mm ? -EIO : kvm.vmIoctl(proc, vm, request, arg);
        return kvm.trace(vm.vmName, 'kvm-vm', request, 'vm', rc);
      },
      *release(): Task<void> {
        kvm.put(vm);
      },
    };
    this.vmFiles.set(file, vm);
    return file;
  }

  private vmIoctl(proc: HostProcess, vm: Vm, request: number, arg: IoctlArg): number {
    switch (request) {
      case KVM_CHECK_EXTENSION:
        return this.checkExtension(intArg(arg));
      case KVM_CREATE_VCPU: {
        const id = intArg(arg);
        if (id < 0 || id >= KVM_MAX_VCPU_IDS) return -EINVAL;
        if (vm.vcpus.has(id)) return -EEXIST;
        const vcpu = new Vcpu(id);
        vm.vcpus.set(id, vcpu);
        return proc.install(this.vcpuFile(vm, vcpu));
      }
      case KVM_SET_USER_MEMORY_REGION: {
        if (!isBuf(arg, kvm_userspace_memory_region.size)) return -EFAULT;
        const d = kvm_userspace_memory_region.decode(arg);
        if (!d.ok) return -EFAULT;
        const m = d.value;
        return vm.setUserMemoryRegion(
          proc,
          m.slot,
          m.flags,
          m.guest_phys_addr,
          m.memory_size,
          m.userspace_addr,
        );
      }
      case KVM_PPC_RTAS_DEFINE_TOKEN:
        return this.defineToken(vm, arg);
      case KVM_CREATE_DEVICE:
        return this.createDevice(proc, vm, arg);
      case KVM_CREATE_SPAPR_TCE_64:
        return this.createSpaprTce(proc, vm, arg);
      case KVM_PPC_EEH_EVENT: {
        // PROPOSAL (+notify): EXPERIMENTAL, see eeh_event.ts.
        if (!isBuf(arg, kvm_ppc_eeh_event.size)) return -EFAULT;
        const d = kvm_ppc_eeh_event.decode(arg);
        if (!d.ok) return -EFAULT;
        if (d.value.flags !== 0) return -EINVAL;
        vm.injectEehEvent({ buid: d.value.buid, configAddr: d.value.config_addr });
        return 0;
      }
      default:
        return -ENOTTY;
    }
  }

  /** kvm_vm_ioctl_rtas_define_token(): token != 0 binds a name, token 0 unbinds it (always 0). */
  private defineToken(vm: Vm, arg: IoctlArg): number {
    if (!isBuf(arg, kvm_rtas_token_args.size)) return -EFAULT;
    const d = kvm_rtas_token_args.decode(arg);
    if (!d.ok) return -EFAULT;
    const { name, token } = d.value;
    let rc: number;
    if (token !== 0n) {
      if (vm.rtasTokens.some((t) => t.token === token)) rc = -EEXIST;
      else {
        const service = this.services.lookup(name);
        if (!service) rc = -ENOENT;
        else {
          vm.rtasTokens.push({ token, service });
          rc = 0;
        }
      }
    } else {
      // rtas_token_undefine(): "It's not an error to undefine an undefined token".
      const i = vm.rtasTokens.findIndex((t) => t.service.name === name);
      if (i >= 0) vm.rtasTokens.splice(i, 1);
      rc = 0;
    }
    this.sim.trace.emit('kvm.rtas_token', {
      vm: vm.vmName,
      name,
      token: Number(BigInt.asUintN(53, token)),
      rc,
    });
    return rc;
  }

  /** kvm_ioctl_create_device(): only kvm-vfio is registered; the fd is copied back into the struct. */
  private createDevice(proc: HostProcess, vm: Vm, arg: IoctlArg): number {
    if (!isBuf(arg, kvm_create_device.size)) return -EFAULT;
    const d = kvm_create_device.decode(arg);
    if (!d.ok) return -EFAULT;
    const { type, flags } = d.value;
    if (type >= DEVICE_TYPES_MAX || type !== KVM_DEV_TYPE_VFIO) return -ENODEV;
    if (flags & KVM_CREATE_DEVICE_TEST) return 0;
    // kvm_vfio_create(): "Only one VFIO "device" per VM".
    if (vm.hasVfioDevice) return -EBUSY;
    vm.hasVfioDevice = true;
    const fd = proc.install(this.vfioDeviceFile(vm));
    kvm_create_device.set(arg, 0, 'fd', fd);
    return 0;
  }

  /** kvm_vm_ioctl_create_spapr_tce(). MODEL: the table object only (no H_PUT_TCE, no mmap). */
  private createSpaprTce(proc: HostProcess, vm: Vm, arg: IoctlArg): number {
    if (!isBuf(arg, kvm_create_spapr_tce_64.size)) return -EFAULT;
    const d = kvm_create_spapr_tce_64.decode(arg);
    if (!d.ok) return -EFAULT;
    const a = d.value;
    if (a.flags !== 0) return -EINVAL;
    if (a.size === 0n || a.page_shift < 12 || a.page_shift > 46) return -EINVAL;
    if (vm.tceTables.some((t) => t.liobn === a.liobn)) return -EBUSY;
    const table: SpaprTceTable = {
      liobn: a.liobn,
      pageShift: a.page_shift,
      offset: a.offset,
      size: a.size,
      groups: new Set(),
    };
    vm.tceTables.push(table);
    vm.refs++;
    const kvm = this;
    const file: FileOps = {
      kind: 'kvm-spapr-tce',
      *ioctl(): Task<number> {
        return -ENOTTY;
      },
      *release(): Task<void> {
        const i = vm.tceTables.indexOf(table);
        if (i >= 0) vm.tceTables.splice(i, 1);
        kvm.put(vm);
      },
    };
    this.tceFiles.set(file, { vm, table });
    return proc.install(file);
  }

  private put(vm: Vm): void {
    vm.refs--;
    if (vm.refs > 0) return;
    // kvm_destroy_vm(): kvmppc_rtas_tokens_free(), kvm_vfio_destroy(), TCE tables.
    vm.rtasTokens.length = 0;
    vm.vfioGroups.length = 0;
    vm.eehMappings.length = 0;
    vm.tceTables.length = 0;
    vm.hasVfioDevice = false;
    const i = this.vms.indexOf(vm);
    if (i >= 0) this.vms.splice(i, 1);
  }

  // ---- vCPU fd ---------------------------------------------------------------------

  private vcpuFile(vm: Vm, vcpu: Vcpu): FileOps {
    const kvm = this;
    vm.refs++;
    const file: FileOps = {
      kind: 'kvm-vcpu',
      *ioctl(proc: HostProcess, request: number): Task<number> {
        // MODEL: KVM_RUN is not issued as an ioctl; the VMM's run loop is
        // attached with Kvm.attachRunLoop() and runs where KVM_RUN returns.
        // (kvm_arch_vcpu_ioctl() answers anything else with -EINVAL too.)
        const rc = proc.mm !== vm.mm ? -EIO : -EINVAL;
        return kvm.trace(vm.vmName, `kvm-vcpu:${vcpu.id}`, request, 'vcpu', rc);
      },
      *release(): Task<void> {
        kvm.put(vm);
      },
    };
    this.vcpuFiles.set(file, { vm, vcpu });
    return file;
  }

  // ---- kvm-vfio device fd (virt/kvm/vfio.c) -------------------------------------------

  private vfioDeviceFile(vm: Vm): FileOps {
    const kvm = this;
    vm.refs++;
    return {
      kind: 'kvm-vfio',
      *ioctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
        const rc = proc.mm !== vm.mm ? -EIO : kvm.vfioDeviceIoctl(proc, vm, request, arg);
        return kvm.trace(vm.vmName, 'kvm-vfio', request, 'device', rc);
      },
      *release(): Task<void> {
        kvm.put(vm);
      },
    };
  }

  private hasAttr(group: number, attr: bigint): boolean {
    if (group !== KVM_DEV_VFIO_GROUP) return false;
    return (
      attr === BigInt(KVM_DEV_VFIO_GROUP_ADD) ||
      attr === BigInt(KVM_DEV_VFIO_GROUP_DEL) ||
      attr === BigInt(KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE) ||
      (this.opts.experimentalEehMapping === true &&
        (attr === BigInt(KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING) ||
          attr === BigInt(KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID)))
    );
  }

  private vfioDeviceIoctl(proc: HostProcess, vm: Vm, request: number, arg: IoctlArg): number {
    if (
      request !== KVM_SET_DEVICE_ATTR &&
      request !== KVM_GET_DEVICE_ATTR &&
      request !== KVM_HAS_DEVICE_ATTR
    ) {
      return -ENOTTY;
    }
    // kvm_device_ioctl_attr(): copy_from_user(&attr) first.
    if (!isBuf(arg, kvm_device_attr.size)) return -EFAULT;
    const d = kvm_device_attr.decode(arg);
    if (!d.ok) return -EFAULT;
    const a = d.value;
    if (request === KVM_GET_DEVICE_ATTR) {
      // Upstream kvm-vfio has no get_attr (-EPERM); the experimental host
      // answers the PE-identity attribute only.
      if (
        !this.opts.experimentalEehMapping ||
        a.group !== KVM_DEV_VFIO_GROUP ||
        a.attr !== BigInt(KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID)
      ) {
        return -EPERM;
      }
      const rc = this.getEehPeId(proc, vm, a.addr);
      this.sim.trace.emit('kvm.vfio', { vm: vm.vmName, op: vfioAttrName(a.attr), rc });
      return rc;
    }
    if (request === KVM_HAS_DEVICE_ATTR) return this.hasAttr(a.group, a.attr) ? 0 : -ENXIO;
    if (a.group !== KVM_DEV_VFIO_GROUP) return -ENXIO;
    const rc = this.setVfioAttr(proc, vm, a.attr, a.addr);
    this.sim.trace.emit('kvm.vfio', { vm: vm.vmName, op: vfioAttrName(a.attr), rc });
    return rc;
  }

  /**
   * EXPERIMENTAL (design b): KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID - the host PE
   * identity of a group the caller holds and linked to this VM.
   */
  private getEehPeId(proc: HostProcess, vm: Vm, addr: bigint): number {
    const mem = this.opts.memory;
    const b = copyFromUser(mem, proc, addr, kvm_vfio_eeh_pe_id.size);
    if (!b) return -EFAULT;
    const p = kvm_vfio_eeh_pe_id.decode(b);
    if (!p.ok) return -EFAULT;
    if (p.value.flags !== 0) return -EINVAL;
    const f = proc.file(p.value.groupfd);
    if (!f) return -EBADF;
    if (!this.isGroup(f)) return -EINVAL;
    if (!vm.vfioGroups.includes(f)) return -ENOENT;
    const t = vfioFileEehPe(f);
    if (!t) return -ENODEV;
    const out = kvm_vfio_eeh_pe_id.encode({
      groupfd: p.value.groupfd,
      flags: 0,
      phb: t.pe.phb,
      pe: t.pe.addr,
    });
    return copyToUser(mem, proc, addr, new Uint8Array(out)) ? 0 : -EFAULT;
  }

  private setVfioAttr(proc: HostProcess, vm: Vm, attr: bigint, addr: bigint): number {
    const mem = this.opts.memory;
    switch (attr) {
      case BigInt(KVM_DEV_VFIO_GROUP_ADD): {
        const b = copyFromUser(mem, proc, addr, 4);
        if (!b) return -EFAULT;
        const f = proc.file(new DataView(b.buffer).getInt32(0, true));
        if (!f) return -EBADF;
        if (!this.isGroup(f)) return -EINVAL;
        if (vm.vfioGroups.includes(f)) return -EEXIST;
        vm.vfioGroups.push(f);
        return 0;
      }
      case BigInt(KVM_DEV_VFIO_GROUP_DEL): {
        const b = copyFromUser(mem, proc, addr, 4);
        if (!b) return -EFAULT;
        const f = proc.file(new DataView(b.buffer).getInt32(0, true));
        if (!f) return -EBADF;
        const i = vm.vfioGroups.indexOf(f);
        if (i < 0) return -ENOENT;
        vm.vfioGroups.splice(i, 1);
        // kvm_spapr_tce_release_vfio_group(); the experimental mapping goes with the group.
        for (const t of vm.tceTables) t.groups.delete(f);
        for (let j = vm.eehMappings.length - 1; j >= 0; j--) {
          if (vm.eehMappings[j]?.group === f) vm.eehMappings.splice(j, 1);
        }
        return 0;
      }
      case BigInt(KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE): {
        const b = copyFromUser(mem, proc, addr, kvm_vfio_spapr_tce.size);
        if (!b) return -EFAULT;
        const p = kvm_vfio_spapr_tce.decode(b);
        if (!p.ok) return -EFAULT;
        const f = proc.file(p.value.groupfd);
        if (!f) return -EBADF;
        if (!vm.vfioGroups.includes(f)) return -ENOENT;
        // kvm_spapr_tce_attach_iommu_group()
        const tf = proc.file(p.value.tablefd);
        if (!tf) return -EBADF;
        const t = this.tceFiles.get(tf);
        if (!t || t.vm !== vm) return -EINVAL;
        t.table.groups.add(f);
        return 0;
      }
      case BigInt(KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING): {
        // EXPERIMENTAL, never merged upstream (src/uapi/experimental.ts): the
        // in-kernel EEH designs read this mapping; the upstream design ignores it.
        if (!this.opts.experimentalEehMapping) return -ENXIO;
        const b = copyFromUser(mem, proc, addr, kvm_vfio_eeh_mapping.size);
        if (!b) return -EFAULT;
        const p = kvm_vfio_eeh_mapping.decode(b);
        if (!p.ok) return -EFAULT;
        const m = p.value;
        if (m.flags !== 0) return -EINVAL;
        const f = proc.file(m.groupfd);
        if (!f) return -EBADF;
        if (!this.isGroup(f)) return -EINVAL;
        if (!vm.vfioGroups.includes(f)) return -ENOENT;
        const same = vm.eehMappings.findIndex(
          (x) => x.buid === m.buid && x.peConfigAddr === m.pe_config_addr,
        );
        if (same >= 0 && vm.eehMappings[same]?.group !== f) return -EEXIST;
        const mine = vm.eehMappings.findIndex((x) => x.group === f);
        const entry = { group: f, buid: toBuid(m.buid), peConfigAddr: m.pe_config_addr };
        if (mine >= 0) vm.eehMappings[mine] = entry;
        else vm.eehMappings.push(entry);
        return 0;
      }
      default:
        return -ENXIO;
    }
  }
}

function vfioAttrName(attr: bigint): string {
  switch (attr) {
    case BigInt(KVM_DEV_VFIO_GROUP_ADD):
      return 'GROUP_ADD';
    case BigInt(KVM_DEV_VFIO_GROUP_DEL):
      return 'GROUP_DEL';
    case BigInt(KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE):
      return 'GROUP_SET_SPAPR_TCE';
    case BigInt(KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING):
      return 'GROUP_SET_EEH_MAPPING(experimental)';
    case BigInt(KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID):
      return 'GROUP_GET_EEH_PE_ID(experimental)';
    default:
      return `attr-${attr}`;
  }
}
