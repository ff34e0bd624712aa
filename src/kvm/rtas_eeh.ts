/**
 * EXPERIMENTAL - NEVER MERGED UPSTREAM: in-kernel EEH RTAS services for
 * seed option (a), "host kernel told the mapping" (and (b), (c) below). A VMM binds
 * `ibm,read-slot-reset-state2` to one of these with
 * KVM_PPC_RTAS_DEFINE_TOKEN; the guest's state query (the call
 * check_failure makes on every all-1s read) is then answered inside KVM
 * and never exits to the VMM. Every other EEH call, and config space,
 * still exits to the VMM (upstream's path, VFIO_EEH_PE_OP).
 *
 * The handler does what QEMU's rtas_ibm_read_slot_reset_state2() +
 * spapr_phb_vfio_eeh_get_state() do (hw/ppc/spapr_pci.c,
 * spapr_pci_vfio.c): exact nargs/nret check (-3), the BUID's PE (-3 when
 * the VM has none), eeh_pe_get_state() (-3 on error), then
 * rets = (0, state, 1, 1000 [, 0]). Only the way to the PE differs, and it
 * is a resolver over what this VM registered - never a lookup by number:
 *
 * - `kvmVfioMappingResolver` (design a): the VM's
 *   KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING entries, BUID -> VFIO group file,
 *   then VFIO's exported vfioFileEehPe() (eeh_iommu_group_to_pe).
 * - `vfioAddrMappingResolver` (design a-vfio): the (BUID, address) table
 *   the VMM filled with VFIO_DEVICE_SET_ADDR_MAPPING, asked only through
 *   this VM's kvm-vfio group files and only for entries this VM's VMM
 *   process (kvm->mm) set (src/vfio/kvm_export.ts).
 * - `hostPeIdResolver` (design b): the guest names the host PE (PHB id, PE
 *   number); matched against this VM's kvm-vfio group files only.
 * - `identityResolver` (design c): the guest's (BUID, config address) read
 *   as the host's (PHB, bus/devfn); matched against the same files.
 */
import type { Task } from '../sim/scheduler.js';
import { type Buid, buid as toBuid } from '../uapi/ids.js';
import {
  RTAS_EEH_PE_RECOVER_INFO,
  RTAS_EEH_PE_UNAVAIL_INFO,
  RTAS_EEH_SUPPORT,
  RTAS_OUT_PARAM_ERROR,
  RTAS_OUT_SUCCESS,
} from '../uapi/rtas.js';
import {
  type VfioEehTarget,
  vfioFileEehPe,
  vfioFileEehPeByAddr,
  vfioFileEehPeByFunction,
  vfioFileEehPeById,
} from '../vfio/kvm_export.js';
import type { KvmRtasCall, KvmRtasService, KvmRtasVm } from './rtas_services.js';
import { hostPhbOfBuid, identityPhbOfBuid } from './uapi_eeh_identity.js';

/** How a service finds the host PE of a guest call: (VM, BUID, args[0]) -> PE, or undefined (-3). */
export type KvmEehResolver = (vm: KvmRtasVm, buid: Buid, addr: number) => VfioEehTarget | undefined;

/**
 * Design a: the VM's KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING entries, by BUID
 * (QEMU's EEH is per virtual PHB and ignores the address word too). The
 * group must still be linked to the VM (GROUP_DEL drops its mapping).
 */
export const kvmVfioMappingResolver: KvmEehResolver = (vm, buid) => {
  const m = vm.eehMappings.find((x) => x.buid === buid);
  if (!m || !vm.vfioGroups.includes(m.group)) return undefined;
  return vfioFileEehPe(m.group);
};

/**
 * Design a-vfio: VFIO's (BUID, address) table, asked through each group
 * file this VM linked, for entries set by this VM's VMM process only.
 */
export const vfioAddrMappingResolver: KvmEehResolver = (vm, buid, addr) => {
  for (const f of vm.vfioGroups) {
    const t = vfioFileEehPeByAddr(f, vm.mm, buid, addr);
    if (t) return t;
  }
  return undefined;
};

/**
 * Design b (guest told the mapping): the guest names the host PE itself -
 * BUID = the host-PE tag + host PHB id, args[0] = host PE number
 * (src/kvm/uapi_eeh_identity.ts). The guest is not trusted: any number can
 * be in its RTAS buffer. The identity is only a key matched against the PEs
 * of the groups this VM's VMM linked with GROUP_ADD; a PE of another VM, of
 * the host, or of nobody is not found, the call gets -3, and nothing (no
 * eeh_pe_get_state, hence no OPAL call and no ISOLATED side effect) is run.
 * -3 rather than -9002 (not authorized): "exists but not yours" would be an
 * oracle for probing the host's PE numbers; -3 is what an unknown PE gets.
 */
export const hostPeIdResolver: KvmEehResolver = (vm, buid, addr) => {
  const phb = hostPhbOfBuid(buid);
  if (phb === undefined) return undefined;
  for (const f of vm.vfioGroups) {
    const t = vfioFileEehPeById(f, phb, addr);
    if (t) return t;
  }
  return undefined;
};

/**
 * Design c (identity mapping): the guest's (BUID, config address) is the
 * host's (PHB, bus/devfn) - BUID = QEMU's base + host PHB id, args[0] =
 * bus << 16 | devfn << 8 (register bits ignored). The same ownership rule as
 * b: the host function must belong to a group this VM linked, else -3 and
 * nothing is run.
 */
export const identityResolver: KvmEehResolver = (vm, buid, addr) => {
  const phb = identityPhbOfBuid(buid);
  if (phb === undefined) return undefined;
  const bus = (addr >>> 16) & 0xff;
  const devfn = (addr >>> 8) & 0xff;
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  const name = `${hex(phb, 4)}:${hex(bus, 2)}:${hex(devfn >> 3, 2)}.${devfn & 7}`;
  for (const f of vm.vfioGroups) {
    const t = vfioFileEehPeByFunction(f, name);
    if (t) return t;
  }
  return undefined;
};

export const KVM_EEH_SOURCE = 'EXPERIMENTAL (seed option a, never merged): src/kvm/rtas_eeh.ts';

/**
 * EXPERIMENTAL: `ibm,read-slot-reset-state2` answered in KVM.
 *
 * `path` is where the hypercall is handled (vm.ts charges hcall_kernel or
 * hcall_realmode, plus kvm_rtas_lookup); the host call chain below
 * (eeh_pe_get_state -> powernv -> OPAL_PCI_EEH_FREEZE_STATUS) charges its
 * own OPAL costs.
 *
 * MODEL: real mode (`realmode`, design a-realmode). To answer from the real-mode hcall path
 * (book3s_hv_rmhandlers.S -> kvmppc_rm_h_rtas, hypothetical) Linux would
 * need a real-mode-safe chain: the token table and the mapping read
 * without sleeping locks (RCU / lockless, as the real-mode H_PUT_TCE code
 * does), the PE found without vmalloc'ed or lockdep-tracked data, and OPAL
 * called through the real-mode OPAL entry (opal_rm_* wrappers, as
 * opal_rm_pci_msi_eoi) - no tracepoints, no printk, no kmalloc. The
 * powernv side effect of a query that finds the PE frozen (mark it
 * ISOLATED, fetch the diag data with OPAL_PCI_GET_PHB_DIAG_DATA2 into a
 * kmalloc'ed buffer) cannot run in real mode: a real handler would return
 * H_TOO_HARD and redo the call in virtual mode. The model runs the same
 * chain in both variants, so a state query that finds the PE frozen is
 * undercharged by about hcall_kernel under `a-realmode`; the common case it
 * is meant for (false positives: the PE is fine) is charged right.
 */
export function kvmEehReadSlotResetState2(
  resolve: KvmEehResolver,
  path: 'virtual' | 'realmode',
): KvmRtasService {
  return {
    name: 'ibm,read-slot-reset-state2',
    path,
    source: KVM_EEH_SOURCE,
    *handle(call: KvmRtasCall): Task<void> {
      // rtas_ibm_read_slot_reset_state2(): exact counts, like QEMU.
      if (call.nargs !== 3 || (call.nret !== 4 && call.nret !== 5)) {
        call.ret(0, RTAS_OUT_PARAM_ERROR);
        return;
      }
      const buid = toBuid((BigInt(call.arg(1)) << 32n) | BigInt(call.arg(2)));
      const target = resolve(call.vm, buid, call.arg(0));
      if (!target) {
        call.ret(0, RTAS_OUT_PARAM_ERROR);
        return;
      }
      const state = yield* target.eeh.peGetState(target.pe);
      if (state < 0) {
        call.ret(0, RTAS_OUT_PARAM_ERROR);
        return;
      }
      call.ret(0, RTAS_OUT_SUCCESS);
      call.ret(1, state);
      call.ret(2, RTAS_EEH_SUPPORT);
      call.ret(3, RTAS_EEH_PE_UNAVAIL_INFO);
      if (call.nret >= 5) call.ret(4, RTAS_EEH_PE_RECOVER_INFO);
    },
  };
}
