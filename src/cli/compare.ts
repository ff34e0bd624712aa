/**
 * `eehsim compare <scenario> [--designs d,a,a-realmode,a-vfio] [--json]`:
 * the same scenario (same seed) run once per design on the machine, and
 * per design what the 2013 discussion argues about - the guest's state
 * query cost (ibm,read-slot-reset-state2, rtas_call() entry to return, from
 * the guest kernel's RTAS accounting), exits to the VMM, in-kernel RTAS
 * calls, detection latency (the `+notify` designs' point: hardware freeze
 * to the guest's isolation of the PE), recovery time, silent reads - with
 * the state-query cost as a
 * ratio of design d's, measured in the same invocation (d is run for the
 * ratio even when not listed).
 */

import { writeFileSync } from 'node:fs';
import type { MachineDetails } from '../machine/result.js';
import { runScenario } from '../machine/runner.js';
import { loadScenario } from '../scenario/builtin.js';
import { validateScenario } from '../scenario/load.js';
import type { RunResult } from '../scenario/result.js';
import { DESIGNS, type DesignName, type Scenario } from '../scenario/schema/index.js';
import { LAYERS, type Layer } from '../sim/layers.js';
import { formatNs, type Ns } from '../sim/time.js';
import { renderCompareSvg } from './chart.js';
import { type CliIo, EXIT, usage } from './io.js';

export const DEFAULT_COMPARE_DESIGNS: readonly DesignName[] = ['d', 'a', 'a-realmode', 'a-vfio'];

export interface CompareRow {
  design: DesignName;
  /** Guest state queries (all guests) and their mean time, rtas_call() entry to return. */
  stateQueries: number;
  stateQueryMeanNs: Ns;
  /** KVM_RUN returns to the VMM (all guests). */
  exits: number;
  /** Of which ibm,read-slot-reset-state2. */
  stateQueryExits: number;
  /** exits / state queries (null without queries). */
  exitsPerQuery: number | null;
  /** H_RTAS calls answered inside KVM. */
  inKernelRtas: number;
  /**
   * Detection latency: from each guest recovery's freeze (the last PHB error
   * at or before it) to its start (= the guest isolating the PE), mean over
   * the guest recoveries (null: none).
   */
  detectNs: Ns | null;
  /** Longest recovery of a device (null: nothing recovered). */
  recoveryNs: Ns | null;
  /** Silent reads + DMA mismatches (what `run` prints as `silent`). */
  silentReads: number;
  /** `vm stopped` when a VMM stopped its guest (design `aer`), else the worst device status. */
  outcome: string;
  /** Scenario time of the first guest stop (null: no guest stopped). */
  stoppedNs: Ns | null;
  /** I/Os lost, all devices. */
  lostIos: number;
  /** stateQueryMeanNs / design d's in the same invocation (null when either has no query). */
  vsD: number | null;
  /**
   * Charged virtual time per layer over the whole run, all VMs' processes
   * plus the host's (the accounting has no per-query split), in LAYERS order.
   */
  layerNs: Partial<Record<Layer, Ns>>;
}

const STATE_QUERY = 'ibm,read-slot-reset-state2';

/** One row from a machine run's result and details. */
export function compareRow(
  design: DesignName,
  r: RunResult,
  details: MachineDetails,
): Omit<CompareRow, 'vsD'> {
  let queries = 0;
  let queryNs = 0;
  let exits = 0;
  let stateQueryExits = 0;
  let inKernel = 0;
  for (const g of details.guests) {
    queries += g.stateQuery.calls;
    queryNs += g.stateQuery.calls * g.stateQuery.meanNs;
    exits += g.exits;
    stateQueryExits += g.rtas[STATE_QUERY]?.exits ?? 0;
    for (const t of Object.values(g.rtas)) inKernel += t.calls - t.exits;
  }
  const rec = r.devices.flatMap((d) => (d.recoveryNs === undefined ? [] : [d.recoveryNs]));
  const detect: Ns[] = [];
  for (const g of details.guests) {
    for (const rc of g.recoveries) {
      const freezes = details.hwErrors.filter((e) => e.t <= rc.startNs);
      const last = freezes[freezes.length - 1];
      if (last) detect.push(rc.startNs - last.t);
    }
  }
  return {
    design,
    stateQueries: queries,
    stateQueryMeanNs: queries ? Math.round(queryNs / queries) : 0,
    exits,
    stateQueryExits,
    exitsPerQuery: queries ? exits / queries : null,
    inKernelRtas: inKernel,
    detectNs: detect.length ? Math.round(detect.reduce((a, b) => a + b, 0) / detect.length) : null,
    recoveryNs: rec.length ? Math.max(...rec) : null,
    silentReads: r.devices.reduce(
      (n, d) => n + d.integrity.silentReads + d.integrity.dmaMismatches,
      0,
    ),
    ...outcomeOf(r),
    layerNs: layerTotals(details),
  };
}

/** Charged time per layer, the VMs' processes and the host together, in LAYERS order. */
function layerTotals(details: MachineDetails): Partial<Record<Layer, Ns>> {
  const owners = [...details.guests.map((g) => g.layers), details.host.layers];
  const out: Partial<Record<Layer, Ns>> = {};
  for (const l of LAYERS) {
    const ns = owners.reduce((n, o) => n + (o[l]?.ns ?? 0), 0);
    if (owners.some((o) => o[l])) out[l] = ns;
  }
  return out;
}

const STATUS_ORDER = ['unaffected', 'recovered', 'frozen', 'failed', 'disabled'];

function outcomeOf(r: RunResult): Pick<CompareRow, 'outcome' | 'stoppedNs' | 'lostIos'> {
  const stops = (r.stoppedGuests ?? []).map((g) => g.atNs);
  const worst = r.devices.reduce(
    (w, d) => (STATUS_ORDER.indexOf(d.status) > STATUS_ORDER.indexOf(w) ? d.status : w),
    'unaffected',
  );
  return {
    outcome: stops.length ? 'vm stopped' : worst,
    stoppedNs: stops.length ? Math.min(...stops) : null,
    lostIos: r.devices.reduce((n, d) => n + d.integrity.lostIos, 0),
  };
}

/** Runs `s` once per design (the scenario's seed) and returns one row each, in the order given. */
export function compareDesigns(s: Scenario, designs: readonly DesignName[]): CompareRow[] {
  const run = (d: DesignName) => {
    const sd = validateScenario({ ...s, design: d }, `design ${d}`);
    const out = runScenario(sd, { trace: false });
    const result = out.result as RunResult & { details: MachineDetails };
    return compareRow(d, result, result.details);
  };
  const rows = designs.map(run);
  const d = rows.find((r) => r.design === 'd') ?? run('d');
  return rows.map((r) => ({
    ...r,
    vsD:
      r.stateQueries && d.stateQueries && d.stateQueryMeanNs
        ? r.stateQueryMeanNs / d.stateQueryMeanNs
        : null,
  }));
}

export function parseDesigns(text: string | undefined): DesignName[] {
  if (text === undefined) return [...DEFAULT_COMPARE_DESIGNS];
  const out: DesignName[] = [];
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (!(DESIGNS as readonly string[]).includes(name)) {
      throw usage(`--designs: unknown design '${name}' (known: ${DESIGNS.join(', ')})`);
    }
    if (!out.includes(name as DesignName)) out.push(name as DesignName);
  }
  if (!out.length) throw usage('--designs: no design given');
  return out;
}

export function formatCompare(s: Scenario, rows: readonly CompareRow[]): string {
  const head = [
    'design',
    'state query',
    'queries',
    'exits',
    'exits/query',
    'query exits',
    'in-kernel RTAS',
    'detect',
    'recovery',
    'outcome',
    'lost I/O',
    'silent',
    'query vs d',
  ];
  const body = rows.map((r) => [
    r.design,
    r.stateQueries ? formatNs(r.stateQueryMeanNs) : '-',
    String(r.stateQueries),
    String(r.exits),
    r.exitsPerQuery === null ? '-' : r.exitsPerQuery.toFixed(2),
    String(r.stateQueryExits),
    String(r.inKernelRtas),
    r.detectNs === null ? '-' : formatNs(r.detectNs),
    r.recoveryNs === null ? '-' : formatNs(r.recoveryNs),
    r.stoppedNs === null ? r.outcome : `${r.outcome} at ${formatNs(r.stoppedNs)}`,
    String(r.lostIos),
    String(r.silentReads),
    r.vsD === null ? '-' : `${r.vsD.toFixed(2)}x`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(w[i] as number) : c.padStart(w[i] as number)))
      .join('  ')
      .trimEnd();
  return [
    `eehsim compare: scenario ${s.name}, seed ${s.seed}, one run per design`,
    line(head),
    ...body.map(line),
    "state query: mean guest rtas_call() time of ibm,read-slot-reset-state2; exits: KVM_RUN returns to the VMM (all guests); detect: PHB freeze -> the guest isolates the PE (mean); outcome: worst device status, or when the VMM stopped the guest (aer); silent: all-1s reads taken as data while frozen + DMA mismatches; query vs d: state-query time / design d's",
  ].join('\n');
}

/** `default cost table`, or the scenario's overrides of it. */
export function costTableNote(s: Scenario): string {
  const o = Object.entries(s.costs);
  if (!o.length) return 'default cost table';
  return `cost table: defaults + ${o.map(([k, v]) => `${k}=${String(v)}`).join(', ')}`;
}

export async function cmdCompare(
  ref: string,
  o: { designs?: string; json?: boolean; svg?: string },
  io: CliIo,
): Promise<number> {
  const designs = parseDesigns(o.designs);
  const { scenario } = loadScenario(ref);
  const rows = compareDesigns(scenario, designs);
  if (o.svg !== undefined) {
    const svg = renderCompareSvg({
      scenario: scenario.name,
      seed: scenario.seed,
      costs: costTableNote(scenario),
      rows,
    });
    try {
      writeFileSync(o.svg, svg);
    } catch (err) {
      throw usage(`--svg: cannot write ${o.svg}: ${(err as Error).message}`);
    }
  }
  if (o.json) {
    io.out(`${JSON.stringify({ scenario: scenario.name, seed: scenario.seed, rows }, null, 2)}\n`);
  } else {
    io.out(`${formatCompare(scenario, rows)}\n`);
  }
  return EXIT.OK;
}
