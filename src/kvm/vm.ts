/**
 * One KVM virtual machine (struct kvm) on a book3s HV host: memory slots,
 * vCPUs, the in-kernel RTAS token table, the hypercall path and the exit to
 * the VMM. A Vm is also the GuestPlatform its guest kernel runs on.
 *
 * Upstream: virt/kvm/kvm_main.c (memory slots, vCPUs),
 * arch/powerpc/kvm/book3s_hv.c kvmppc_pseries_do_hcall() (which hcalls the
 * kernel answers and which go to userspace), arch/powerpc/kvm/book3s_rtas.c
 * (H_RTAS, token table), arch/powerpc/kvm/powerpc.c (KVM_EXIT_PAPR_HCALL
 * and the ret written back into r3 on the next KVM_RUN).
 */

import type { FileOps, HostProcess } from '../host/process.js';
import type { HostMemory } from '../hw/memory.js';
import { type Task, WaitQueue, waitOn } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import type { Ns } from '../sim/time.js';
import type { GuestDeviceTree } from '../uapi/device_tree.js';
import { EEXIST, EFAULT, EINVAL } from '../uapi/errno.js';
import { H_PUT_TCE, H_RTAS, H_SUCCESS } from '../uapi/hcall.js';
import { type Buid, type Gpa, hpa } from '../uapi/ids.js';
import { KVM_EXIT_PAPR_HCALL, kvm_run } from '../uapi/kvm.js';
import {
  RTAS_ARGS_KVM_SIZE,
  RTAS_ARGS_MAX,
  RTAS_IBM_READ_PCI_CONFIG,
  RTAS_IBM_WRITE_PCI_CONFIG,
  rtasCallByToken,
} from '../uapi/rtas.js';
import {
  BOOT_BLOB_HEADER,
  BOOT_FDT_GPA,
  bootBlobLength,
  decodeBootBlob,
  GUEST_ALLOC_BASE,
} from './boot.js';
import type { GuestEehEvent } from './eeh_event.js';
import type { GuestPlatform, GuestRam } from './guest_platform.js';
import { ALL_ONES, type HostMmio, type MmioSize } from './host_mmio.js';
import type { KvmRtasCall, KvmRtasService, KvmRtasServiceTable } from './rtas_services.js';
import { KVM_MEM_LOG_DIRTY_PAGES, KVM_PAM, KVM_USER_MEM_SLOTS } from './uapi_memory.js';
import './trace_events.js';

/** Host page size the model uses for memory slots. MODEL: 4 KiB (POWER hosts usually run 64 KiB pages). */
export const KVM_PAGE_SIZE = 4096;

/**
 * What the VMM's vCPU thread does when KVM_RUN returns. MODEL: instead of a
 * VMM thread looping on ioctl(KVM_RUN), the VMM registers this handler per
 * vCPU (Kvm.attachRunLoop); KVM calls it where KVM_RUN would return to
 * userspace, in the vCPU's own process, and returning from it is the
 * thread's next KVM_RUN.
 */
export interface VcpuRunHandler {
  /** KVM_RUN returned 0: `run` is the vCPU's mmap()ed struct kvm_run; write the result into it. */
  onExit(run: ArrayBuffer): Task<void>;
  /** KVM_RUN returned -errno: the VM cannot continue (QEMU: "kvm run failed", vm_stop). */
  onError?(rc: number, reason: string): void;
}

/** A vCPU: its run area, the VMM handler attached to it, and "is it in the guest". */
export class Vcpu {
  readonly run = new ArrayBuffer(kvm_run.size);
  handler: VcpuRunHandler | undefined;
  /** The VMM paused its thread (Kvm.pauseVcpu): it does not enter KVM_RUN again. */
  paused = false;
  private busy = false;
  private readonly waiters = new WaitQueue();

  constructor(readonly id: number) {}

  /**
   * MODEL: the guest's threads all run on this vCPU; a hypercall from one
   * thread waits while another thread's hypercall is in flight (a vCPU
   * executes one instruction stream, and its kvm_run area holds one exit).
   */
  *enter(): Task<void> {
    while (this.busy) yield* waitOn(this.waiters);
    this.busy = true;
  }

  leave(sim: Sim): void {
    this.busy = false;
    this.waiters.wakeOne(sim.sched);
  }
}

export type MemSlotKind = 'ram' | 'mmio';

/** struct kvm_memory_slot, as far as the model needs it. */
export interface MemSlot {
  readonly slot: number;
  readonly flags: number;
  readonly gpa: number;
  readonly size: number;
  /** userspace_addr: for RAM the HPA of the VMM's memory, for MMIO the HPA its mmap() of a BAR returned. */
  readonly uaddr: number;
  /**
   * MODEL: KVM decides RAM vs device memory from what backs userspace_addr
   * (real KVM: a normal page vs a VM_PFNMAP/VM_IO vma of a VFIO BAR mmap).
   * Here: anonymous memory of the calling process = RAM, an address outside
   * host RAM = MMIO.
   */
  readonly kind: MemSlotKind;
}

/** Why KVM_RUN failed for this VM (the VMM then stops it). */
export interface VmFatal {
  readonly rc: number;
  readonly reason: string;
  readonly vcpu: number;
  readonly at: Ns;
}

export interface RtasTokenBinding {
  /** struct kvm_rtas_token_args.token (u64; compared with the guest's u32 token). */
  readonly token: bigint;
  readonly service: KvmRtasService;
}

export interface HcallTally {
  calls: number;
  exits: number;
  ns: Ns;
}
export interface RtasTally {
  inKernel: number;
  exits: number;
  /** Virtual time of these H_RTAS hypercalls, entry to return. */
  ns: Ns;
}

/** The tally of `key` in `map`, created zeroed (`zero()`) on first use. */
function tallyOf<K, T>(map: Map<K, T>, key: K, zero: () => T): T {
  let t = map.get(key);
  if (t === undefined) {
    t = zero();
    map.set(key, t);
  }
  return t;
}

/** Exit accounting of one VM (charged costs per layer are in sim.accounting under the VM's owner). */
export class VmStats {
  hcalls = 0;
  /** Virtual time inside hypercalls (from entry on the vCPU to the return into the guest). */
  hcallNs: Ns = 0;
  /** KVM_RUN returns to the VMM. */
  exits = 0;
  /** Virtual time from the exit to userspace to the guest's resumption (exit cost + VMM work). */
  exitNs: Ns = 0;
  inKernelRtas = 0;
  /** Guest MMIO to guest-physical addresses no slot maps (all 1s / dropped). */
  unmappedMmio = 0;
  readonly byHcall = new Map<number, HcallTally>();
  /** Per RTAS token (read from the guest's buffer for accounting, even on exits). */
  readonly byRtasToken = new Map<number, RtasTally>();

  hcall(nr: number): HcallTally {
    return tallyOf(this.byHcall, nr, () => ({ calls: 0, exits: 0, ns: 0 }));
  }

  rtas(token: number): RtasTally {
    return tallyOf(this.byRtasToken, token, () => ({ inKernel: 0, exits: 0, ns: 0 }));
  }

  /** A plain object for reports (`rtas` keyed by service name where known). */
  summary(): {
    hcalls: number;
    hcallNs: Ns;
    exits: number;
    exitNs: Ns;
    inKernelRtas: number;
    unmappedMmio: number;
    byHcall: Record<string, HcallTally>;
    byRtas: Record<string, RtasTally>;
  } {
    const byHcall: Record<string, HcallTally> = {};
    for (const [nr, t] of [...this.byHcall].sort((a, b) => a[0] - b[0])) {
      byHcall[hcallName(nr)] = { ...t };
    }
    const byRtas: Record<string, RtasTally> = {};
    for (const [tok, t] of [...this.byRtasToken].sort((a, b) => a[0] - b[0])) {
      const name =
        rtasCallByToken(tok)?.name ?? EXTRA_RTAS_NAMES[tok] ?? `token-0x${tok.toString(16)}`;
      byRtas[name] = { ...t };
    }
    return {
      hcalls: this.hcalls,
      hcallNs: this.hcallNs,
      exits: this.exits,
      exitNs: this.exitNs,
      inKernelRtas: this.inKernelRtas,
      unmappedMmio: this.unmappedMmio,
      byHcall,
      byRtas,
    };
  }
}

const HCALL_NAMES: Readonly<Record<number, string>> = {
  [H_RTAS]: 'H_RTAS',
  [H_PUT_TCE]: 'H_PUT_TCE',
};
export const hcallName = (nr: number): string => HCALL_NAMES[nr] ?? `hcall-0x${nr.toString(16)}`;
/** Names of QEMU tokens rtasCallByToken() does not list (accounting labels only). */
const EXTRA_RTAS_NAMES: Readonly<Record<number, string>> = {
  [RTAS_IBM_READ_PCI_CONFIG]: 'ibm,read-pci-config',
  [RTAS_IBM_WRITE_PCI_CONFIG]: 'ibm,write-pci-config',
};

/** A VFIO TCE table created with KVM_CREATE_SPAPR_TCE_64 (MODEL: no H_PUT_TCE, only the object). */
export interface SpaprTceTable {
  readonly liobn: bigint;
  readonly pageShift: number;
  readonly offset: bigint;
  readonly size: bigint;
  /** VFIO group files attached through KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE. */
  readonly groups: Set<FileOps>;
}

/**
 * EXPERIMENTAL, never merged: a (BUID, PE config address) -> VFIO group link
 * registered with KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING, kept for the in-kernel
 * EEH designs (seed option a). Nothing reads it in the upstream design.
 */
export interface KvmEehMapping {
  readonly group: FileOps;
  readonly buid: Buid;
  readonly peConfigAddr: number;
}

/** What a Vm needs from its host kernel. */
export interface VmHost {
  readonly sim: Sim;
  readonly memory: HostMemory;
  readonly mmio: HostMmio;
  readonly services: KvmRtasServiceTable;
}

type HcallOutcome =
  | {
      readonly kind: 'ret';
      readonly r3: bigint;
      readonly path: 'kernel' | 'exit';
      /** The RTAS token of an H_RTAS call, when known (for accounting). */
      readonly token?: number | undefined;
    }
  | { readonly kind: 'fatal' };

export class Vm implements GuestPlatform {
  readonly vcpus = new Map<number, Vcpu>();
  readonly slots = new Map<number, MemSlot>();
  /** kvm->arch.rtas_tokens, in definition order (list_add_tail). */
  readonly rtasTokens: RtasTokenBinding[] = [];
  /** kvm-vfio device: linked VFIO group files (kv->file_list), in add order. */
  readonly vfioGroups: FileOps[] = [];
  hasVfioDevice = false;
  readonly tceTables: SpaprTceTable[] = [];
  /** EXPERIMENTAL (never merged): see KvmEehMapping. */
  readonly eehMappings: KvmEehMapping[] = [];
  readonly stats = new VmStats();
  fatal: VmFatal | undefined;
  /**
   * When the VMM paused the vCPU the guest runs on (QEMU vm_stop ->
   * pause_all_vcpus; Kvm.pauseVcpu). MODEL: the guest's threads run from
   * KVM's side here, so a paused VM is one whose threads stop at their
   * next entry to the platform: a hypercall never returns (as under
   * `fatal`) and, since an MMIO access cannot block in the model, MMIO
   * reads all 1s and stores are dropped (counted as unmappedMmio). A
   * hypercall already inside the VMM completes.
   */
  pausedAt: Ns | undefined;
  /** Open files referring to this VM (VM fd, vCPU fds, device fds). */
  refs = 0;
  readonly ram: GuestRam;
  private mmioSlots: MemSlot[] = [];
  private ramSlots: MemSlot[] = [];
  private lastMmio: MemSlot | undefined;
  private readonly halted = new WaitQueue();
  private allocNext: number = GUEST_ALLOC_BASE;
  /** PROPOSAL (+notify): the guest's EEH event handler (GuestPlatform.onEehEvent). */
  private eehEventHandler: ((ev: GuestEehEvent) => Task<void>) | undefined;
  /** PROPOSAL (+notify): EEH events injected / run by a guest handler. */
  readonly eehEvents = { injected: 0, delivered: 0 };

  constructor(
    private readonly host: VmHost,
    /** Owner tag of the guest (the creating process's name, e.g. `vm0`). */
    readonly vmName: string,
    /** kvm->mm: the creating process's address space; ioctls from another mm get -EIO. */
    readonly mm: object,
  ) {
    this.ram = new VmRam(this);
  }

  get sim(): Sim {
    return this.host.sim;
  }

  // ---- vCPUs ---------------------------------------------------------------

  /** The vCPU the guest's hypercalls run on. MODEL: all guest threads run on the lowest-numbered vCPU. */
  bootVcpu(): Vcpu | undefined {
    let best: Vcpu | undefined;
    for (const v of this.vcpus.values()) if (!best || v.id < best.id) best = v;
    return best;
  }

  // ---- memory slots (virt/kvm/kvm_main.c __kvm_set_memory_region) -------------

  /** KVM_SET_USER_MEMORY_REGION after decoding: 0 or -errno; state unchanged on error. */
  setUserMemoryRegion(
    proc: HostProcess,
    slot: number,
    flags: number,
    gpa: bigint,
    size: bigint,
    uaddr: bigint,
  ): number {
    // check_memory_region_flags(): powerpc has no KVM_MEM_READONLY.
    if ((flags & ~KVM_MEM_LOG_DIRTY_PAGES) !== 0) return -EINVAL;
    const page = BigInt(KVM_PAGE_SIZE);
    if (size % page !== 0n || gpa % page !== 0n || uaddr % page !== 0n) return -EINVAL;
    if (slot >= KVM_USER_MEM_SLOTS) return -EINVAL;
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    // MODEL: addresses beyond 2^53 are refused (-EINVAL) instead of handled.
    if (gpa + size > max || uaddr + size > max) return -EINVAL;
    const old = this.slots.get(slot);
    if (size === 0n) {
      if (!old) return -EINVAL;
      this.slots.delete(slot);
      this.reindex();
      this.emitSlot(old, 'delete');
      return 0;
    }
    const g = Number(gpa);
    const n = Number(size);
    const u = Number(uaddr);
    if (old) {
      // Changing the size or the backing of an existing slot is refused.
      if (old.size !== n || old.uaddr !== u) return -EINVAL;
      if (old.gpa === g) {
        this.slots.set(slot, { ...old, flags });
        this.reindex();
        return 0;
      }
    }
    for (const s of this.slots.values()) {
      if (s.slot !== slot && g < s.gpa + s.size && s.gpa < g + n) return -EEXIST;
    }
    const kind = this.backing(proc, u, n);
    if (kind === undefined) return -EFAULT;
    const s: MemSlot = { slot, flags, gpa: g, size: n, uaddr: u, kind };
    this.slots.set(slot, s);
    this.reindex();
    this.emitSlot(s, old ? 'move' : 'create');
    return 0;
  }

  private backing(proc: HostProcess, uaddr: number, size: number): MemSlotKind | undefined {
    if (proc.ownsRange(uaddr, size)) return 'ram';
    // MODEL: host RAM the caller did not map is refused at registration (real
    // KVM would fault on first use); anything outside host RAM is taken as
    // the caller's mmap() of a device region (not checked further).
    const mem = this.host.memory;
    if (uaddr < mem.base + mem.size && uaddr + size > mem.base) return undefined;
    return 'mmio';
  }

  private reindex(): void {
    const all = [...this.slots.values()].sort((a, b) => a.gpa - b.gpa);
    this.mmioSlots = all.filter((s) => s.kind === 'mmio');
    this.ramSlots = all.filter((s) => s.kind === 'ram');
    this.lastMmio = undefined;
  }

  private emitSlot(s: MemSlot, op: string): void {
    this.sim.trace.emit('kvm.memslot', {
      vm: this.vmName,
      slot: s.slot,
      kind: op === 'delete' ? 'delete' : `${op}-${s.kind}`,
      gpa: s.gpa,
      size: s.size,
    });
  }

  /** Host physical address of [gpa, gpa+len) when it lies in one RAM slot. */
  ramHpa(gpa: number, len: number): number | undefined {
    for (const s of this.ramSlots) {
      if (gpa >= s.gpa && gpa + len <= s.gpa + s.size) return s.uaddr + (gpa - s.gpa);
    }
    return undefined;
  }

  /** kvm_read_guest(): the bytes, or undefined (-EFAULT) when not all in one RAM slot. */
  readGuest(gpa: bigint, len: number): Uint8Array | undefined {
    if (gpa < 0n || gpa + BigInt(len) > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    const h = this.ramHpa(Number(gpa), len);
    if (h === undefined) return undefined;
    const out = new Uint8Array(len);
    this.host.memory.read(hpa(h), out);
    return out;
  }

  /** kvm_write_guest(): false (-EFAULT) when not all in one RAM slot. */
  writeGuest(gpa: bigint, src: Uint8Array): boolean {
    if (gpa < 0n || gpa + BigInt(src.length) > BigInt(Number.MAX_SAFE_INTEGER)) return false;
    const h = this.ramHpa(Number(gpa), src.length);
    if (h === undefined) return false;
    this.host.memory.write(hpa(h), src);
    return true;
  }

  /** @internal the guest's page allocator (GuestRam.alloc). */
  allocGuest(size: number, align: number): Gpa {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`alloc: bad size ${size}`);
    if (!Number.isSafeInteger(align) || align <= 0 || (align & (align - 1)) !== 0) {
      throw new RangeError(`alloc: bad alignment ${align}`);
    }
    const start = Math.ceil(this.allocNext / align) * align;
    if (this.ramHpa(start, size) === undefined) {
      throw new RangeError(
        `${this.vmName}: guest RAM exhausted (${size} bytes at 0x${start.toString(16)})`,
      );
    }
    this.allocNext = start + size;
    return start as Gpa;
  }

  /** @internal total RAM bytes. */
  ramSize(): number {
    return this.ramSlots.reduce((n, s) => n + s.size, 0);
  }

  // ---- GuestPlatform: MMIO (no exit) -----------------------------------------

  private mmioSlotFor(gpa: number, size: number): MemSlot | undefined {
    const last = this.lastMmio;
    if (last && gpa >= last.gpa && gpa + size <= last.gpa + last.size) return last;
    const s = this.mmioSlotAt(gpa);
    if (s && gpa + size <= s.gpa + s.size) {
      this.lastMmio = s;
      return s;
    }
    return undefined;
  }

  /**
   * The MMIO slot holding guest-physical `gpa`, by binary search: slots never
   * overlap (set_memory_region refuses -EEXIST) and `mmioSlots` is sorted by
   * gpa, so only the last slot starting at or below `gpa` can hold it
   * (search_memslots() does the same over KVM's sorted array).
   */
  mmioSlotAt(gpa: number): MemSlot | undefined {
    const all = this.mmioSlots;
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((all[mid] as MemSlot).gpa <= gpa) lo = mid + 1;
      else hi = mid;
    }
    const s = all[lo - 1];
    return s && gpa < s.gpa + s.size ? s : undefined;
  }

  /**
   * A guest load from a passthrough BAR goes straight to the device.
   * MODEL: where no MMIO slot maps the address, real KVM would exit to the
   * VMM (KVM_EXIT_MMIO) for an emulated device; the model has none and
   * returns all 1s (counted). A VM stopped by a fatal error reads all 1s too.
   */
  mmioRead(gpa: Gpa, size: MmioSize): number {
    const s = this.fatal || this.pausedAt !== undefined ? undefined : this.mmioSlotFor(gpa, size);
    if (!s) {
      this.stats.unmappedMmio++;
      return ALL_ONES[size];
    }
    return this.host.mmio.mmioRead(hpa(s.uaddr + (gpa - s.gpa)), size);
  }

  mmioWrite(gpa: Gpa, size: MmioSize, value: number): void {
    const s = this.fatal || this.pausedAt !== undefined ? undefined : this.mmioSlotFor(gpa, size);
    if (!s) {
      this.stats.unmappedMmio++;
      return;
    }
    this.host.mmio.mmioWrite(hpa(s.uaddr + (gpa - s.gpa)), size, value);
  }

  // ---- GuestPlatform: EEH events (PROPOSAL, see eeh_event.ts) ------------------

  onEehEvent(handler: (ev: GuestEehEvent) => Task<void>): void {
    this.eehEventHandler = handler;
  }

  /**
   * KVM_PPC_EEH_EVENT (EXPERIMENTAL): the event reaches the guest
   * `msi_delivery` later (interrupt latency, charged to no process) and its
   * handler runs as a guest process. Lost when the guest registered no
   * handler or the VM stopped.
   */
  injectEehEvent(ev: GuestEehEvent): void {
    this.eehEvents.injected++;
    const sim = this.sim;
    sim.sched.after(sim.costs.ns('msi_delivery'), () => {
      const h = this.fatal ? undefined : this.eehEventHandler;
      sim.trace.emit('kvm.eeh_event', {
        vm: this.vmName,
        buid: `0x${ev.buid.toString(16)}`,
        configAddr: ev.configAddr,
        delivered: h !== undefined,
      });
      if (!h) return;
      this.eehEvents.delivered++;
      sim.spawn(`${this.vmName}:eeh-event`, h(ev), this.vmName);
    });
  }

  // ---- GuestPlatform: device tree ---------------------------------------------

  /** The device tree the VMM placed at BOOT_FDT_GPA (see boot.ts). Throws if there is none. */
  deviceTree(): GuestDeviceTree {
    const head = this.readGuest(BigInt(BOOT_FDT_GPA), BOOT_BLOB_HEADER);
    const len = head ? bootBlobLength(head) : undefined;
    const blob = len === undefined ? undefined : this.readGuest(BigInt(BOOT_FDT_GPA), len);
    const r = blob ? decodeBootBlob(blob) : { ok: false as const, error: 'no device tree blob' };
    if (!r.ok) throw new Error(`${this.vmName}: ${r.error} at 0x${BOOT_FDT_GPA.toString(16)}`);
    return r.value as GuestDeviceTree;
  }

  // ---- GuestPlatform: hypercalls ------------------------------------------------

  /**
   * `sc 1`: r3 = nr, r4.. = args; returns r3 as a signed 64-bit value.
   * Throws (a bug in the machine set-up, not a modelled condition) when the
   * VM has no vCPU or an exit is needed and no VMM run loop is attached.
   */
  *hcall(nr: number, args: readonly bigint[]): Task<bigint> {
    const vcpu = this.bootVcpu();
    if (!vcpu) throw new Error(`${this.vmName}: hypercall with no vCPU created`);
    if (this.fatal || vcpu.paused) return yield* this.stopForever();
    yield* vcpu.enter();
    if (this.fatal || vcpu.paused) {
      vcpu.leave(this.sim);
      return yield* this.stopForever();
    }
    const t0 = this.sim.now;
    const span = this.sim.trace.begin('kvm.hcall', {
      vm: this.vmName,
      vcpu: vcpu.id,
      nr,
      name: hcallName(nr),
    });
    let out: HcallOutcome;
    try {
      out = nr === H_RTAS ? yield* this.hRtas(vcpu, args) : yield* this.userHcall(vcpu, nr, args);
    } finally {
      vcpu.leave(this.sim);
    }
    const dt = this.sim.now - t0;
    this.stats.hcalls++;
    this.stats.hcallNs += dt;
    const tally = this.stats.hcall(nr);
    tally.calls++;
    tally.ns += dt;
    if (out.kind === 'ret' && out.token !== undefined) this.stats.rtas(out.token).ns += dt;
    if (out.kind === 'fatal') {
      this.sim.trace.end(span, { path: 'fatal' });
      return yield* this.stopForever();
    }
    this.sim.trace.end(span, { r3: Number(out.r3), path: out.path });
    return out.r3;
  }

  /**
   * Hypercalls the kernel does not answer: kvmppc_pseries_do_hcall() returns
   * RESUME_HOST for them and the VMM answers (QEMU: H_FUNCTION for anything
   * it does not implement). MODEL: the in-kernel hcalls (H_PUT_TCE & co.)
   * are not modelled, so every hcall other than H_RTAS goes to the VMM.
   */
  private *userHcall(vcpu: Vcpu, nr: number, args: readonly bigint[]): Task<HcallOutcome> {
    yield* this.sim.charge('hcall_kernel');
    return yield* this.exitToUser(vcpu, nr, args, undefined);
  }

  /** H_RTAS: book3s_hv.c (list_empty -> RESUME_HOST) + book3s_rtas.c kvmppc_rtas_hcall(). */
  private *hRtas(vcpu: Vcpu, args: readonly bigint[]): Task<HcallOutcome> {
    const r4 = BigInt.asUintN(64, args[0] ?? 0n);
    const addr = r4 & KVM_PAM;
    if (this.rtasTokens.length === 0) {
      // No token bound: straight to userspace, the buffer is not even read.
      yield* this.sim.charge('hcall_kernel');
      return yield* this.exitToUser(vcpu, H_RTAS, args, this.peekToken(addr));
    }
    const bytes = this.readGuest(addr, RTAS_ARGS_KVM_SIZE);
    if (!bytes) {
      yield* this.sim.charge('hcall_kernel');
      return this.fail(vcpu, -EFAULT, 'H_RTAS: rtas_args not in guest memory');
    }
    const view = new DataView(bytes.buffer);
    const token = view.getUint32(0);
    const nargs = view.getUint32(4);
    const nret = view.getUint32(8);
    if (nargs >= RTAS_ARGS_MAX) {
      yield* this.sim.charge('hcall_kernel');
      return this.fail(vcpu, -EINVAL, `H_RTAS: nargs ${nargs} >= ${RTAS_ARGS_MAX}`);
    }
    const bound = this.rtasTokens.find((d) => d.token === BigInt(token));
    if (!bound) {
      yield* this.sim.charge('hcall_kernel');
      yield* this.sim.charge('kvm_rtas_lookup');
      return yield* this.exitToUser(vcpu, H_RTAS, args, token);
    }
    const svc = bound.service;
    yield* this.sim.charge(svc.path === 'realmode' ? 'hcall_realmode' : 'hcall_kernel');
    yield* this.sim.charge('kvm_rtas_lookup');
    const span = this.sim.trace.begin('kvm.rtas', {
      vm: this.vmName,
      token,
      name: svc.name,
      path: svc.path,
    });
    // args.rets = &args.args[nargs] in the kernel's copy; the guest's own
    // `rets` pointer (bytes 80..87) is put back before the copy-out.
    const origRets = bytes.slice(80, 88);
    const retsAt = 12 + 4 * nargs;
    const call: KvmRtasCall = {
      vmName: this.vmName,
      vm: this,
      vcpuId: vcpu.id,
      token,
      nargs,
      nret,
      arg: (i) =>
        Number.isInteger(i) && i >= 0 && i < RTAS_ARGS_MAX ? view.getUint32(12 + 4 * i) : 0,
      ret: (i, value) => {
        const at = retsAt + 4 * i;
        if (Number.isInteger(i) && i >= 0 && at + 4 <= RTAS_ARGS_KVM_SIZE)
          view.setUint32(at, value >>> 0);
      },
    };
    yield* svc.handle(call);
    bytes.set(origRets, 80);
    if (!this.writeGuest(addr, bytes)) {
      this.sim.trace.end(span, { status: null });
      return this.fail(vcpu, -EFAULT, 'H_RTAS: cannot write rtas_args back');
    }
    this.stats.inKernelRtas++;
    this.stats.rtas(token).inKernel++;
    this.sim.trace.end(span, { status: view.getInt32(retsAt) });
    return { kind: 'ret', r3: BigInt(H_SUCCESS), path: 'kernel', token };
  }

  /** The token of an RTAS buffer, for accounting only (KVM itself does not read it on this path). */
  private peekToken(addr: bigint): number | undefined {
    const b = this.readGuest(addr, 4);
    return b ? new DataView(b.buffer).getUint32(0) : undefined;
  }

  /** KVM_RUN returns to the VMM with KVM_EXIT_PAPR_HCALL; its answer comes back in papr_hcall.ret. */
  private *exitToUser(
    vcpu: Vcpu,
    nr: number,
    args: readonly bigint[],
    token: number | undefined,
  ): Task<HcallOutcome> {
    const handler = vcpu.handler;
    if (!handler) {
      throw new Error(`${this.vmName}: exit to userspace on vcpu ${vcpu.id} with no VMM run loop`);
    }
    const t0 = this.sim.now;
    yield* this.sim.charge('exit_to_userspace');
    this.stats.exits++;
    this.stats.hcall(nr).exits++;
    if (token !== undefined) this.stats.rtas(token).exits++;
    this.sim.trace.emit('kvm.exit', {
      vm: this.vmName,
      vcpu: vcpu.id,
      reason: 'papr_hcall',
      nr,
      token: token ?? -1,
    });
    const regs: bigint[] = [];
    for (let i = 0; i < 9; i++) regs.push(BigInt.asUintN(64, args[i] ?? 0n));
    kvm_run.encodeInto(vcpu.run, 0, {
      exit_reason: KVM_EXIT_PAPR_HCALL,
      papr_hcall: { nr: BigInt.asUintN(64, BigInt(nr)), ret: 0n, args: regs },
    });
    yield* handler.onExit(vcpu.run);
    this.stats.exitNs += this.sim.now - t0;
    const ret = kvm_run.get(vcpu.run, 0, 'papr_hcall.ret') as bigint;
    return { kind: 'ret', r3: BigInt.asIntN(64, ret), path: 'exit', token };
  }

  /**
   * KVM_RUN fails with `rc`: recorded on the VM, reported to the VMM's run
   * loop; the vCPU never re-enters the guest.
   */
  private fail(vcpu: Vcpu, rc: number, reason: string): HcallOutcome {
    if (!this.fatal) {
      this.fatal = { rc, reason, vcpu: vcpu.id, at: this.sim.now };
      this.sim.trace.emit('kvm.vm_fatal', { vm: this.vmName, vcpu: vcpu.id, rc, reason });
      vcpu.handler?.onError?.(rc, reason);
    }
    return { kind: 'fatal' };
  }

  /** The VMM paused `vcpu` (see `pausedAt`). */
  pauseVcpu(vcpu: Vcpu): void {
    vcpu.paused = true;
    if (vcpu === this.bootVcpu()) this.pausedAt ??= this.sim.now;
  }

  /** A stopped VM: the calling guest thread never runs again. */
  private *stopForever(): Task<bigint> {
    for (;;) yield* waitOn(this.halted);
  }
}

class VmRam implements GuestRam {
  constructor(private readonly vm: Vm) {}

  get size(): number {
    return this.vm.ramSize();
  }

  read(gpa: Gpa, dst: Uint8Array): void {
    const b = this.vm.readGuest(BigInt(gpa), dst.length);
    if (!b)
      throw new RangeError(`${this.vm.vmName}: guest read outside RAM at 0x${gpa.toString(16)}`);
    dst.set(b);
  }

  write(gpa: Gpa, src: Uint8Array): void {
    if (!this.vm.writeGuest(BigInt(gpa), src)) {
      throw new RangeError(`${this.vm.vmName}: guest write outside RAM at 0x${gpa.toString(16)}`);
    }
  }

  /** MODEL: a bump allocator from GUEST_ALLOC_BASE (no free). */
  alloc(size: number, align = 8): Gpa {
    return this.vm.allocGuest(size, align);
  }
}
