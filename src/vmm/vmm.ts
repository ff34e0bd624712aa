/**
 * A QEMU-like sPAPR (pseries) machine: one host process that creates a KVM
 * VM with guest RAM and vCPUs, realizes virtual PHBs with passed-through
 * VFIO devices, hands the guest a device tree, and answers the hypercalls
 * KVM sends it - H_RTAS (the RTAS calls) and H_PUT_TCE (the guest's DMA
 * window). It reaches VFIO and KVM only through its own fds and the host's
 * syscall layer, with every ioctl argument encoded as bytes.
 *
 * Upstream: hw/ppc/spapr.c (machine, device tree), spapr_hcall.c (h_rtas),
 * spapr_rtas.c (spapr_rtas_call), spapr_pci.c / spapr_pci_vfio.c (PHBs, EEH),
 * spapr_iommu.c (H_PUT_TCE), hw/vfio/container.c, spapr.c, pci.c (VFIO),
 * accel/kvm/kvm-all.c + target/ppc/kvm.c (KVM set-up and exits).
 *
 * Usage (inside a simulated process owned by the VM's name):
 *
 *   const vmm = new Vmm(sim, { syscalls, memory, kvm }, { name: 'vm0', ramSize: 64 << 20,
 *     phbs: [{ iommuGroup: 1, devices: [{ host: '0000:01:00.0' }] }] });
 *   const r = yield* vmm.start();          // { ok: true } or { ok: false, step, rc }
 *   const guest = kvm.vmOf(vmm.proc, vmm.vmFd);   // the GuestPlatform of the guest kernel
 */

import { createEventfd } from '../host/eventfd.js';
import type { HostProcess, IoctlArg, Syscalls } from '../host/process.js';
import type { HostMemory } from '../hw/memory.js';
import { BOOT_FDT_GPA, encodeBootBlob } from '../kvm/boot.js';
import type { KvmRunPort } from '../kvm/kvm.js';
import { KVM_SET_USER_MEMORY_REGION, kvm_userspace_memory_region } from '../kvm/uapi_memory.js';
import type { VcpuRunHandler } from '../kvm/vm.js';
import type { Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import type { Ns } from '../sim/time.js';
import type { GuestDeviceTree, GuestPhbNode } from '../uapi/device_tree.js';
import { EBUSY, ENODEV, EPERM } from '../uapi/errno.js';
import { H_FUNCTION, H_PARAMETER, H_PUT_TCE, H_RTAS, H_SUCCESS } from '../uapi/hcall.js';
import { hpa as toHpa, liobn as toLiobn } from '../uapi/ids.js';
import {
  KVM_API_VERSION,
  KVM_CAP_PPC_RTAS,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_DEVICE,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_DEV_TYPE_VFIO,
  KVM_DEV_VFIO_GROUP,
  KVM_DEV_VFIO_GROUP_ADD,
  KVM_EXIT_PAPR_HCALL,
  KVM_GET_API_VERSION,
  KVM_PPC_RTAS_DEFINE_TOKEN,
  KVM_SET_DEVICE_ATTR,
  kvm_create_device,
  kvm_device_attr,
  kvm_rtas_token_args,
  kvm_run,
} from '../uapi/kvm.js';
import { RTAS_OUT_PARAM_ERROR, rtasCallByName } from '../uapi/rtas.js';
import {
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_EEH,
  VFIO_EEH_PE_ENABLE,
  VFIO_GET_API_VERSION,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_IOMMU_ENABLE,
  VFIO_PCI_BAR5_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
} from '../uapi/vfio.js';
import { type EehWiring, type EehWiringContext, QEMU_INTERCEPT } from './eeh_wiring.js';
import { VmmGuestMemory } from './guest_memory.js';
import { barFlagBits, PassthroughDevice, SpaprPhb } from './spapr_pci.js';
import {
  EEH_CONTAINER_NOT_OK,
  type RtasCall,
  registerPciRtas,
  type SpaprRtasMachine,
  SpaprRtasTable,
} from './spapr_rtas.js';
import { type EehErr, VfioUser } from './vfio_user.js';
import './trace_events.js';

/** A passed-through function of a virtual PHB (`-device vfio-pci,host=...`). */
export interface PassthroughDeviceConfig {
  /** Host device name as VFIO knows it, e.g. `0000:01:00.0`. */
  readonly host: string;
  /** Guest slot on the PHB's root bus (default: order of the host slots). */
  readonly slot?: number;
  /** Guest function (default: the host function number). */
  readonly fn?: number;
}

/** A virtual PHB (`-device spapr-pci-host-bridge,index=N`). */
export interface VirtualPhbConfig {
  /** PHB index (BUID = SPAPR_PCI_BASE_BUID + index); default: position. */
  readonly index?: number;
  /** IOMMU group whose functions are passed through (absent: a PHB without passthrough). */
  readonly iommuGroup?: number;
  readonly devices?: readonly PassthroughDeviceConfig[];
}

export interface VmmOptions {
  /** Name of the VMM process and of the VM (owner tag `vm0`, ...). */
  readonly name: string;
  /** Guest RAM in bytes (page multiple). */
  readonly ramSize: number;
  readonly vcpus?: number;
  readonly phbs?: readonly VirtualPhbConfig[];
  /** sPAPR IOMMU type: v2 when the host offers it (QEMU's choice), else v1. */
  readonly iommu?: 'auto' | 'v1' | 'v2';
  /**
   * Guest DMA: `h-put-tce` (default; QEMU): the guest maps pages with
   * H_PUT_TCE and the VMM mirrors each into VFIO MAP/UNMAP_DMA.
   * `premapped`: MODEL - additionally map all of guest RAM that fits the
   * window 1:1 (IOVA = GPA) at start, for guests that do not issue H_PUT_TCE.
   */
  readonly dma?: 'h-put-tce' | 'premapped';
  /** Which EEH design wires the guest to the host PE (default: QEMU intercept). */
  readonly wiring?: EehWiring;
  /** OPTION, not in released QEMU (2025 RFC): ibm,open-errinjct / errinjct / close-errinjct. Default off. */
  readonly rtasErrinjct?: boolean;
  /** OPTION, not QEMU: ibm,slot-error-detail returns a minimal log when the PE is not normal. Default off. */
  readonly slotErrorDetailLog?: boolean;
}

/** What the VMM uses of its host: the syscall layer, its own memory, and the KVM_RUN port. */
export interface VmmHost {
  readonly syscalls: Syscalls;
  /** Backing of the VMM's own anonymous memory (guest RAM it reads and writes directly). */
  readonly memory: HostMemory;
  readonly kvm: KvmRunPort;
}

export type VmmStartResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly step: string; readonly rc: number };

export interface VmmRtasTally {
  calls: number;
  ns: Ns;
  /** rets[0] values seen, by status. */
  readonly statuses: Record<string, number>;
}

/** Per-VM counters of the VMM's side. */
export class VmmStats {
  readonly rtas = new Map<string, VmmRtasTally>();
  readonly hcalls = new Map<number, number>();
  readonly eehOps = new Map<string, number>();
  tceMaps = 0;
  tceUnmaps = 0;
  /** H_PUT_TCE that could not be mirrored into VFIO (QEMU only logs these). */
  tceErrors = 0;
  /** KVM_RUN failed (the VM is stopped). */
  runError: { rc: number; reason: string } | undefined;
  /** vm_stop(): when (virtual time), the run state and the message that went with it. */
  stopped: { at: Ns; state: VmRunState; reason: string } | undefined;

  rtasTally(name: string): VmmRtasTally {
    let t = this.rtas.get(name);
    if (!t) {
      t = { calls: 0, ns: 0, statuses: {} };
      this.rtas.set(name, t);
    }
    return t;
  }
}

/** QEMU RunState values the model's vm_stop() uses (RUN_STATE_INTERNAL_ERROR). */
export type VmRunState = 'internal-error';

const EEH_OP_NAMES = [
  'DISABLE',
  'ENABLE',
  'UNFREEZE_IO',
  'UNFREEZE_DMA',
  'GET_STATE',
  'RESET_DEACTIVATE',
  'RESET_HOT',
  'RESET_FUNDAMENTAL',
  'CONFIGURE',
  'INJECT_ERR',
];

const TCE_PAGE = 4096;
const TCE_PCI_WRITE = 2;
const TCE_PERM = 3n;

class SetupError {
  constructor(
    readonly step: string,
    readonly rc: number,
  ) {}
}

export class Vmm implements SpaprRtasMachine {
  readonly proc: HostProcess;
  readonly stats = new VmmStats();
  readonly phbs: SpaprPhb[] = [];
  readonly rtasTable = new SpaprRtasTable();
  readonly options: { readonly rtasErrinjct: boolean; readonly slotErrorDetailLog: boolean };
  readonly wiring: EehWiring;
  errinjctToken: number | undefined;
  kvmFd = -1;
  vmFd = -1;
  readonly vcpuFds: number[] = [];
  kvmVfioFd: number | undefined;
  private readonly vfio: VfioUser;
  private memory: VmmGuestMemory | undefined;
  private heap: { base: number; next: number } | undefined;
  private nextSlot = 1;
  private deviceTreeValue: GuestDeviceTree | undefined;

  constructor(
    readonly sim: Sim,
    private readonly host: VmmHost,
    readonly opts: VmmOptions,
  ) {
    this.proc = host.syscalls.spawnProcess(opts.name);
    this.vfio = new VfioUser(host.syscalls, this.proc);
    this.wiring = opts.wiring ?? QEMU_INTERCEPT;
    this.options = {
      rtasErrinjct: opts.rtasErrinjct ?? false,
      slotErrorDetailLog: opts.slotErrorDetailLog ?? false,
    };
    registerPciRtas(this.rtasTable, (phb) => this.preReset(phb), this.options);
  }

  get vmName(): string {
    return this.opts.name;
  }

  /** Guest RAM as the VMM maps it (after start()). */
  get mem(): VmmGuestMemory {
    if (!this.memory) throw new Error(`${this.vmName}: VMM not started`);
    return this.memory;
  }

  /** The device tree handed to the guest (after start()). */
  get deviceTree(): GuestDeviceTree | undefined {
    return this.deviceTreeValue;
  }

  // ---- machine start ------------------------------------------------------------

  /** Creates the VM, realizes the PHBs, writes the device tree, resets the machine. */
  *start(): Task<VmmStartResult> {
    try {
      yield* this.initKvm();
      for (const [i, cfg] of (this.opts.phbs ?? []).entries()) {
        yield* this.realizePhb(cfg.index ?? i, cfg);
      }
      yield* this.bindKernelRtas();
      this.buildDeviceTree();
      yield* this.reset();
    } catch (e) {
      if (e instanceof SetupError) {
        this.sim.trace.emit('vmm.setup', { vm: this.vmName, step: e.step, rc: e.rc });
        return { ok: false, step: e.step, rc: e.rc };
      }
      throw e;
    }
    this.sim.trace.emit('vmm.setup', { vm: this.vmName, step: 'started', rc: 0 });
    return { ok: true };
  }

  private check(step: string, rc: number, ok: (rc: number) => boolean = (r) => r >= 0): number {
    if (!ok(rc)) throw new SetupError(step, rc);
    return rc;
  }

  private *ioctl(fd: number, request: number, arg: IoctlArg): Task<number> {
    return yield* this.host.syscalls.ioctl(this.proc, fd, request, arg);
  }

  /** A pointer into the VMM's own memory holding `bytes` (for pointers inside ioctl structs). */
  userPointer(bytes: Uint8Array): number {
    const sys = this.host.syscalls;
    if (bytes.length > TCE_PAGE) throw new RangeError('userPointer: more than a page');
    if (!this.heap) {
      const base = sys.mmapAnonymous(this.proc, TCE_PAGE);
      if (base < 0) throw new SetupError('mmap heap', base);
      this.heap = { base, next: 0 };
    }
    if (this.heap.next + bytes.length > TCE_PAGE) this.heap.next = 0;
    const at = this.heap.base + this.heap.next;
    this.heap.next += (bytes.length + 7) & ~7;
    this.host.memory.write(toHpa(at), bytes);
    return at;
  }

  /** kvm_init() + the machine's RAM and vCPUs (accel/kvm/kvm-all.c, target/ppc/kvm.c). */
  private *initKvm(): Task<void> {
    const sys = this.host.syscalls;
    this.kvmFd = this.check('open /dev/kvm', yield* sys.open(this.proc, '/dev/kvm'));
    this.check(
      'KVM_GET_API_VERSION',
      yield* this.ioctl(this.kvmFd, KVM_GET_API_VERSION, 0),
      (v) => v === KVM_API_VERSION,
    );
    this.vmFd = this.check('KVM_CREATE_VM', yield* this.ioctl(this.kvmFd, KVM_CREATE_VM, 0));
    // kvmppc_has_cap_rtas(): QEMU binds in-kernel RTAS only when offered.
    yield* this.ioctl(this.vmFd, KVM_CHECK_EXTENSION, KVM_CAP_PPC_RTAS);
    // Guest RAM: anonymous memory of this process, registered as slot 0 at GPA 0.
    const ram = sys.mmapAnonymous(this.proc, this.opts.ramSize);
    this.check('mmap guest RAM', ram);
    this.memory = new VmmGuestMemory(this.host.memory, ram, this.opts.ramSize);
    this.check(
      'KVM_SET_USER_MEMORY_REGION ram',
      yield* this.setMemoryRegion(0, 0, this.opts.ramSize, ram),
      (r) => r === 0,
    );
    for (let id = 0; id < (this.opts.vcpus ?? 1); id++) {
      const fd = this.check(
        `KVM_CREATE_VCPU ${id}`,
        yield* this.ioctl(this.vmFd, KVM_CREATE_VCPU, id),
      );
      this.vcpuFds.push(fd);
      this.check(
        `KVM_RUN loop ${id}`,
        this.host.kvm.attachRunLoop(this.proc, fd, this.runHandler()),
        (r) => r === 0,
      );
    }
  }

  private *setMemoryRegion(slot: number, gpa: number, size: number, uaddr: number): Task<number> {
    const buf = kvm_userspace_memory_region.encode({
      slot,
      flags: 0,
      guest_phys_addr: gpa,
      memory_size: size,
      userspace_addr: uaddr,
    });
    return yield* this.ioctl(this.vmFd, KVM_SET_USER_MEMORY_REGION, buf);
  }

  /** kvm_vfio_device_add_group(): creates the kvm-vfio device once, then GROUP_ADD. */
  private *kvmVfioAddGroup(groupFd: number): Task<void> {
    if (this.kvmVfioFd === undefined) {
      const cd = kvm_create_device.encode({ type: KVM_DEV_TYPE_VFIO });
      this.check(
        'KVM_CREATE_DEVICE vfio',
        yield* this.ioctl(this.vmFd, KVM_CREATE_DEVICE, cd),
        (r) => r === 0,
      );
      this.kvmVfioFd = kvm_create_device.get(cd, 0, 'fd') as number;
    }
    const fdBytes = new Uint8Array(4);
    new DataView(fdBytes.buffer).setInt32(0, groupFd, true);
    const attr = kvm_device_attr.encode({
      group: KVM_DEV_VFIO_GROUP,
      attr: KVM_DEV_VFIO_GROUP_ADD,
      addr: this.userPointer(fdBytes),
    });
    this.check(
      'KVM_DEV_VFIO_GROUP_ADD',
      yield* this.ioctl(this.kvmVfioFd, KVM_SET_DEVICE_ATTR, attr),
      (r) => r === 0,
    );
  }

  /** A virtual PHB with its VFIO container, group and devices (spapr_phb_realize + vfio_realize). */
  private *realizePhb(configured: number, cfg: VirtualPhbConfig): Task<void> {
    // The design may place the PHB and its functions itself (identity mapping).
    const placed = this.wiring.placePhb?.(
      configured,
      (cfg.devices ?? []).map((d) => d.host),
    );
    if (placed && 'error' in placed) {
      throw new SetupError(`phb ${configured}: ${placed.error}`, placed.rc);
    }
    const index = placed?.index ?? configured;
    if (this.phbs.some((p) => p.index === index))
      throw new SetupError(`phb ${index}: duplicate index`, -EBUSY);
    const phb = new SpaprPhb(index);
    this.phbs.push(phb);
    if (cfg.iommuGroup === undefined) return;
    const v = this.vfio;
    const step = (s: string) => `phb ${index}: ${s}`;
    // vfio_get_group() / vfio_connect_container() (hw/vfio/container.c)
    const groupFd = this.check(
      step(`open /dev/vfio/${cfg.iommuGroup}`),
      yield* v.open(`/dev/vfio/${cfg.iommuGroup}`),
    );
    phb.groupFd = groupFd;
    phb.iommuGroup = cfg.iommuGroup;
    const status = yield* v.groupStatus(groupFd);
    this.check(step('VFIO_GROUP_GET_STATUS'), status.rc, (r) => r === 0);
    if (!((status.value ?? 0) & VFIO_GROUP_FLAGS_VIABLE))
      throw new SetupError(step('group not viable'), -EPERM);
    const containerFd = this.check(step('open /dev/vfio/vfio'), yield* v.open('/dev/vfio/vfio'));
    phb.containerFd = containerFd;
    this.check(
      step('VFIO_GET_API_VERSION'),
      yield* v.ioctl(containerFd, VFIO_GET_API_VERSION, 0),
      (r) => r === VFIO_API_VERSION,
    );
    this.check(
      step('VFIO_GROUP_SET_CONTAINER'),
      yield* v.setContainer(groupFd, containerFd),
      (r) => r === 0,
    );
    phb.groupsInContainer = 1;
    // vfio_get_iommu_type(): v2 first, then v1 (or only the one asked for).
    const want = this.opts.iommu ?? 'auto';
    let type: number | undefined;
    for (const t of [VFIO_SPAPR_TCE_v2_IOMMU, VFIO_SPAPR_TCE_IOMMU]) {
      if (want === 'v1' && t === VFIO_SPAPR_TCE_v2_IOMMU) continue;
      if (want === 'v2' && t === VFIO_SPAPR_TCE_IOMMU) continue;
      if ((yield* v.ioctl(containerFd, VFIO_CHECK_EXTENSION, t)) === 1) {
        type = t;
        break;
      }
    }
    if (type === undefined) throw new SetupError(step('no sPAPR IOMMU'), -ENODEV);
    // vfio_init_container(): "v2 is not supported if the host doesn't
    // support DDW" - the sPAPR driver advertises both, so fall back to v1.
    let rc = yield* v.ioctl(containerFd, VFIO_SET_IOMMU, type);
    if (rc !== 0 && type === VFIO_SPAPR_TCE_v2_IOMMU && want === 'auto') {
      type = VFIO_SPAPR_TCE_IOMMU;
      rc = yield* v.ioctl(containerFd, VFIO_SET_IOMMU, type);
    }
    this.check(step('VFIO_SET_IOMMU'), rc, (r) => r === 0);
    const v2ok = type === VFIO_SPAPR_TCE_v2_IOMMU;
    const mem = this.mem;
    if (v2ok) {
      // vfio_prereg_listener: all of guest RAM is preregistered.
      this.check(
        step('VFIO_IOMMU_SPAPR_REGISTER_MEMORY'),
        yield* v.registerMemory(containerFd, mem.base, mem.size),
        (r) => r === 0,
      );
    } else {
      this.check(
        step('VFIO_IOMMU_ENABLE'),
        yield* v.ioctl(containerFd, VFIO_IOMMU_ENABLE, 0),
        (r) => r === 0,
      );
    }
    const info = yield* v.tceInfo(containerFd);
    this.check(step('VFIO_IOMMU_SPAPR_TCE_GET_INFO'), info.rc, (r) => r === 0);
    phb.window = {
      start: info.value?.dma32_window_start ?? 0,
      size: info.value?.dma32_window_size ?? 0,
    };
    if ((this.opts.dma ?? 'h-put-tce') === 'premapped') {
      // MODEL: guest RAM mapped 1:1 (IOVA = GPA) where it overlaps the window.
      const from = Math.max(phb.window.start, 0);
      const to = Math.min(phb.window.start + phb.window.size, mem.size);
      if (to > from) {
        const rc = yield* v.mapDma(containerFd, from, to - from, mem.base + from, false);
        this.check(step('VFIO_IOMMU_MAP_DMA (premapped)'), rc, (r) => r === 0);
        this.stats.tceMaps += (to - from) / TCE_PAGE;
      }
    }
    phb.eehExtension = (yield* v.ioctl(containerFd, VFIO_CHECK_EXTENSION, VFIO_EEH)) === 1;
    yield* this.kvmVfioAddGroup(groupFd);
    // The devices of the group (vfio_get_device, vfio_populate_device, BAR mmap + memory slots).
    // Guest placement: QEMU gives a device without addr= the first free
    // devfn from the root bus's devfn_min, PCI_DEVFN(0, 0) on a sPAPR PHB.
    // MODEL: functions of one host slot share a guest slot (multifunction),
    // slots in the order the host slots are listed.
    const hostSlots: string[] = [];
    for (const d of cfg.devices ?? []) {
      const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(d.host);
      const key = m ? `${m[2]}:${m[3]}` : d.host;
      if (!hostSlots.includes(key)) hostSlots.push(key);
      const slot = d.slot ?? hostSlots.indexOf(key);
      const fn = d.fn ?? (m ? Number(m[4]) : 0);
      const at = placed?.devices.find((x) => x.host === d.host);
      yield* this.realizeDevice(phb, d.host, at?.bus ?? 0, at?.devfn ?? (slot << 3) | fn, step);
    }
    const wiringPhb = {
      index,
      buid: phb.buid,
      containerFd,
      groupFd,
      peConfigAddr: phb.devices[0] ? this.peAddress(phb, phb.devices[0]) : 1,
      devices: phb.devices.map((x) => ({ host: x.host, fd: x.fd, configAddr: x.configAddr })),
    };
    if (this.wiring.phbRealized) {
      this.check(
        step(`${this.wiring.name} wiring`),
        yield* this.wiring.phbRealized(this.wiringContext(), wiringPhb),
        (r) => r === 0,
      );
    }
  }

  private *realizeDevice(
    phb: SpaprPhb,
    host: string,
    bus: number,
    devfn: number,
    step: (s: string) => string,
  ): Task<void> {
    const v = this.vfio;
    if (devfn > 0xff || phb.devices.some((d) => d.bus === bus && d.devfn === devfn)) {
      throw new SetupError(step(`${host}: devfn 0x${devfn.toString(16)} taken`), -EBUSY);
    }
    const fd = this.check(
      step(`${host}: VFIO_GROUP_GET_DEVICE_FD`),
      yield* v.getDeviceFd(phb.groupFd as number, host),
    );
    const info = yield* v.deviceInfo(fd);
    this.check(step(`${host}: VFIO_DEVICE_GET_INFO`), info.rc, (r) => r === 0);
    const di = info.value;
    if (
      !di ||
      !(di.flags & VFIO_DEVICE_FLAGS_PCI) ||
      di.num_regions < VFIO_PCI_CONFIG_REGION_INDEX + 1 ||
      di.num_irqs < VFIO_PCI_MSIX_IRQ_INDEX + 1
    ) {
      throw new SetupError(step(`${host}: not a vfio-pci device`), -ENODEV);
    }
    const cfg = yield* v.regionInfo(fd, VFIO_PCI_CONFIG_REGION_INDEX);
    this.check(step(`${host}: config region`), cfg.rc, (r) => r === 0);
    const dev = new PassthroughDevice(
      v,
      host,
      fd,
      bus,
      devfn,
      Number(cfg.value?.offset ?? 0n),
      Number(cfg.value?.size ?? 0n),
      (d, op, rc) => this.sim.trace.emit('vmm.msix', { vm: this.vmName, dev: d.host, op, rc }),
    );
    this.check(step(`${host}: read config`), yield* dev.probe(), (r) => r === 0);
    for (let i = 0; i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
      const r = yield* v.regionInfo(fd, i);
      this.check(step(`${host}: region ${i}`), r.rc, (x) => x === 0);
      const ri = r.value;
      if (!ri || ri.size === 0n) continue;
      const kind = barFlagBits(dev.rawBar(i));
      // MODEL: I/O BARs and BARs VFIO cannot mmap are not given to the guest
      // (QEMU would trap them and exit to userspace on every access).
      if (kind.io || !(ri.flags & VFIO_REGION_INFO_FLAG_MMAP)) continue;
      const size = Number(ri.size);
      const hpa = v.mmap(fd, Number(ri.offset), size);
      this.check(step(`${host}: mmap BAR ${i}`), hpa);
      const gpa = phb.allocMmio(size);
      const slot = this.nextSlot++;
      const mapped = Math.ceil(size / TCE_PAGE) * TCE_PAGE;
      this.check(
        step(`${host}: KVM memory slot BAR ${i}`),
        yield* this.setMemoryRegion(slot, gpa, mapped, hpa),
        (x) => x === 0,
      );
      dev.bars.push({
        index: i,
        size,
        flags: kind.flags,
        is64: kind.is64,
        gpa,
        hpa: toHpa(hpa),
        slot,
        addr: gpa,
      });
      if (kind.is64) i++; // the next region index is the upper half
    }
    phb.devices.push(dev);
  }

  private wiringContext(): EehWiringContext {
    return {
      vmName: this.vmName,
      proc: this.proc,
      vmFd: this.vmFd,
      kvmVfioFd: this.kvmVfioFd,
      ioctl: (fd, req, arg) => this.ioctl(fd, req, arg),
      readUser: (addr, len) => {
        const out = new Uint8Array(len);
        this.host.memory.read(toHpa(addr), out);
        return out;
      },
      userPointer: (b) => this.userPointer(b),
      eventfd: () => createEventfd(this.sim, this.proc),
      watch: (fd, name, onSignal) => this.watchEventfd(fd, name, onSignal),
      vmStop: (state, reason) => this.vmStop(state, reason),
    };
  }

  /**
   * vm_stop(state) (system/cpus.c do_vm_stop): error_report() the reason,
   * pause_all_vcpus(), run state `state`. The first stop wins.
   */
  vmStop(state: VmRunState, reason: string): void {
    if (this.stats.stopped) return;
    this.stats.stopped = { at: this.sim.now, state, reason };
    this.sim.trace.emit('vmm.vm_stop', { vm: this.vmName, state, reason });
    for (const fd of this.vcpuFds) this.host.kvm.pauseVcpu(this.proc, fd);
  }

  /**
   * The main loop's fd handler (qemu_set_fd_handler): a VMM thread blocks in
   * read() of eventfd `fd` and runs `onSignal` after each wake-up.
   */
  private watchEventfd(fd: number, name: string, onSignal: () => Task<void>): void {
    const sys = this.host.syscalls;
    const proc = this.proc;
    this.sim.spawn(
      `${this.vmName}:${name}`,
      (function* () {
        const buf = new Uint8Array(8);
        while ((yield* sys.pread(proc, fd, 0, buf)) === 8) yield* onSignal();
      })(),
      this.vmName,
    );
  }

  /** Binds the wiring's RTAS names to in-kernel KVM services (kvmppc_define_rtas_kernel_token). */
  private *bindKernelRtas(): Task<void> {
    for (const name of this.wiring.kernelRtasServices) {
      const token =
        rtasCallByName(name)?.token ??
        Object.entries(this.rtasTable.tokens()).find(([n]) => n === name)?.[1];
      if (token === undefined)
        throw new SetupError(`KVM_PPC_RTAS_DEFINE_TOKEN ${name}: no token`, -ENODEV);
      const rc = yield* this.ioctl(
        this.vmFd,
        KVM_PPC_RTAS_DEFINE_TOKEN,
        kvm_rtas_token_args.encode({ name, token }),
      );
      this.check(`KVM_PPC_RTAS_DEFINE_TOKEN ${name}`, rc, (r) => r === 0);
    }
  }

  /** spapr_dt_rtas_tokens() + the PCI nodes; written into guest RAM at BOOT_FDT_GPA. */
  private buildDeviceTree(): void {
    const rtasTokens = this.rtasTable.tokens();
    for (const name of this.wiring.kernelRtasServices) {
      const spec = rtasCallByName(name);
      if (spec && rtasTokens[name] === undefined) rtasTokens[name] = spec.token;
    }
    const phbs: GuestPhbNode[] = this.phbs.map((phb) => ({
      index: phb.index,
      buid: phb.buid,
      eehSupported: phb.eehAvailable && phb.eehExtension,
      dmaWindow: {
        liobn: toLiobn(phb.liobn),
        iovaBase: phb.window.start,
        size: phb.window.size,
      },
      devices: phb.devices.map((d) => ({
        bdf: d.bdf,
        configAddr: d.configAddr,
        vendor: d.vendor,
        device: d.device,
        bars: d.bars.map((b) => ({ index: b.index, gpa: b.gpa, size: b.size })),
      })),
    }));
    let tree: GuestDeviceTree = { rtasTokens, phbs };
    if (this.wiring.deviceTree) tree = this.wiring.deviceTree(tree);
    this.deviceTreeValue = tree;
    if (!this.mem.write(BOOT_FDT_GPA, encodeBootBlob(tree))) {
      throw new SetupError('device tree: RAM too small', -EPERM);
    }
  }

  /** spapr_phb_vfio_reset() at machine reset: EEH ENABLE thaws a PE left frozen. */
  private *reset(): Task<void> {
    for (const phb of this.phbs) if (phb.eehAvailable) yield* this.eehOp(phb, VFIO_EEH_PE_ENABLE);
  }

  // ---- SpaprRtasMachine ------------------------------------------------------------

  findPhb(buid: bigint): SpaprPhb | undefined {
    return this.phbs.find((p) => p.buid === buid);
  }

  findDevice(buid: bigint, configAddr: number): PassthroughDevice | undefined {
    return this.findPhb(buid)?.findDevice(configAddr);
  }

  /** ibm,get-config-addr-info2's PE address of `dev` (the wiring's, else QEMU's (bus << 16) + 1). */
  peAddress(phb: SpaprPhb, dev: PassthroughDevice): number {
    return this.wiring.peConfigAddr?.(phb, dev) ?? (dev.bus << 16) + 1;
  }

  /** vfio_eeh_as_op() -> vfio_eeh_container_op(). */
  *eehOp(phb: SpaprPhb, op: number, err?: EehErr): Task<number> {
    let rc: number;
    if (phb.containerFd === undefined) rc = -ENODEV;
    else if (phb.groupsInContainer !== 1) rc = EEH_CONTAINER_NOT_OK;
    else rc = yield* this.vfio.eehPeOp(phb.containerFd, op, err);
    const name = EEH_OP_NAMES[op] ?? `op${op}`;
    this.stats.eehOps.set(name, (this.stats.eehOps.get(name) ?? 0) + 1);
    this.sim.trace.emit('vmm.eeh_op', { vm: this.vmName, phb: phb.index, op: name, rc });
    return rc;
  }

  /** spapr_phb_vfio_eeh_pre_reset(): MSI-X off and cache cleared on every vfio-pci device of the PHB. */
  *preReset(phb: SpaprPhb): Task<void> {
    for (const d of phb.devices) yield* d.clearMsix();
  }

  // ---- KVM exits ----------------------------------------------------------------------

  private runHandler(): VcpuRunHandler {
    return {
      onExit: (run) => this.onExit(run),
      onError: (rc, reason) => {
        // QEMU: "kvm run failed", the VM is stopped (vm_stop(RUN_STATE_INTERNAL_ERROR)).
        this.stats.runError = { rc, reason };
        this.sim.trace.emit('vmm.setup', {
          vm: this.vmName,
          step: `KVM_RUN failed: ${reason}`,
          rc,
        });
      },
    };
  }

  /** kvm_arch_handle_exit(): KVM_EXIT_PAPR_HCALL -> spapr_hypercall(), result into papr_hcall.ret. */
  *onExit(run: ArrayBuffer): Task<void> {
    const r = kvm_run.decode(run);
    if (!r.ok || r.value.exit_reason !== KVM_EXIT_PAPR_HCALL) return;
    const { nr, args } = r.value.papr_hcall;
    const ret = yield* this.hypercall(Number(BigInt.asUintN(32, nr)), args);
    kvm_run.set(run, 0, 'papr_hcall.ret', BigInt.asUintN(64, BigInt(ret)));
  }

  /** spapr_hypercall(): H_RTAS, H_PUT_TCE; anything else H_FUNCTION. */
  *hypercall(nr: number, args: readonly bigint[]): Task<number> {
    this.stats.hcalls.set(nr, (this.stats.hcalls.get(nr) ?? 0) + 1);
    if (nr === H_RTAS) return yield* this.hRtas(args[0] ?? 0n);
    const ret = nr === H_PUT_TCE ? yield* this.hPutTce(args) : H_FUNCTION;
    this.sim.trace.emit('vmm.hcall', {
      vm: this.vmName,
      nr,
      name: nr === H_PUT_TCE ? 'H_PUT_TCE' : `hcall-0x${nr.toString(16)}`,
      ret,
    });
    return ret;
  }

  /** h_rtas() + spapr_rtas_call(). */
  private *hRtas(r3: bigint): Task<number> {
    const m = this.mem;
    const token = m.ldl(r3);
    const nargs = m.ldl(r3 + 4n);
    const nret = m.ldl(r3 + 8n);
    const call: RtasCall = {
      token,
      nargs,
      nret,
      args: r3 + 12n,
      rets: r3 + 12n + 4n * BigInt(nargs),
    };
    yield* this.sim.charge('qemu_rtas_dispatch');
    const entry = this.rtasTable.lookup(token);
    const name = entry?.name ?? `token-0x${token.toString(16)}`;
    const span = this.sim.trace.begin('vmm.rtas', { vm: this.vmName, token, name, nargs, nret });
    const t0 = this.sim.now;
    let r3out: number;
    if (entry) {
      yield* entry.fn(this, call);
      r3out = H_SUCCESS;
    } else {
      // "Unknown RTAS token"
      m.stl(call.rets, RTAS_OUT_PARAM_ERROR);
      r3out = H_PARAMETER;
    }
    const status = m.ldl(call.rets) | 0;
    const t = this.stats.rtasTally(name);
    t.calls++;
    t.ns += this.sim.now - t0;
    t.statuses[String(status)] = (t.statuses[String(status)] ?? 0) + 1;
    this.sim.trace.end(span, { status, r3: r3out });
    return r3out;
  }

  /**
   * h_put_tce() -> put_tce_emu() -> the IOMMU notifier of the PHB's VFIO
   * container (vfio_iommu_map_notify): VFIO_IOMMU_MAP_DMA of the 4 KiB page
   * at the TCE's guest address, or UNMAP_DMA when the TCE grants nothing.
   * MODEL: KVM's in-kernel H_PUT_TCE acceleration (KVM_CREATE_SPAPR_TCE_64 +
   * KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE) is not used: every H_PUT_TCE exits.
   */
  private *hPutTce(args: readonly bigint[]): Task<number> {
    const liobn = Number(BigInt.asUintN(32, args[0] ?? 0n));
    const phb = this.phbs.find((p) => p.liobn === liobn && p.window.size > 0);
    if (!phb) return H_PARAMETER;
    const ioba = Number(BigInt.asUintN(52, (args[1] ?? 0n) & ~BigInt(TCE_PAGE - 1)));
    const tce = BigInt.asUintN(64, args[2] ?? 0n);
    const index = (ioba - phb.window.start) / TCE_PAGE;
    if (index < 0 || index >= phb.window.size / TCE_PAGE) return H_PARAMETER;
    phb.tces.set(index, tce);
    if (phb.containerFd === undefined) return H_SUCCESS;
    const perm = Number(tce & TCE_PERM);
    if (perm) {
      const gpa = Number(BigInt.asUintN(52, tce & ~BigInt(TCE_PAGE - 1)));
      const vaddr = this.mem.vaddr(gpa, TCE_PAGE);
      if (vaddr === undefined) {
        this.stats.tceErrors++; // "iommu map to non memory area"
        return H_SUCCESS;
      }
      const readonly = (perm & TCE_PCI_WRITE) === 0;
      let rc = yield* this.vfio.mapDma(phb.containerFd, ioba, TCE_PAGE, vaddr, readonly);
      if (rc === -EBUSY) {
        yield* this.vfio.unmapDma(phb.containerFd, ioba, TCE_PAGE);
        rc = yield* this.vfio.mapDma(phb.containerFd, ioba, TCE_PAGE, vaddr, readonly);
      }
      if (rc) this.stats.tceErrors++;
      else this.stats.tceMaps++;
    } else {
      const rc = yield* this.vfio.unmapDma(phb.containerFd, ioba, TCE_PAGE);
      if (rc) this.stats.tceErrors++;
      else this.stats.tceUnmaps++;
    }
    // The notifier cannot fail the hypercall: errors are only logged.
    return H_SUCCESS;
  }
}
