/**
 * The in-kernel RTAS services of KVM: handlers a VMM can bind a token to
 * with KVM_PPC_RTAS_DEFINE_TOKEN (cf. arch/powerpc/kvm/book3s_rtas.c,
 * `rtas_handlers[]`). Upstream has exactly four, the XICS interrupt calls;
 * no EEH call is handled in the kernel, so every guest EEH call exits to the
 * VMM (seed option d).
 *
 * The table is a registry of named services so that later designs (seed
 * option a: in-kernel EEH services) add entries here, next to the XICS ones,
 * without touching the hypercall path. Which services exist is a property of
 * the host kernel (the Kvm module); which tokens are bound is per VM.
 */
import type { FileOps } from '../host/process.js';
import type { Task } from '../sim/scheduler.js';
import type { Buid } from '../uapi/ids.js';
import { RTAS_OUT_PARAM_ERROR } from '../uapi/rtas.js';

/** What an in-kernel handler may see of its VM (struct kvm). */
export interface KvmRtasVm {
  readonly vmName: string;
  /** kvm->mm: the address space of the VMM that created the VM. */
  readonly mm: object;
  /** kvm-vfio: the VFIO group files the VMM linked (GROUP_ADD checked its fd table). */
  readonly vfioGroups: readonly FileOps[];
  /** EXPERIMENTAL: KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING entries of this VM. */
  readonly eehMappings: ReadonlyArray<{
    readonly group: FileOps;
    readonly buid: Buid;
    readonly peConfigAddr: number;
  }>;
}

/** The kernel's copy of the guest's struct rtas_args during one in-kernel call. */
export interface KvmRtasCall {
  /** Name of the VM (owner tag). */
  readonly vmName: string;
  /** The VM the call comes from (handlers reach only what is registered here). */
  readonly vm: KvmRtasVm;
  readonly vcpuId: number;
  readonly token: number;
  readonly nargs: number;
  readonly nret: number;
  /** args[i] as a u32 (i < nargs; 0 outside the copied buffer). */
  arg(i: number): number;
  /** rets[i] = value (written at args[nargs + i]; values may be signed). */
  ret(i: number, value: number): void;
}

export interface KvmRtasService {
  /** RTAS name the VMM binds (compared like strncmp over 120 chars). */
  readonly name: string;
  /**
   * Which hypercall path the call takes: `virtual` = kvmppc_pseries_do_hcall()
   * in host virtual mode (charges hcall_kernel; what H_RTAS does upstream),
   * `realmode` = a real-mode handler (charges hcall_realmode; hypothetical,
   * for designs that answer in real mode).
   */
  readonly path: 'virtual' | 'realmode';
  /** Where the handler comes from (upstream file, or the design that adds it). */
  readonly source: string;
  /** Runs the call; checks its own nargs/nret and writes rets[0]. */
  handle(call: KvmRtasCall): Task<void>;
}

export class RtasServiceError extends Error {
  override name = 'RtasServiceError';
}

/** Named in-kernel RTAS services (book3s_rtas.c rtas_handlers[]). */
export class KvmRtasServiceTable {
  private readonly services = new Map<string, KvmRtasService>();

  constructor(initial: readonly KvmRtasService[] = []) {
    for (const s of initial) this.register(s);
  }

  /** Adds a service (throws on a duplicate name: a bug in the machine set-up). */
  register(service: KvmRtasService): void {
    if (this.services.has(service.name)) {
      throw new RtasServiceError(`in-kernel RTAS service ${service.name} already registered`);
    }
    this.services.set(service.name, service);
  }

  /** rtas_name_matches(): the service whose name equals `name` (names are < 120 chars). */
  lookup(name: string): KvmRtasService | undefined {
    return this.services.get(name.slice(0, 120));
  }

  names(): string[] {
    return [...this.services.keys()];
  }
}

/**
 * The four XICS calls of book3s_rtas.c with their exact nargs/nret checks.
 *
 * MODEL: the model has no in-kernel interrupt controller (no KVM XICS/XIVE
 * device), so after the argument checks each call fails as
 * kvmppc_xics_set_xive() & co. do without one (-ENODEV), which the handler
 * maps to -3. Only the binding, the dispatch and the costs are modelled.
 */
function xicsStub(name: string, nargs: number, nret: number): KvmRtasService {
  return {
    name,
    path: 'virtual',
    source: 'arch/powerpc/kvm/book3s_rtas.c',
    *handle(call: KvmRtasCall): Task<void> {
      if (call.nargs !== nargs || call.nret !== nret) {
        call.ret(0, RTAS_OUT_PARAM_ERROR);
        return;
      }
      // MODEL: no in-kernel irqchip: kvmppc_xics_*() fail, `if (rc) rc = -3`.
      call.ret(0, RTAS_OUT_PARAM_ERROR);
    },
  };
}

export const XICS_RTAS_SERVICES: readonly KvmRtasService[] = Object.freeze([
  xicsStub('ibm,set-xive', 3, 1),
  xicsStub('ibm,get-xive', 1, 3),
  xicsStub('ibm,int-off', 1, 1),
  xicsStub('ibm,int-on', 1, 1),
]);

/** The upstream table: the four XICS names and no EEH call. */
export function defaultRtasServices(): KvmRtasServiceTable {
  return new KvmRtasServiceTable(XICS_RTAS_SERVICES);
}
