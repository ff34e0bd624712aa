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
  describeDesign,
  FAULT_KINDS,
  fullBdf,
  GUEST_DRIVERS,
  type Scenario,
  SPAPR_PCI_BASE_BUID,
  WORKLOAD_KINDS,
} from './schema/index.js';

function tree(lines: string[], items: string[][], indent: string): void {
  items.forEach((item, i) => {
    const last = i === items.length - 1;
    const [head, ...rest] = item;
    lines.push(`${indent}${last ? '└─ ' : '├─ '}${head}`);
    for (const r of rest) lines.push(`${indent}${last ? '   ' : '│  '}${r}`);
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
  const passedTo = new Map<string, string>();
  for (const g of s.guests)
    for (const p of g.phbs) for (const d of p.devices) passedTo.set(d.device, g.name);

  lines.push(`host (eeh_max_freezes ${s.topology.host.max_freezes})`);
  const phbItems = s.topology.phbs.map((phb) => {
    const pes = new Map<string, string[]>();
    for (const d of phb.devices) {
      const key =
        d.pe !== undefined
          ? `PE ${d.pe}`
          : phb.pe_grouping === 'bus'
            ? `PE auto (bus ${d.bdf.slice(0, 2)})`
            : `PE auto (${d.bdf})`;
      const bdf = fullBdf(phb.id, d.bdf);
      const to = passedTo.get(d.name) ?? passedTo.get(bdf);
      const list = pes.get(key) ?? [];
      list.push(`${bdf} ${d.model} ${d.name}${to ? ` -> ${to} (vfio-pci)` : ' (host driver)'}`);
      pes.set(key, list);
    }
    const sub: string[] = [];
    tree(
      sub,
      [...pes].map(([pe, devs]) => [
        pe,
        ...devs.map((x, i) => `${i === devs.length - 1 ? '└─ ' : '├─ '}${x}`),
      ]),
      '',
    );
    return [`PHB ${phb.id} (${phb.model}, PEs per ${phb.pe_grouping})`, ...sub];
  });
  tree(lines, phbItems, '');

  if (s.guests.length) {
    lines.push('guests');
    let vphbIndex = 0n;
    const guestItems = s.guests.map((g) => {
      const sub: string[] = [];
      const phbs = g.phbs.map((p) => {
        const buid = p.buid ?? `0x${(SPAPR_PCI_BASE_BUID + vphbIndex).toString(16)} (default)`;
        vphbIndex++;
        const devs = p.devices.map((d, i) => {
          const slot = d.slot ?? i;
          const addr = `00:${slot.toString(16).padStart(2, '0')}.0`;
          return `${addr} ${d.device}, driver ${d.driver} (${GUEST_DRIVERS[d.driver]})`;
        });
        return [
          `vPHB BUID ${buid}`,
          ...devs.map((x, i) => `${i === devs.length - 1 ? '└─ ' : '├─ '}${x}`),
        ];
      });
      tree(sub, phbs, '');
      return [`${g.name} (${g.vcpus} vCPU, ${g.memory_mb} MiB)`, ...sub];
    });
    tree(lines, guestItems, '');
  }
  const section = (title: string, items: string[]): void => {
    if (!items.length) return;
    lines.push(title);
    tree(
      lines,
      items.map((i) => [i]),
      '',
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
