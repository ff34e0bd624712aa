/**
 * The cost table: virtual time charged for each crossing of the model.
 * One row per cost - name, value, unit, layer and source together - as in
 * shared/reference/cost-model.md. Every row can be overridden per scenario
 * (`costs:` section) and every report prints the table in force.
 */
import type { Layer } from './layers.js';
import { formatNs, type Ns, parseDuration } from './time.js';

export interface CostRow {
  readonly name: string;
  /** Virtual nanoseconds charged per occurrence. */
  readonly ns: Ns;
  /** Unit the value is usually quoted in (display only). */
  readonly unit: 'ns' | 'us' | 'ms';
  /** Layer that pays the cost (for per-layer accounting). */
  readonly layer: Layer;
  readonly what: string;
  readonly source: string;
}

const US = 1_000;
const MS = 1_000_000;

export const DEFAULT_COSTS = [
  {
    name: 'mmio_read',
    ns: 1.0 * US,
    unit: 'us',
    layer: 'hw',
    what: 'uncached PCIe load, passthrough BAR mapped into the guest (no exit)',
    source:
      'estimate: rule of thumb 0.5-1 us per PCIe round trip; measured 2 us (FPGA card) to 5.5 us (10G NIC) on Xeon',
  },
  {
    name: 'mmio_write',
    ns: 0.1 * US,
    unit: 'us',
    layer: 'hw',
    what: 'posted MMIO store',
    source: 'estimate: posted write, no completion',
  },
  {
    name: 'config_access',
    ns: 1.0 * US,
    unit: 'us',
    layer: 'hw',
    what: 'one PCI config-space cycle (non-posted)',
    source: 'estimate: same as mmio_read',
  },
  {
    name: 'dma_page',
    ns: 0.5 * US,
    unit: 'us',
    layer: 'hw',
    what: 'device DMA of one 4 KiB page through the TCE IOMMU',
    source: 'estimate: ~8 GB/s effective PCIe Gen3 x8',
  },
  {
    name: 'opal_call_null',
    ns: 0.43 * US,
    unit: 'us',
    layer: 'firmware',
    what: 'OPAL call entry and exit (null call)',
    source: 'POWER9 null OPAL call 410-430 ns (Linux commit 75d9fc7fd94e message)',
  },
  {
    name: 'phb_reg_read',
    ns: 1.0 * US,
    unit: 'us',
    layer: 'firmware',
    what: 'firmware reads PHB registers (PEEV/PESTA)',
    source: 'estimate: one uncached MMIO to PHB registers, same as mmio_read',
  },
  {
    name: 'hcall_realmode',
    ns: 1.5 * US,
    unit: 'us',
    layer: 'kvm',
    what: 'hypercall handled in KVM real mode',
    source:
      'POWER8 real-mode interrupt 1.34-1.66 us (commit "KVM: PPC: Book3S HV: Use msgsnd for signalling threads on POWER8")',
  },
  {
    name: 'hcall_kernel',
    ns: 7.6 * US,
    unit: 'us',
    layer: 'kvm',
    what: 'hypercall exit to the host kernel (virtual mode) and back',
    source: 'same commit: guest entry 3.06-3.39 us + exit 4.24-4.56 us',
  },
  {
    name: 'kvm_rtas_lookup',
    ns: 0.05 * US,
    unit: 'us',
    layer: 'kvm',
    what: 'in-kernel RTAS token table lookup and argument decode',
    source: 'estimate: list walk over a handful of tokens',
  },
  {
    name: 'exit_to_userspace',
    ns: 17 * US,
    unit: 'us',
    layer: 'kvm',
    what: 'extra cost when KVM returns to the VMM and the VMM re-enters',
    source:
      'estimate: in-kernel vs userspace ratio ~3.3x (kvm-unit-tests vmexit inl_from_kernel 13.5k vs inl_from_qemu 45k cycles) applied to hcall_kernel',
  },
  {
    name: 'qemu_rtas_dispatch',
    ns: 0.5 * US,
    unit: 'us',
    layer: 'vmm',
    what: 'token lookup and argument decode in the VMM',
    source: 'estimate',
  },
  {
    name: 'syscall_ioctl',
    ns: 1.0 * US,
    unit: 'us',
    layer: 'vfio',
    what: 'VFIO ioctl entry/exit plus container/group walk',
    source: 'estimate',
  },
  {
    name: 'guest_rtas_entry',
    ns: 0.5 * US,
    unit: 'us',
    layer: 'guest',
    what: 'guest rtas_call(): lock, marshal the argument buffer',
    source: 'estimate',
  },
  {
    name: 'msi_delivery',
    ns: 5 * US,
    unit: 'us',
    layer: 'kvm',
    what: 'virtual interrupt injected into the guest',
    source: 'estimate',
  },
  {
    name: 'pe_reset_hold',
    ns: 250 * MS,
    unit: 'ms',
    layer: 'host',
    what: 'reset held asserted',
    source: 'EEH_PE_RST_HOLD_TIME (arch/powerpc/include/asm/eeh.h)',
  },
  {
    name: 'pe_reset_settle',
    ns: 1800 * MS,
    unit: 'ms',
    layer: 'host',
    what: 'settle time after reset deassert',
    source: 'EEH_PE_RST_SETTLE_TIME (arch/powerpc/include/asm/eeh.h)',
  },
  {
    name: 'state_unavailable_retry',
    ns: 1000 * MS,
    unit: 'ms',
    layer: 'vmm',
    what: 'PE-unavailable hint returned with state 5',
    source: "QEMU's hint in spapr_pci_vfio.c; EEH_STATE_MIN_WAIT_TIME",
  },
] as const satisfies readonly CostRow[];

export type CostName = (typeof DEFAULT_COSTS)[number]['name'];
export const COST_NAMES: readonly CostName[] = DEFAULT_COSTS.map((c) => c.name);

export function isCostName(name: string): name is CostName {
  return (COST_NAMES as readonly string[]).includes(name);
}

export type CostOverrides = Readonly<Record<string, string | number>>;

/** The cost table in force for one run. */
export class CostModel {
  private readonly rows = new Map<CostName, CostRow>();

  constructor(overrides: CostOverrides = {}) {
    for (const row of DEFAULT_COSTS) this.rows.set(row.name, row);
    for (const [name, raw] of Object.entries(overrides)) {
      if (!isCostName(name)) {
        throw new CostError(`unknown cost '${name}' (known: ${COST_NAMES.join(', ')})`);
      }
      const ns = parseDuration(raw);
      if (ns === undefined) {
        throw new CostError(
          `cost '${name}': '${raw}' is not a duration (use e.g. 1.5us, 250ms, or integer ns)`,
        );
      }
      const base = this.rows.get(name) as CostRow;
      this.rows.set(name, { ...base, ns, source: `override (default ${formatNs(base.ns)})` });
    }
  }

  ns(name: CostName): Ns {
    return (this.rows.get(name) as CostRow).ns;
  }

  row(name: CostName): CostRow {
    return this.rows.get(name) as CostRow;
  }

  table(): CostRow[] {
    return COST_NAMES.map((n) => this.rows.get(n) as CostRow);
  }
}

export class CostError extends Error {
  override name = 'CostError';
}
