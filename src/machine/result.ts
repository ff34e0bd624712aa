/**
 * The result of a machine run, in the shape the CLI, the expectations and
 * the campaigns read (src/scenario/result.ts), plus `details`: what each
 * layer counted (exits, RTAS calls, VFIO ops, time per layer, host EEH
 * statistics) and the cost table in force.
 *
 * Per device:
 * - a device passed through is judged by its guest kernel (the owner of
 *   its recovery): the guest's per-device summary (src/guest/integrity.ts),
 *   merged over the functions of a multi-function device;
 * - a host device by the host kernel's EEH core and its testnic driver;
 * - either way, a device whose PE is still stopped at the PHB at the end
 *   is `frozen`, whatever its owner believes.
 */
import { type GuestDeviceResult, summarize } from '../guest/integrity.js';
import type { Pe } from '../hw/pe.js';
import type { Phb } from '../hw/phb.js';
import { EEH_PE_ISOLATED, EEH_PE_RECOVERING, EEH_PE_REMOVED } from '../kernel/eeh_consts.js';
import type { RecoveryRecord } from '../kernel/eeh_driver.js';
import type {
  DeviceOutcome,
  DeviceStatus,
  FinalPeState,
  Integrity,
  RunResult,
  StoppedGuest,
} from '../scenario/result.js';
import type { CostTally } from '../sim/accounting.js';
import type { Layer } from '../sim/layers.js';
import type { Ns } from '../sim/time.js';
import {
  RTAS_EEH_PE_STATE_NORMAL,
  RTAS_EEH_PE_STATE_RESET,
  RTAS_EEH_PE_STATE_STOPPED_DMA,
  RTAS_EEH_PE_STATE_STOPPED_IO_DMA,
  RTAS_EEH_PE_STATE_UNAVAIL,
} from '../uapi/rtas.js';
import type { FaultEvent, Machine, MachineGuest } from './machine.js';
import type { HostWorkloadStats } from './workloads.js';

/** The PE state of the hardware, in the numbering read-slot-reset-state2 and VFIO use. */
export function hwPeState(phb: Phb, pe: Pe): 0 | 1 | 2 | 4 | 5 {
  if (phb.dead) return RTAS_EEH_PE_STATE_UNAVAIL;
  if (pe.reset !== undefined || phb.inReset) return RTAS_EEH_PE_STATE_RESET;
  if (phb.fenced || (pe.mmioFrozen && pe.dmaFrozen)) return RTAS_EEH_PE_STATE_STOPPED_IO_DMA;
  if (pe.dmaFrozen) return RTAS_EEH_PE_STATE_STOPPED_DMA;
  // MMIO stopped with DMA running has no number of its own (eeh_pe_get_state: "otherwise 5").
  if (pe.mmioFrozen) return RTAS_EEH_PE_STATE_UNAVAIL;
  return RTAS_EEH_PE_STATE_NORMAL;
}

const STATUS_RANK: Record<DeviceStatus, number> = {
  unaffected: 0,
  recovered: 1,
  frozen: 2,
  failed: 3,
  disabled: 4,
};

function integrityOf(c: Integrity): Integrity {
  return {
    silentReads: c.silentReads,
    dmaMismatches: c.dmaMismatches,
    droppedWrites: c.droppedWrites,
    retriedIos: c.retriedIos,
    lostIos: c.lostIos,
  };
}

/** One outcome from the guest results of the functions of a device. */
function mergeGuest(ref: string, owner: string, rs: readonly GuestDeviceResult[]): DeviceOutcome {
  const worst = rs.reduce((a, b) => (STATUS_RANK[b.status] > STATUS_RANK[a.status] ? b : a));
  const out: DeviceOutcome = {
    device: ref,
    owner,
    status: worst.status,
    freezes: Math.max(...rs.map((r) => r.freezes)),
    checks: rs.reduce((n, r) => n + r.checks, 0),
    falsePositives: rs.reduce((n, r) => n + r.falsePositives, 0),
    integrity: rs.reduce<Integrity>(
      (t, r) => {
        const i = integrityOf(r.integrity);
        return {
          silentReads: t.silentReads + i.silentReads,
          dmaMismatches: t.dmaMismatches + i.dmaMismatches,
          droppedWrites: t.droppedWrites + i.droppedWrites,
          retriedIos: t.retriedIos + i.retriedIos,
          lostIos: t.lostIos + i.lostIos,
        };
      },
      { silentReads: 0, dmaMismatches: 0, droppedWrites: 0, retriedIos: 0, lostIos: 0 },
    ),
  };
  if (worst.cause !== undefined) out.cause = worst.cause;
  const times = rs.flatMap((r) => (r.recoveryNs === undefined ? [] : [r.recoveryNs]));
  if (times.length) out.recoveryNs = Math.max(...times);
  return out;
}

/** A host-owned device: the host EEH core's recoveries of its PE, the host workloads' I/O counts. */
function hostOutcome(m: Machine, ref: string): DeviceOutcome {
  const view = m.ownerView(ref);
  const pe = view.pe;
  const pdevs = m.host.resolve(m.hostAddress(ref));
  const names = new Set(pdevs.map((p) => p.name));
  const io = m.hostWorkloads.map((w) => w.stats).filter((s) => names.has(s.device));
  const sum = (k: keyof HostWorkloadStats): number => io.reduce((n, s) => n + (s[k] as number), 0);
  const r = summarize({
    name: ref,
    owner: 'host',
    driver: pdevs[0]?.driver?.name ?? '-',
    // check_failure runs that asked for the state (false positives, detections)
    // or found the PE already isolated; MODEL: a recovery started by the
    // error-interrupt poller rather than a check is counted as one too.
    checks: pe ? pe.falsePositives + pe.checkCount + view.recoveries.length : 0,
    falsePositives: pe?.falsePositives ?? 0,
    inError: !!pe && (pe.state & (EEH_PE_ISOLATED | EEH_PE_RECOVERING)) !== 0,
    removed: !!pe && (pe.state & EEH_PE_REMOVED) !== 0,
    recoveries: view.recoveries,
    freezeLimitHit: view.recoveries.some(
      (x) => x.outcome === 'failed' && x.freezeCount > m.host.eeh.maxFreezes,
    ),
    integrity: {
      silentReads: 0,
      dmaMismatches: sum('dmaMismatches'),
      dmaOk: sum('dmaOk'),
      droppedWrites: 0,
      retriedIos: sum('retried'),
      lostIos: sum('lost'),
      completedIos: sum('completed'),
      legitAllOnes: sum('allOnes'),
    },
  });
  return mergeGuest(ref, 'host', [r]);
}

/** Final state of each device's PE: `disabled` when its owner gave it up, else the hardware's. */
function finalState(m: Machine, ref: string): FinalPeState {
  const pe = m.ownerView(ref).pe;
  if (pe && pe.state & EEH_PE_REMOVED) return 'disabled';
  const fn = m.functionOf(ref);
  const phb = m.hw.phbOf(fn);
  return hwPeState(phb, phb.peOf(fn));
}

/**
 * A device of a guest its VMM stopped: `failed` (cause `vm-stopped`),
 * whatever the guest believed; the I/O its workloads had in flight when
 * the guest stopped running never completes and is counted lost.
 */
function vmStopped(out: DeviceOutcome, g: MachineGuest): void {
  const addrs = new Set(
    g.passthrough.filter((p) => p.ref === out.device).map((p) => p.guestAddress),
  );
  for (const w of g.workloads) {
    const s = w.stats;
    if (!addrs.has(s.device)) continue;
    out.integrity.lostIos += Math.max(0, s.issued - s.completed - s.lost);
  }
  out.status = 'failed';
  out.cause = 'vm-stopped';
  delete out.recoveryNs;
}

export function deviceOutcomes(m: Machine): {
  devices: DeviceOutcome[];
  peStates: Record<string, FinalPeState>;
} {
  const devices: DeviceOutcome[] = [];
  const peStates: Record<string, FinalPeState> = {};
  for (const d of m.index.all) {
    const g = m.guests.find((x) => x.passthrough.some((p) => p.ref === d.ref));
    let out: DeviceOutcome;
    if (g) {
      const addrs = new Set(
        g.passthrough.filter((p) => p.ref === d.ref).map((p) => p.guestAddress),
      );
      const rs = g.kernel.results().filter((r) => addrs.has(r.device));
      out = rs.length
        ? mergeGuest(d.ref, g.name, rs)
        : {
            device: d.ref,
            owner: g.name,
            status: 'unaffected',
            freezes: 0,
            checks: 0,
            falsePositives: 0,
            integrity: {
              silentReads: 0,
              dmaMismatches: 0,
              droppedWrites: 0,
              retriedIos: 0,
              lostIos: 0,
            },
          };
    } else {
      out = hostOutcome(m, d.ref);
    }
    const state = finalState(m, d.ref);
    peStates[d.ref] = state;
    const pe = m.ownerView(d.ref).pe;
    if (pe && pe.state & EEH_PE_RECOVERING && !(pe.state & EEH_PE_REMOVED)) {
      // The owner's recovery was still running when the run ended.
      out.status = 'frozen';
      out.cause = 'still recovering at the end of the run';
      delete out.recoveryNs;
    } else if (
      state !== 'disabled' &&
      state !== 0 &&
      (out.status === 'unaffected' || out.status === 'recovered')
    ) {
      out.status = 'frozen';
      out.cause = `PE still stopped at the end (state ${state})`;
      delete out.recoveryNs;
    }
    if (g?.vmm.stats.stopped) vmStopped(out, g);
    devices.push(out);
  }
  return { devices, peStates };
}

// ---------------------------------------------------------------------------
// details

export interface RtasCallDetail {
  /** H_RTAS calls of this service (in-kernel + exits). */
  calls: number;
  /** Of which exited to the VMM. */
  exits: number;
  /** Virtual time from the hypercall's entry to the guest's resumption, all calls. */
  ns: Ns;
  meanNs: Ns;
  /** RTAS status values the VMM returned, by status. */
  statuses: Record<string, number>;
}

export interface GuestDetails {
  name: string;
  /** KVM_RUN returns to the VMM (every one an exit of the guest). */
  exits: number;
  /** Virtual time from the exits to the guest's resumption. */
  exitNs: Ns;
  hcalls: Record<string, { calls: number; exits: number; ns: Ns }>;
  rtas: Record<string, RtasCallDetail>;
  /** VFIO_EEH_PE_OP ops the VMM issued, by op. */
  vfioEehOps: Record<string, number>;
  tce: { maps: number; unmaps: number; errors: number };
  /** ibm,read-slot-reset-state2 as the guest kernel sees it (rtas_call() entry to return). */
  stateQuery: { calls: number; meanNs: Ns };
  /** Charged virtual time of the VM's processes per layer. */
  layers: Partial<Record<Layer, CostTally>>;
  recoveries: MachineRecovery[];
  eeh: ReturnType<MachineGuest['kernel']['kernel']['snapshot']>['eehStats'];
  hotplug: { removes: number; adds: number };
  workloads: Array<Record<string, unknown>>;
}

/**
 * Times in the details are scenario times (from the end of the set-up);
 * add `setupNs` for the trace's absolute virtual time.
 */
export interface MachineDetails {
  /** Virtual time of scenario time 0 (host boot and VMM starts before it). */
  setupNs: Ns;
  design: { name: string; wiring: string };
  faults: FaultEvent[];
  /** Errors the PHBs logged (time in scenario time). */
  hwErrors: Array<{ t: Ns; phb: number; pe: number; source: string; kind: string }>;
  /** Freezes per hardware PE (`PHB#n-PE#m`). */
  hwFreezes: Record<string, number>;
  guests: GuestDetails[];
  host: {
    eeh: Record<string, number | boolean>;
    recoveries: MachineRecovery[];
    layers: Partial<Record<Layer, CostTally>>;
    workloads: HostWorkloadStats[];
  };
  costs: Array<{ name: string; ns: Ns; layer: string; source: string }>;
}

/** A recovery record with its times in scenario time. */
/**
 * A recovery in scenario time. One still running when the run ended (the
 * EEH core fills `result` and `endNs` when it finishes) is `inProgress`,
 * with `endNs` the end of the run.
 */
export interface MachineRecovery extends RecoveryRecord {
  inProgress: boolean;
}

function inScenarioTime(m: Machine, r: RecoveryRecord): MachineRecovery {
  const inProgress = r.result === '';
  return {
    ...r,
    startNs: r.startNs - m.t0,
    endNs: (inProgress ? m.sim.now : r.endNs) - m.t0,
    inProgress,
  };
}

function guestDetails(m: Machine, g: MachineGuest): GuestDetails {
  const s = g.vm.stats.summary();
  const vs = g.vmm.stats;
  const rtas: Record<string, RtasCallDetail> = {};
  for (const [name, t] of Object.entries(s.byRtas)) {
    const calls = t.inKernel + t.exits;
    rtas[name] = {
      calls,
      exits: t.exits,
      ns: t.ns,
      meanNs: calls ? Math.round(t.ns / calls) : 0,
      statuses: { ...(vs.rtas.get(name)?.statuses ?? {}) },
    };
  }
  const snap = g.kernel.kernel.snapshot();
  const q = snap.rtas['ibm,read-slot-reset-state2'];
  return {
    name: g.name,
    exits: s.exits,
    exitNs: s.exitNs,
    hcalls: s.byHcall,
    rtas,
    vfioEehOps: Object.fromEntries(vs.eehOps),
    tce: { maps: vs.tceMaps, unmaps: vs.tceUnmaps, errors: vs.tceErrors },
    stateQuery: { calls: q?.calls ?? 0, meanNs: q?.calls ? Math.round(q.ns / q.calls) : 0 },
    layers: m.sim.accounting.layersOf(g.name),
    recoveries: snap.recoveries.map((r) => inScenarioTime(m, r)),
    eeh: snap.eehStats,
    hotplug: snap.hotplug,
    workloads: g.workloads.map((w) => {
      const rel = (t: Ns | undefined) => (t === undefined ? null : t - m.t0);
      return { ...w.stats, startedNs: rel(w.stats.startedNs), finishedNs: rel(w.stats.finishedNs) };
    }),
  };
}

export function machineDetails(m: Machine): MachineDetails {
  const hwFreezes: Record<string, number> = {};
  for (const phb of m.hw.phbs) {
    for (const pe of phb.pes()) {
      if (pe.stats.freezes) hwFreezes[`PHB#${phb.id}-PE#${pe.number}`] = pe.stats.freezes;
    }
  }
  return {
    setupNs: m.t0,
    design: { name: m.design.name, wiring: m.design.wiring().name },
    faults: [...m.faultLog],
    hwErrors: m.hwErrors.map((e) => ({ ...e })),
    hwFreezes,
    guests: m.guests.map((g) => guestDetails(m, g)),
    host: {
      eeh: { enabled: m.host.eeh.enabled, maxFreezes: m.host.eeh.maxFreezes, ...m.host.eeh.stats },
      recoveries: m.host.eeh.recoveries.map((r) => inScenarioTime(m, r)),
      layers: m.sim.accounting.layersOf('host'),
      workloads: m.hostWorkloads.map((w) => ({ ...w.stats })),
    },
    costs: m.sim.costs
      .table()
      .map((c) => ({ name: c.name, ns: c.ns, layer: c.layer, source: c.source })),
  };
}

/** The run's result (call after `machine.run()`). */
export function machineResult(m: Machine): RunResult & { details: MachineDetails } {
  const { devices, peStates } = deviceOutcomes(m);
  return {
    scenario: m.scenario.name,
    seed: m.scenario.seed,
    design: m.scenario.design,
    endNs: m.now,
    devices,
    steps: m.stepResults.map((s) => ({ ...s })),
    peStates,
    ...stoppedGuests(m),
    details: machineDetails(m),
  };
}

/** `stoppedGuests` of the result, when a VMM stopped its guest. */
function stoppedGuests(m: Machine): { stoppedGuests?: StoppedGuest[] } {
  const out = m.guests.flatMap((g) => {
    const s = g.vmm.stats.stopped;
    return s ? [{ guest: g.name, atNs: s.at - m.t0, reason: s.reason }] : [];
  });
  return out.length ? { stoppedGuests: out } : {};
}
