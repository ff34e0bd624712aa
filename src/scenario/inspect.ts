/**
 * `eehsim inspect`: the scenario as a tree - the host PHBs with their PEs,
 * devices, BARs, IOMMU groups and drivers, the guests with their RTAS
 * tokens, virtual PHBs, BUIDs, DMA windows and guest addresses - then the
 * workloads, faults, steps and expectations.
 *
 * The assigned values come from a `MachineLayout`: the machine built from
 * the scenario up to the end of its set-up (host booted, VMMs started,
 * guest kernels booted; no workloads, no faults), read back from the
 * machine's objects (src/machine/layout.ts). Without one (no machine), the
 * tree shows only what the file says.
 */
import { DEFAULT_COSTS } from '../sim/costs.js';
import { formatNs } from '../sim/time.js';
import {
  DeviceIndex,
  describeDesign,
  FAULT_KINDS,
  GUEST_DRIVERS,
  type GuestDriver,
  type PlacedDevice,
  type Scenario,
  SPAPR_PCI_BASE_BUID,
  WORKLOAD_KINDS,
} from './schema/index.js';

// ---- the built machine, as inspect shows it (plain JSON) -----------------------------

/** A BAR as the host PCI core assigned it. */
export interface LayoutHostBar {
  readonly index: number;
  /** Host-physical (bus) address. */
  readonly start: number;
  readonly size: number;
}

/** One host PCI function. */
export interface LayoutFunction {
  /** `DDDD:BB:DD.F` */
  readonly address: string;
  /** Device model (`testnic`, `pcie_switch`, ...). */
  readonly model: string;
  /** The scenario device it belongs to (name, else address; a downstream port: its switch). */
  readonly device: string | null;
  /** For switches: `upstream` (the scenario device) or `downstream` port, with the bus below it. */
  readonly port?: { readonly role: 'upstream' | 'downstream'; readonly secondaryBus: number };
  /** The guest it is passed through to, or null (the host keeps it). */
  readonly passedTo: string | null;
  /** The host driver bound (`vfio-pci`, `testnic`), or null. */
  readonly driver: string | null;
  readonly iommuGroup: number;
  readonly bars: readonly LayoutHostBar[];
}

/** One PE of a PHB. */
export interface LayoutPe {
  readonly number: number;
  readonly kind: 'device' | 'bus';
  /** The PE above it in the PELT-V tree (a PE below a switch), or null. */
  readonly parent: number | null;
  /** `topology.pes[i]` when the scenario groups it explicitly, else null (automatic). */
  readonly explicit: string | null;
  /** Bytes of its 32-bit DMA window (TCE table). */
  readonly dmaWindowSize: number;
  readonly functions: readonly LayoutFunction[];
}

/** One host PHB. */
export interface LayoutPhb {
  readonly id: number;
  readonly model: string;
  readonly peGrouping: 'device' | 'bus';
  readonly mmioWindow: { readonly base: number; readonly size: number };
  readonly pes: readonly LayoutPe[];
}

/** A BAR as the guest sees it (the VMM's KVM memory slot over the host BAR). */
export interface LayoutGuestBar {
  readonly index: number;
  /** Guest-physical address. */
  readonly gpa: number;
  readonly size: number;
  /** Host-physical address behind it. */
  readonly hpa: number;
}

/** A passed-through function as its guest sees it. */
export interface LayoutGuestDevice {
  /** The scenario device (name, else address). */
  readonly device: string;
  /** Host function (`DDDD:BB:DD.F`). */
  readonly host: string;
  /** Guest address (`DDDD:BB:DD.F`, domain = the virtual PHB's index). */
  readonly address: string;
  /** PAPR config address: (bus << 16) | (devfn << 8). */
  readonly configAddr: number;
  /** PE address ibm,get-config-addr-info2 gave the guest kernel ((bus << 16) + 1), or -errno. */
  readonly peAddr: number;
  /** Driver behaviour from the scenario. */
  readonly behaviour: GuestDriver;
  /** The guest driver bound after boot, or null. */
  readonly driver: string | null;
  readonly bars: readonly LayoutGuestBar[];
}

/** A virtual PHB. */
export interface LayoutVphb {
  /** `guests[i].phbs[j]` */
  readonly path: string;
  /** QEMU's PHB index (BUID - SPAPR_PCI_BASE_BUID; the guest's PCI domain). */
  readonly index: number;
  /** Hex (`0x800000020000000`). */
  readonly buid: string;
  readonly liobn: number;
  /** The default 32-bit DMA window (bus addresses). */
  readonly dmaWindow: { readonly start: number; readonly size: number };
  /** Its one IOMMU group and that group's host PE. */
  readonly iommuGroup: number;
  readonly hostPe: string;
  /** EEH advertised to the guest (a VFIO container with one group and the EEH extension). */
  readonly eeh: boolean;
  readonly devices: readonly LayoutGuestDevice[];
}

/** An RTAS service in the guest's device tree. */
export interface LayoutRtasToken {
  readonly name: string;
  readonly token: number;
  /** Answered inside KVM (the design bound it in-kernel) rather than by the VMM. */
  readonly inKernel: boolean;
}

export interface LayoutGuest {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  /** The guest kernel enabled EEH at boot. */
  readonly eeh: boolean;
  /** The EEH RTAS calls in the guest's device tree, by token. */
  readonly rtas: readonly LayoutRtasToken[];
  readonly phbs: readonly LayoutVphb[];
}

/** The machine a scenario builds, at the end of its set-up. */
export interface MachineLayout {
  /** Virtual time the host boot and the VMM starts took (scenario time 0). */
  readonly setupNs: number;
  /** Scenario time at which every guest kernel had booted. */
  readonly guestsBootedNs: number;
  readonly phbs: readonly LayoutPhb[];
  readonly guests: readonly LayoutGuest[];
}

// ---- rendering ---------------------------------------------------------------------

interface TreeNode {
  label: string;
  children: TreeNode[];
}

const leaf = (label: string): TreeNode => ({ label, children: [] });

function renderTree(lines: string[], nodes: readonly TreeNode[], indent = ''): void {
  nodes.forEach((n, i) => {
    const last = i === nodes.length - 1;
    lines.push(`${indent}${last ? '└─ ' : '├─ '}${n.label}`);
    renderTree(lines, n.children, `${indent}${last ? '   ' : '│  '}`);
  });
}

/** `0x80010000` */
export const hex = (n: number): string => `0x${n.toString(16)}`;

/** `4 KiB`, `256 MiB`, `1 GiB` (exact powers), else bytes. */
export function formatBytes(n: number): string {
  for (const [unit, v] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (n >= v && n % v === 0) return `${n / v} ${unit}`;
  }
  return `${n} B`;
}

const range = (base: number, size: number): string =>
  `${hex(base)}-${hex(base + size - 1)} (${formatBytes(size)})`;

function hostTree(layout: MachineLayout): TreeNode[] {
  return layout.phbs.map((phb) => ({
    label: `PHB ${phb.id} (${phb.model}, automatic PEs per ${phb.peGrouping}), MMIO window ${range(phb.mmioWindow.base, phb.mmioWindow.size)}`,
    children: phb.pes.map((pe) => {
      const notes = [
        `${pe.kind} PE`,
        ...(pe.parent !== null ? [`parent PE ${pe.parent}`] : []),
        pe.explicit ?? 'automatic',
        `DMA window ${formatBytes(pe.dmaWindowSize)}`,
      ];
      return {
        label: `PE ${pe.number} (${notes.join(', ')})`,
        children: pe.functions.map((f) => {
          // A scenario name (not an address) is shown after the model.
          const name = f.device && !/^[0-9a-f]{4}:/i.test(f.device) ? ` ${f.device}` : '';
          const port = f.port ? ` ${f.port.role} port to bus ${hex2(f.port.secondaryBus)}` : '';
          const owner = f.passedTo
            ? ` -> ${f.passedTo} (${f.driver ?? 'no driver'})`
            : f.driver
              ? ` (host driver ${f.driver})`
              : ' (host, no driver)';
          return {
            label: `${f.address} ${f.model}${name}${port}${owner}, IOMMU group ${f.iommuGroup}`,
            children: f.bars.map((b) => leaf(`BAR${b.index} ${range(b.start, b.size)}`)),
          };
        }),
      };
    }),
  }));
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

function guestTree(layout: MachineLayout): TreeNode[] {
  return layout.guests.map((g) => {
    const tokens = g.rtas
      .map((t) => `${t.name} ${hex(t.token)}${t.inKernel ? ' (KVM)' : ''}`)
      .join(', ');
    const inKernel = g.rtas.some((t) => t.inKernel);
    return {
      label: `${g.name} (${g.vcpus} vCPU, ${g.memoryMb} MiB), EEH ${g.eeh ? 'enabled' : 'not enabled'}`,
      children: [
        leaf(
          `EEH RTAS tokens: ${tokens || 'none'}${inKernel ? '' : ' (every call exits to the VMM)'}`,
        ),
        ...g.phbs.map((p) => ({
          label: `vPHB ${p.index} BUID ${p.buid}, LIOBN ${hex(p.liobn)}, DMA window ${range(p.dmaWindow.start, p.dmaWindow.size)}, IOMMU group ${p.iommuGroup} (host ${p.hostPe}), EEH ${p.eeh ? 'on' : 'off'}`,
          children: p.devices.map((d) => ({
            label: `${d.address} ${d.device} (host ${d.host}), config address ${hex(d.configAddr)}, PE address ${d.peAddr >= 0 ? hex(d.peAddr) : `none (${d.peAddr})`}, driver ${d.behaviour}${d.driver ? '' : ' (not bound)'} (${GUEST_DRIVERS[d.behaviour]})`,
            children: d.bars.map((b) =>
              leaf(`BAR${b.index} ${range(b.gpa, b.size)} -> host ${hex(b.hpa)}`),
            ),
          })),
        })),
      ],
    };
  });
}

/** The host tree from the file alone (no machine): PE numbers as the file gives them. */
function scenarioHostTree(s: Scenario): TreeNode[] {
  const index = new DeviceIndex(s.topology);
  const passedTo = new Map<string, string>();
  for (const g of s.guests) {
    for (const p of g.phbs) {
      for (const d of p.devices) passedTo.set(index.resolve(d.device)?.ref ?? d.device, g.name);
    }
  }
  const explicitPe = new Map<string, string>();
  s.topology.pes?.forEach((pe, i) => {
    for (const ref of pe.devices) {
      const d = index.resolve(ref);
      if (d) explicitPe.set(d.ref, `PE ${pe.number ?? 'auto'} (topology.pes[${i}])`);
    }
  });
  const peOf = (d: PlacedDevice): string => {
    const explicit = explicitPe.get(d.ref);
    if (explicit) return explicit;
    if (d.device.pe !== undefined) return `PE ${d.device.pe}`;
    const phb = s.topology.phbs.find((p) => p.id === d.phb);
    return phb?.pe_grouping === 'bus' ? `bus PE (bus ${d.device.bdf.slice(0, 2)})` : 'device PE';
  };
  const nodeOf = (d: PlacedDevice): TreeNode => {
    const to = passedTo.get(d.ref);
    const owner =
      d.device.model === 'pcie_switch'
        ? ` (${d.device.ports ?? 2} downstream ports)`
        : to
          ? ` -> ${to} (vfio-pci)`
          : ' (host)';
    const fns = d.functions.length > 1 ? ` functions .0-.${d.functions.length - 1}` : '';
    const name = d.device.name ? ` ${d.device.name}` : '';
    return leaf(`${d.address} ${d.device.model}${name}${fns}${owner} [${peOf(d)}]`);
  };
  return s.topology.phbs.map((phb) => ({
    label: `PHB ${phb.id} (${phb.model}, automatic PEs per ${phb.pe_grouping})`,
    children: index.all.filter((d) => d.phb === phb.id).map(nodeOf),
  }));
}

/** The guests from the file alone: BUIDs default per guest (QEMU: base + PHB index). */
function scenarioGuestTree(s: Scenario): TreeNode[] {
  return s.guests.map((g) => ({
    label: `${g.name} (${g.vcpus} vCPU, ${g.memory_mb} MiB)`,
    children: g.phbs.map((p, j) => ({
      label: `vPHB BUID ${p.buid ?? `0x${(SPAPR_PCI_BASE_BUID + BigInt(j)).toString(16)} (default)`}`,
      children: p.devices.map((d, i) => {
        const addr = `00:${(d.slot ?? i).toString(16).padStart(2, '0')}.0`;
        return leaf(`${addr} ${d.device}, driver ${d.driver} (${GUEST_DRIVERS[d.driver]})`);
      }),
    })),
  }));
}

/**
 * The scenario as text. With `layout` (the built machine), the host and
 * guest trees show the values the machine assigned.
 */
export function inspectScenario(s: Scenario, layout?: MachineLayout): string {
  const lines: string[] = [];
  lines.push(`scenario ${s.name}${s.description ? ` - ${s.description}` : ''}`);
  lines.push(`design ${describeDesign(s.design)}`);
  lines.push(`seed ${s.seed}, run for ${formatNs(s.run_for)}`);
  const costs = Object.entries(s.costs);
  if (costs.length) {
    const defaults = new Map<string, number>(DEFAULT_COSTS.map((c) => [c.name, c.ns]));
    lines.push(
      `cost overrides: ${costs.map(([k, v]) => `${k} ${formatNs(v)} (default ${formatNs(defaults.get(k) ?? 0)})`).join(', ')}`,
    );
  }
  if (layout) {
    lines.push(
      `machine built to the end of set-up: host booted and VMMs started in ${formatNs(layout.setupNs)} (scenario time 0), guest kernels booted at +${formatNs(layout.guestsBootedNs)}; no workloads, no faults`,
    );
  }
  lines.push(`host (eeh_max_freezes ${s.topology.host.max_freezes})`);
  renderTree(lines, layout ? hostTree(layout) : scenarioHostTree(s));
  if (!layout) lines.push('(PE numbers are assigned by the hardware builder: lowest free from 1)');

  if (s.guests.length) {
    lines.push('guests');
    renderTree(lines, layout ? guestTree(layout) : scenarioGuestTree(s));
  }
  const section = (title: string, items: string[]): void => {
    if (!items.length) return;
    lines.push(title);
    renderTree(lines, items.map(leaf));
  };
  section(
    'workloads',
    s.workloads.map(
      (w) =>
        `${w.kind} on ${w.device} by ${w.guest ?? 'host'} from ${formatNs(w.start)} every ${formatNs(w.interval)}${w.ops ? `, ${w.ops} ops` : ''} - ${WORKLOAD_KINDS[w.kind]}`,
    ),
  );
  section(
    'faults',
    s.faults.map((f) => {
      const when = f.at !== undefined ? `at ${formatNs(f.at)}` : `after ${f.after_ops} ops`;
      const rep = f.count > 1 ? ` x${f.count}${f.every ? ` every ${formatNs(f.every)}` : ''}` : '';
      return `${f.kind} on ${f.target} ${when}${rep} - ${FAULT_KINDS[f.kind]}`;
    }),
  );
  section(
    'steps',
    s.steps.map((st) => {
      const id = st.id ? `[${st.id}] ` : '';
      if (st.kind === 'rtas') {
        return `${formatNs(st.at)} ${id}${st.guest}: rtas ${st.call}(${st.args.join(', ')}) nargs ${st.nargs ?? st.args.length} nret ${st.nret}`;
      }
      if (st.kind === 'vfio') {
        return `${formatNs(st.at)} ${id}${st.guest} VMM: ioctl(${st.fd}${st.device ? ` ${st.device}` : ''}, ${st.request}${st.op !== undefined ? ` ${st.op}` : ''})`;
      }
      return `${formatNs(st.at)} ${id}host: ${st.knob}${st.device ? ` ${st.device}` : ''}${st.value !== undefined ? ` = ${st.value}` : ''}`;
    }),
  );
  const ex = Object.entries(s.expect).filter(([, v]) => v !== undefined);
  section(
    'expect',
    ex.map(([k, v]) => `${k}: ${JSON.stringify(v)}`),
  );
  return lines.join('\n');
}
