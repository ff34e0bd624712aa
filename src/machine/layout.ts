/**
 * The machine a scenario builds, as `eehsim inspect` shows it: the machine
 * assembled by `Machine` (no workloads, faults or steps started), run until
 * every guest kernel has booted, then read back from its objects - PEs and
 * MMIO windows from the PHBs, BARs, IOMMU groups and drivers from the host
 * kernel, BUIDs, LIOBNs and guest BARs from the VMMs, PE addresses from the
 * guest kernels, RTAS tokens from the device tree each guest booted from.
 */
import { pciName } from '../guest/kernel.js';
import type {
  LayoutFunction,
  LayoutGuest,
  LayoutPe,
  LayoutPhb,
  LayoutRtasToken,
  MachineLayout,
} from '../scenario/inspect.js';
import type { Scenario } from '../scenario/schema/index.js';
import { Machine, type MachineOptions } from './machine.js';

/** The RTAS services inspect lists: PAPR's EEH calls (and the proposed error injection). */
const EEH_RTAS = new Set([
  'ibm,set-eeh-option',
  'ibm,get-config-addr-info2',
  'ibm,read-slot-reset-state2',
  'ibm,set-slot-reset',
  'ibm,configure-pe',
  'ibm,slot-error-detail',
  'ibm,open-errinjct',
  'ibm,errinjct',
  'ibm,close-errinjct',
]);

/** Builds the scenario's machine to the end of its set-up, guest kernels booted. */
export function bootForInspect(scenario: Scenario, opts: MachineOptions = {}): Machine {
  const m = new Machine(scenario, { trace: false, ...opts, setupOnly: true });
  m.bootGuests();
  return m;
}

/** Where the scenario pins each host function's PE (`topology.pes[i]`, a device's `pe`). */
function explicitPes(m: Machine): Map<string, string> {
  const out = new Map<string, string>();
  const t = m.scenario.topology;
  t.phbs.forEach((phb, i) => {
    phb.devices.forEach((d, j) => {
      if (d.pe === undefined) return;
      const placed = m.index.resolve(d.name ?? `${phb.id.toString(16).padStart(4, '0')}:${d.bdf}`);
      for (const f of placed?.functions ?? []) out.set(f, `topology.phbs[${i}].devices[${j}].pe`);
    });
  });
  t.pes?.forEach((pe, i) => {
    for (const ref of pe.devices) {
      const placed = m.index.resolve(ref);
      const fns = /^[0-9a-f]{4}:/i.test(ref) ? [ref.toLowerCase()] : (placed?.functions ?? []);
      for (const f of fns) out.set(f, `topology.pes[${i}]`);
    }
  });
  return out;
}

/** The host side: PHBs, PEs, functions. */
function hostLayout(m: Machine): LayoutPhb[] {
  const explicit = explicitPes(m);
  const passedTo = new Map<string, string>();
  for (const g of m.guests) for (const p of g.passthrough) passedTo.set(p.hostAddress, g.name);
  return m.hw.phbs.map((phb, i) => {
    const spec = m.scenario.topology.phbs[i];
    const pes = phb.pes().map((pe): LayoutPe => {
      const functions = pe.functions.map((fn): LayoutFunction => {
        const address = pciName(phb.id, fn.bdf);
        const pdev = m.host.device(address);
        if (!pdev) throw new Error(`the host has no ${address}`);
        // A switch's downstream ports belong to the switch above them.
        const placed = m.index.resolve(address);
        const owner = placed ?? (pdev.parent ? m.index.resolve(pdev.parent.name) : undefined);
        const port = pdev.isBridge
          ? {
              role: placed ? ('upstream' as const) : ('downstream' as const),
              secondaryBus: pdev.secondaryBus,
            }
          : undefined;
        return {
          address,
          model: fn.model,
          device: owner?.ref ?? null,
          ...(port ? { port } : {}),
          passedTo: passedTo.get(address) ?? null,
          driver: pdev.driver?.name ?? null,
          iommuGroup: pdev.iommuGroup,
          bars: pdev.hostResources.map((r) => ({ index: r.index, start: r.start, size: r.size })),
        };
      });
      const pinned = functions.map((f) => explicit.get(f.address)).find((x) => x !== undefined);
      return {
        number: pe.number,
        kind: pe.kind === 'bus' ? 'bus' : 'device',
        parent: pe.parent?.number ?? null,
        explicit: pinned ?? null,
        dmaWindowSize: pe.tce?.windowSize ?? 0,
        functions,
      };
    });
    return {
      id: phb.id,
      model: phb.model,
      peGrouping: spec?.pe_grouping ?? 'device',
      mmioWindow: { base: phb.window.base, size: phb.window.size },
      pes,
    };
  });
}

/** The guest side: what each VMM set up and each guest kernel found. */
function guestLayout(m: Machine): LayoutGuest[] {
  return m.guests.map((g, gi): LayoutGuest => {
    const sg = m.scenario.guests[gi];
    if (!sg) throw new Error(`no scenario guest ${gi}`);
    const tree = g.vmm.deviceTree;
    const inKernel = new Set(g.vmm.wiring.kernelRtasServices);
    const rtas: LayoutRtasToken[] = Object.entries(tree?.rtasTokens ?? {})
      .filter(([name]) => EEH_RTAS.has(name))
      .map(([name, token]) => ({ name, token, inKernel: inKernel.has(name) }))
      .sort((a, b) => a.token - b.token);
    const behaviour = new Map<string, (typeof sg.phbs)[number]['devices'][number]['driver']>();
    sg.phbs.forEach((p) => {
      for (const d of p.devices) behaviour.set(m.refOf(d.device), d.driver);
    });
    const kernel = g.kernel.kernel;
    return {
      name: g.name,
      vcpus: sg.vcpus,
      memoryMb: sg.memory_mb,
      eeh: g.kernel.boot.result?.eeh ?? false,
      rtas,
      phbs: g.vmm.phbs.map((phb, pj) => {
        const group = phb.iommuGroup ?? -1;
        return {
          path: `guests[${gi}].phbs[${pj}]`,
          index: phb.index,
          buid: `0x${phb.buid.toString(16)}`,
          liobn: phb.liobn,
          dmaWindow: { start: phb.window.start, size: phb.window.size },
          iommuGroup: group,
          hostPe: m.host.groups[group]?.eehPe.label ?? '-',
          eeh: tree?.phbs.find((n) => n.index === phb.index)?.eehSupported ?? false,
          devices: phb.devices.map((dev) => {
            const pt = g.passthrough.find((p) => p.dev === dev);
            const address = pciName(phb.index, dev.bdf);
            const seen = kernel.device(address);
            const device = pt?.ref ?? m.refOf(dev.host);
            return {
              device,
              host: dev.host,
              address,
              configAddr: dev.configAddr,
              peAddr: seen?.peAddr ?? -1,
              behaviour: behaviour.get(device) ?? 'full',
              driver: seen?.pdev.driver?.name ?? null,
              bars: dev.bars.map((b) => ({ index: b.index, gpa: b.gpa, size: b.size, hpa: b.hpa })),
            };
          }),
        };
      }),
    };
  });
}

/** The layout of a machine built by `bootForInspect`. */
export function machineLayout(m: Machine): MachineLayout {
  return {
    setupNs: m.t0,
    guestsBootedNs: m.now,
    phbs: hostLayout(m),
    guests: guestLayout(m),
  };
}
