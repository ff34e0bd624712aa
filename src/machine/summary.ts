/**
 * The readable summary of a machine run (what `eehsim run` prints above the
 * result table): what happened layer by layer - the fault, the freeze at
 * the PHB, the detection and recovery by the owner of the device, the RTAS
 * calls and VFIO operations, the reset, the integrity counts, the exits and
 * the virtual time per guest state query. Built from the layers' own
 * counters (not from the trace, which campaigns turn off). Times are
 * scenario times (`+5.000 ms`).
 */
import type { RunResult } from '../scenario/result.js';
import { formatNs, type Ns } from '../sim/time.js';
import type { Machine } from './machine.js';
import type { GuestDetails, MachineDetails } from './result.js';

const at = (t: Ns): string => `+${formatNs(t)}`;

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : what.endsWith('ch') ? 'es' : 's'}`;
}

/** `name xN (mean)` for the RTAS calls of a guest, EEH calls first. */
function rtasLine(g: GuestDetails): string {
  const order = (n: string): number => (n.includes('pci-config') ? 1 : 0);
  return Object.entries(g.rtas)
    .sort(
      (a, b) => order(a[0]) - order(b[0]) || b[1].calls - a[1].calls || a[0].localeCompare(b[0]),
    )
    .map(([n, r]) => `${n.replace(/^ibm,/, '')} x${r.calls} (${formatNs(r.meanNs)} each)`)
    .join(', ');
}

function layersLine(layers: GuestDetails['layers']): string {
  return Object.entries(layers)
    .sort((a, b) => (b[1]?.ns ?? 0) - (a[1]?.ns ?? 0))
    .map(([l, t]) => `${l} ${formatNs(t?.ns ?? 0)}`)
    .join(', ');
}

export function machineSummary(m: Machine, r: RunResult, d: MachineDetails): string {
  const s = m.scenario;
  const t0 = m.t0;
  const lines: string[] = [];
  const phbs = m.hw.phbs.map((p) => `${p.model} PHB ${p.id}`).join(', ');
  lines.push(
    `machine: ${phbs}; ${plural(m.index.all.length, 'device')}; ${plural(m.guests.length, 'guest')}; design ${m.design.description}`,
  );
  for (const dev of m.index.all) {
    const fn = m.functionOf(dev.ref);
    const phb = m.hw.phbOf(fn);
    const pe = phb.peOf(fn);
    const [pdev] = m.host.resolve(m.hostAddress(dev.ref));
    const g = m.guests.find((x) => x.passthrough.some((p) => p.ref === dev.ref));
    const pt = g?.passthrough.find((p) => p.ref === dev.ref);
    const where = pt
      ? `-> ${pt.guest} ${pt.guestAddress} on virtual PHB 0x${pt.phb.buid.toString(16)} (IOMMU group ${pdev?.iommuGroup}, host driver ${pdev?.driver?.name ?? '-'})`
      : `host (driver ${pdev?.driver?.name ?? '-'})`;
    lines.push(`  ${dev.ref} ${dev.device.model} ${dev.address} PE#${pe.number} ${where}`);
  }
  lines.push(
    `setup: host boot and VMM start took ${formatNs(t0)} of virtual time; scenario times count from there; run ${formatNs(s.run_for)}`,
  );

  if (d.faults.length) {
    lines.push('faults:');
    for (const f of d.faults) {
      lines.push(
        `  ${at(f.t)}  ${f.kind} on ${f.target}${f.n > 1 ? ` (#${f.n})` : ''}: ${f.applied ? f.how : `not applied: ${f.how}`}`,
      );
    }
  }
  if (d.hwErrors.length) {
    lines.push('hardware (PHB error log):');
    const shown = d.hwErrors.slice(0, 8);
    for (const e of shown) {
      lines.push(
        `  ${at(e.t)}  PHB ${e.phb}${e.pe >= 0 ? ` PE#${e.pe}` : ''}: ${e.source} error ${e.kind}${e.kind === 'fence' ? '' : ' -> PE frozen'}`,
      );
    }
    if (d.hwErrors.length > shown.length)
      lines.push(`  ... ${d.hwErrors.length - shown.length} more`);
  }
  const freezes = Object.entries(d.hwFreezes).map(([pe, n]) => `${pe} x${n}`);
  if (freezes.length) lines.push(`  freezes at the PHB: ${freezes.join(', ')}`);

  for (const g of d.guests) {
    const mine = r.devices.filter((x) => x.owner === g.name);
    lines.push(`${g.name}:`);
    for (const dev of mine) {
      const checks = `${plural(dev.checks, 'check')} (${dev.falsePositives} false positive${dev.falsePositives === 1 ? '' : 's'})`;
      lines.push(
        `  ${dev.device}: ${dev.status}${dev.cause ? ` (${dev.cause})` : ''}; ${plural(dev.freezes, 'freeze')} handled; ${checks}`,
      );
    }
    for (const rec of g.recoveries) {
      const how = [
        rec.reset ? 'PE reset' : 'no reset',
        rec.hotplug ? 'remove + rescan' : 'driver callbacks',
      ];
      const head = `  recovery of the guest's ${rec.pe} (freeze ${rec.freezeCount}): detected and started ${at(rec.startNs)}`;
      lines.push(
        rec.inProgress
          ? `${head}, still running at the end of the run ${at(rec.endNs)}${rec.reset ? ' (PE reset begun)' : ''}`
          : `${head}, ended ${at(rec.endNs)}: ${rec.outcome} in ${formatNs(rec.endNs - rec.startNs)} (${how.join(', ')}, result ${rec.result})`,
      );
    }
    if (Object.keys(g.rtas).length) lines.push(`  RTAS calls: ${rtasLine(g)}`);
    const ops = Object.entries(g.vfioEehOps).map(([op, n]) => `${op} x${n}`);
    if (ops.length) lines.push(`  VFIO_EEH_PE_OP from the VMM: ${ops.join(', ')}`);
    const reset = g.rtas['ibm,set-slot-reset'];
    if (reset) {
      const hold = m.sim.costs.ns('pe_reset_hold');
      const settle = m.sim.costs.ns('pe_reset_settle');
      const resets = Object.entries(g.vfioEehOps)
        .filter(([op]) => op.startsWith('RESET_'))
        .map(([op, n]) => `${op} x${n}`);
      lines.push(
        `  reset: ibm,set-slot-reset x${reset.calls} -> VFIO ${resets.join(', ')}: ${formatNs(reset.ns)} in the host (its waits inside the ioctls); the guest waits pe_reset_hold ${formatNs(hold)} after asserting and pe_reset_settle ${formatNs(settle)} after deactivating`,
      );
    }
    const io = mine.reduce(
      (t, x) => ({
        silent: t.silent + x.integrity.silentReads,
        mism: t.mism + x.integrity.dmaMismatches,
        dropped: t.dropped + x.integrity.droppedWrites,
        retried: t.retried + x.integrity.retriedIos,
        lost: t.lost + x.integrity.lostIos,
      }),
      { silent: 0, mism: 0, dropped: 0, retried: 0, lost: 0 },
    );
    const ok = g.workloads.reduce((n, w) => n + ((w.completed as number) ?? 0), 0);
    lines.push(
      `  integrity: ${plural(io.silent, 'silent read')}, ${plural(io.mism, 'DMA mismatch')}, ${plural(io.dropped, 'write')} dropped, ${plural(io.retried, 'I/O')} retried, ${io.lost} lost, ${ok} completed`,
    );
    const hc = Object.entries(g.hcalls).map(([n, h]) => `${n} ${h.exits}`);
    lines.push(
      `  exits to the VMM: ${g.exits} (${hc.join(', ')}), ${formatNs(g.exitNs)} in exits; state query (read-slot-reset-state2) ${formatNs(g.stateQuery.meanNs)} mean over ${plural(g.stateQuery.calls, 'call')}`,
    );
    lines.push(`  charged time by layer: ${layersLine(g.layers) || '-'}`);
  }

  const hostDevs = r.devices.filter((x) => x.owner === 'host');
  const he = d.host.eeh;
  lines.push(
    `host: EEH ${he.enabled ? 'on' : 'off'}, max_freezes ${he.maxFreezes}; ${plural(Number(he.slotResets), 'frozen PE')} found, ${he.recovered} recovered, ${he.permFailures} failed, ${he.falsePositives} false positives; ${d.host.recoveries.length} recover${d.host.recoveries.length === 1 ? 'y' : 'ies'} by the host`,
  );
  for (const dev of hostDevs) {
    if (dev.status === 'unaffected' && !dev.checks && !d.host.workloads.length) continue;
    lines.push(
      `  ${dev.device}: ${dev.status}${dev.cause ? ` (${dev.cause})` : ''}${dev.recoveryNs !== undefined ? ` in ${formatNs(dev.recoveryNs)}` : ''}; ${plural(dev.checks, 'check')}, ${dev.falsePositives} false positives; ${plural(dev.integrity.retriedIos, 'I/O')} retried, ${dev.integrity.lostIos} lost`,
    );
  }
  for (const rec of d.host.recoveries) {
    lines.push(
      rec.inProgress
        ? `  recovery of ${rec.pe}: ${at(rec.startNs)} .. still running at the end of the run ${at(rec.endNs)}`
        : `  recovery of ${rec.pe}: ${at(rec.startNs)} .. ${at(rec.endNs)}: ${rec.outcome} (${rec.reset ? 'PE reset' : 'no reset'}${rec.hotplug ? ', remove + rescan' : ''})`,
    );
  }
  lines.push(`  charged time by layer: ${layersLine(d.host.layers) || '-'}`);
  if (r.steps.length) {
    lines.push('steps:');
    for (const st of r.steps) {
      const step = s.steps[st.index];
      lines.push(
        `  ${step ? at(step.at) : ''}  ${st.id ? `[${st.id}] ` : ''}rc ${st.rc}${st.rets?.length ? ` rets [${st.rets.join(', ')}]` : ''}`,
      );
    }
  }
  const overridden = d.costs.filter((c) => c.source.startsWith('override'));
  if (overridden.length) {
    lines.push(
      `costs overridden: ${overridden.map((c) => `${c.name} ${formatNs(c.ns)}`).join(', ')} (--json: the whole table)`,
    );
  }
  return lines.join('\n');
}
