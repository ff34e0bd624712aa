/**
 * `eehsim inspect`: the scenario as a tree (host PHBs, PEs, devices, the
 * guests with their virtual PHBs, BUIDs and guest addresses, then the
 * workloads, faults, steps and expectations).
 *
 * MACHINE: PE numbers and guest addresses not given in the file are shown
 * as `auto`; once the machine exists, inspect should build it and print
 * the assigned values.
 */
import { DEFAULT_COSTS } from '../sim/costs.js';
import { formatNs } from '../sim/time.js';
import {
  DeviceIndex,
  describeDesign,
  FAULT_KINDS,
  GUEST_DRIVERS,
  type PlacedDevice,
  type Scenario,
  SPAPR_PCI_BASE_BUID,
  WORKLOAD_KINDS,
} from './schema/index.js';

interface TreeNode {
  label: string;
  children: TreeNode[];
}

function renderTree(lines: string[], nodes: readonly TreeNode[], indent = ''): void {
  nodes.forEach((n, i) => {
    const last = i === nodes.length - 1;
    lines.push(`${indent}${last ? '└─ ' : '├─ '}${n.label}`);
    renderTree(lines, n.children, `${indent}${last ? '   ' : '│  '}`);
  });
}

export function inspectScenario(s: Scenario): string {
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
          : ' (host driver)';
    const fns = d.functions.length > 1 ? ` functions .0-.${d.functions.length - 1}` : '';
    const name = d.device.name ? ` ${d.device.name}` : '';
    return {
      label: `${d.address} ${d.device.model}${name}${fns}${owner} [${peOf(d)}]`,
      children: [],
    };
  };
  lines.push(`host (eeh_max_freezes ${s.topology.host.max_freezes})`);
  renderTree(
    lines,
    s.topology.phbs.map((phb) => ({
      label: `PHB ${phb.id} (${phb.model}, automatic PEs per ${phb.pe_grouping})`,
      children: index.all.filter((d) => d.phb === phb.id).map(nodeOf),
    })),
  );
  lines.push('(PE numbers are assigned by the hardware builder: lowest free from 1)');

  if (s.guests.length) {
    lines.push('guests');
    let vphbIndex = 0n;
    renderTree(
      lines,
      s.guests.map((g) => ({
        label: `${g.name} (${g.vcpus} vCPU, ${g.memory_mb} MiB)`,
        children: g.phbs.map((p) => {
          const buid = p.buid ?? `0x${(SPAPR_PCI_BASE_BUID + vphbIndex).toString(16)} (default)`;
          vphbIndex++;
          return {
            label: `vPHB BUID ${buid}`,
            children: p.devices.map((d, i) => {
              const slot = d.slot ?? i;
              const addr = `00:${slot.toString(16).padStart(2, '0')}.0`;
              return {
                label: `${addr} ${d.device}, driver ${d.driver} (${GUEST_DRIVERS[d.driver]})`,
                children: [],
              };
            }),
          };
        }),
      })),
    );
  }
  const section = (title: string, items: string[]): void => {
    if (!items.length) return;
    lines.push(title);
    renderTree(
      lines,
      items.map((label) => ({ label, children: [] })),
    );
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
