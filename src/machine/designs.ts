/**
 * The designs the machine can assemble, by scenario name (`design:` in a
 * scenario, `--design` on the command line): each one is a strategy object
 * for the layers' design hooks - the VMM's `EehWiring` (src/vmm/eeh_wiring.ts)
 * and, when a design changes how the guest reaches its PE, the guest
 * kernel's `opsFactory`. Layers never test which design runs; a new design
 * is one more entry here.
 */
import { HOST_PE_STATE_QUERY, PseriesEehOps } from '../guest/eeh_pseries.js';
import type { GuestSpec } from '../guest/index.js';
import type { EehAccessorPolicy } from '../guest/kernel.js';
import type { PhbErrorReporting } from '../hw/phb.js';
import {
  hostPeIdResolver,
  identityResolver,
  type KvmEehResolver,
  kvmEehReadSlotResetState2,
  kvmVfioMappingResolver,
  vfioAddrMappingResolver,
} from '../kvm/rtas_eeh.js';
import { KvmRtasServiceTable, XICS_RTAS_SERVICES } from '../kvm/rtas_services.js';
import { ScenarioError } from '../scenario/load.js';
import {
  DESIGNS,
  type DesignName,
  describeDesign,
  parseDesign,
} from '../scenario/schema/design.js';
import type { Sim } from '../sim/sim.js';
import type { VfioPciArch } from '../vfio/arch.js';
import { PowernvAddrMapping } from '../vfio/experimental_addr_mapping.js';
import { VFIO_ERR_STOPS_VM } from '../vmm/aer_wiring.js';
import {
  type EehWiring,
  hostPeInDeviceTree,
  IDENTITY_MAPPING,
  KVM_EEH_MAPPING,
  QEMU_INTERCEPT,
  VFIO_ADDR_MAPPING,
} from '../vmm/eeh_wiring.js';
import { withNotify } from '../vmm/notify_wiring.js';

/**
 * The host kernel a design needs (default: upstream - the four XICS
 * in-kernel RTAS services, no experimental ABI). A design that adds
 * in-kernel services runs on a host built with the experimental patches.
 */
export interface DesignHost {
  /** KVM's in-kernel RTAS services (book3s_rtas.c rtas_handlers[]). */
  kvmServices?(): KvmRtasServiceTable;
  /** KVM accepts the experimental KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING. */
  readonly experimentalEehMapping?: boolean;
  /** The platform's vfio_pci_arch_ioctl() override. */
  vfioArch?(sim: Sim): VfioPciArch;
  /** How the PHBs report errors (default `eeh`: PE freeze; `aer`: the x86-like baseline, src/hw/phb.ts). */
  readonly errorReporting?: PhbErrorReporting;
  /** PROPOSAL (+notify): next_error signals a frozen passed-through PE's error eventfds. */
  readonly notifyPassedFreeze?: boolean;
}

export interface MachineDesign {
  readonly name: DesignName;
  readonly description: string;
  /** The VMM's wiring of guest EEH to the host PE. */
  wiring(): EehWiring;
  /** The guest kernel's platform ops (default: pseries over RTAS). */
  readonly guestOps?: GuestSpec['opsFactory'];
  /** The host kernel's side of the design (default: upstream). */
  readonly host?: DesignHost;
  /** The guest's EEH MMIO accessor policy (default: Linux's, a check per all-1s read). */
  readonly guestAccessors?: EehAccessorPolicy;
}

/** Upstream's table plus the EXPERIMENTAL in-kernel state query. */
function inKernelStateQuery(
  resolve: KvmEehResolver,
  path: 'virtual' | 'realmode',
): () => KvmRtasServiceTable {
  return () =>
    new KvmRtasServiceTable([...XICS_RTAS_SERVICES, kvmEehReadSlotResetState2(resolve, path)]);
}

function design(
  name: DesignName,
  wiring: EehWiring | (() => EehWiring),
  host?: DesignHost,
  guestOps?: GuestSpec['opsFactory'],
): [DesignName, MachineDesign] {
  return [
    name,
    {
      name,
      description: describeDesign(name),
      // A stateful wiring is a factory: one object per VMM.
      wiring: typeof wiring === 'function' ? wiring : () => wiring,
      ...(host ? { host } : {}),
      ...(guestOps ? { guestOps } : {}),
    },
  ];
}

const REGISTRY = new Map<DesignName, MachineDesign>([
  design('d', QEMU_INTERCEPT),
  // (a) via KVM: mapping on the kvm-vfio device, state query in KVM virtual mode.
  design('a', KVM_EEH_MAPPING, {
    kvmServices: inKernelStateQuery(kvmVfioMappingResolver, 'virtual'),
    experimentalEehMapping: true,
  }),
  // (a) via KVM, the state query answered in real mode (see rtas_eeh.ts MODEL).
  design('a-realmode', KVM_EEH_MAPPING, {
    kvmServices: inKernelStateQuery(kvmVfioMappingResolver, 'realmode'),
    experimentalEehMapping: true,
  }),
  // (a) via VFIO: VFIO_DEVICE_SET_ADDR_MAPPING per device, state query in KVM virtual mode.
  design('a-vfio', VFIO_ADDR_MAPPING, {
    kvmServices: inKernelStateQuery(vfioAddrMappingResolver, 'virtual'),
    vfioArch: (sim) => new PowernvAddrMapping(sim),
  }),
  // (b) guest told the mapping: host PE identity in the device tree, the
  // guest's state query names it, KVM checks it is one of the VM's groups.
  design(
    'b',
    hostPeInDeviceTree,
    {
      kvmServices: inKernelStateQuery(hostPeIdResolver, 'virtual'),
      experimentalEehMapping: true, // KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID
    },
    (sim, rtas, buids) => new PseriesEehOps(sim, rtas, buids, HOST_PE_STATE_QUERY),
  ),
  // (c) identity mapping: vPHB = host PHB, functions at host bus/devfn; KVM
  // reads the guest address as the host's after the same ownership check.
  design('c', IDENTITY_MAPPING, {
    kvmServices: inKernelStateQuery(identityResolver, 'virtual'),
  }),
  // The x86-like baseline (not EEH): errors reported by AER, no PE freeze;
  // vfio-pci signals the VMM's error eventfd and the VMM stops the VM.
  design('aer', VFIO_ERR_STOPS_VM, { errorReporting: 'aer' }),
]);

/**
 * `+notify` / `+notify-only` (PROPOSAL, not upstream) of every design above:
 * the same design plus the host's freeze notification (host side), the
 * VMM's error-eventfd wiring (withNotify), and for `-only` a guest that
 * trusts it (no check on all-1s reads).
 */
for (const name of DESIGNS) {
  const choice = parseDesign(name);
  const base = choice.notify ? REGISTRY.get(name.split('+')[0] as DesignName) : undefined;
  if (!base) continue;
  REGISTRY.set(name, {
    ...base,
    name,
    description: describeDesign(name),
    wiring: () => withNotify(base.wiring()),
    host: { ...base.host, notifyPassedFreeze: true },
    ...(choice.notifyOnly ? { guestAccessors: { checkOnAllOnes: false } } : {}),
  });
}

/** Names of the designs the machine implements. */
export function implementedDesigns(): DesignName[] {
  return DESIGNS.filter((d) => REGISTRY.has(d));
}

/**
 * The design a scenario names. A design of the format that has no
 * implementation yet is a scenario error (exit 2 on the command line).
 */
export function designOf(name: DesignName, source = '<scenario>'): MachineDesign {
  const d = REGISTRY.get(name);
  if (d) return d;
  throw new ScenarioError(source, [
    {
      path: 'design',
      message: `design '${name}' is not implemented yet (implemented: ${implementedDesigns().join(', ')}; ${describeDesign(name)})`,
    },
  ]);
}
