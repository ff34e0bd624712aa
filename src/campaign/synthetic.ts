/**
 * The `synthetic` runner: a small, deterministic stand-in for the machine,
 * used to test and measure the interface layer (campaigns, worker pools,
 * Redis queues, trace export, expectations) before the machine exists.
 *
 * It does NOT model EEH. It reads the scenario, derives plausible outcomes
 * from simple rules (driver behaviour, fault kind, reset costs, freeze
 * limit) plus the seeded RNG, and writes a trace with spans on every layer.
 * Its only promises: results depend on the variant (fault time, kind,
 * target, driver, design, costs, seed) and the same scenario gives the same
 * result and trace.
 */

import {
  type DeviceOutcome,
  type FinalPeState,
  NO_INTEGRITY_ISSUES,
  type RunResult,
  type StepOutcome,
} from '../scenario/result.js';
import type { RunOptions, RunOutput, ScenarioRunner } from '../scenario/runner.js';
import { DeviceIndex, parseDesign, type Scenario } from '../scenario/schema/index.js';
import { CostModel } from '../sim/costs.js';
import { LAYERS } from '../sim/layers.js';
import { Rng } from '../sim/rng.js';
import { NS_PER_MS as MS, type Ns } from '../sim/time.js';
import type { Fields, Phase, TraceRecord } from '../sim/trace.js';

/** nargs / nret of the EEH RTAS calls (eeh-facts.md section 2). */
const RTAS_SHAPE: Record<string, [number, number[]]> = {
  'ibm,set-eeh-option': [4, [1]],
  'ibm,get-config-addr-info2': [4, [2]],
  'ibm,read-slot-reset-state2': [3, [4, 5]],
  'ibm,set-slot-reset': [4, [1]],
  'ibm,configure-pe': [3, [1]],
  'ibm,slot-error-detail': [8, [1]],
};

interface Ev {
  t: Ns;
  order: number;
  ph: Phase;
  name: string;
  owner: string;
  fields: Fields;
}

class Recorder {
  readonly events: Ev[] = [];
  private order = 0;
  constructor(readonly on: boolean) {}
  i(t: Ns, owner: string, name: string, fields: Fields = {}): void {
    if (this.on) this.events.push({ t, order: this.order++, ph: 'i', name, owner, fields });
  }
  /** A span [t0, t1] with nested children recorded by `inner`. */
  span(
    t0: Ns,
    t1: Ns,
    owner: string,
    name: string,
    fields: Fields,
    end: Fields,
    inner?: () => void,
  ): void {
    if (!this.on) return;
    this.events.push({ t: t0, order: this.order++, ph: 'B', name, owner, fields });
    inner?.();
    this.events.push({ t: t1, order: this.order++, ph: 'E', name, owner, fields: end });
  }
  records(): TraceRecord[] {
    return this.events
      .slice()
      .sort((a, b) => a.t - b.t || a.order - b.order)
      .map((e, seq) => ({ seq, t: e.t, ph: e.ph, name: e.name, owner: e.owner, fields: e.fields }));
  }
}

interface DeviceInfo {
  name: string;
  bdf: string;
  owner: string;
  driver: string;
  interval: Ns | undefined;
  start: Ns;
}

export const syntheticRunner: ScenarioRunner = (s: Scenario, opts: RunOptions): RunOutput => {
  const rng = new Rng(s.seed).fork('synthetic');
  const costs = new CostModel(s.costs);
  const design = parseDesign(s.design);
  const rec = new Recorder(opts.trace);

  const index = new DeviceIndex(s.topology);
  const devices = new Map<string, DeviceInfo>();
  for (const d of index.endpoints()) {
    devices.set(d.ref, {
      name: d.ref,
      bdf: d.address,
      owner: 'host',
      driver: 'host',
      interval: undefined,
      start: 0,
    });
  }
  const byRef = { get: (ref: string): string | undefined => index.resolve(ref)?.ref };
  for (const g of s.guests) {
    for (const p of g.phbs) {
      for (const gd of p.devices) {
        const dev = devices.get(byRef.get(gd.device.toLowerCase()) ?? byRef.get(gd.device) ?? '');
        if (dev) {
          dev.owner = g.name;
          dev.driver = gd.driver;
        }
      }
    }
  }
  for (const w of s.workloads) {
    const dev = devices.get(byRef.get(w.device) ?? byRef.get(w.device.toLowerCase()) ?? '');
    if (dev && dev.interval === undefined) {
      dev.interval = w.interval;
      dev.start = w.start;
    }
  }

  const outcome = new Map<string, DeviceOutcome>();
  for (const d of devices.values()) {
    outcome.set(d.name, {
      device: d.name,
      owner: d.owner,
      status: 'unaffected',
      freezes: 0,
      checks: 0,
      falsePositives: 0,
      integrity: { ...NO_INTEGRITY_ISSUES },
    });
  }
  const peState = new Map<string, FinalPeState>([...devices.keys()].map((n) => [n, 0]));
  const hold = costs.ns('pe_reset_hold');
  const settle = costs.ns('pe_reset_settle');
  const stateQuery =
    costs.ns('guest_rtas_entry') +
    costs.ns('hcall_kernel') +
    (design.mapping === 'd' ? costs.ns('exit_to_userspace') + costs.ns('qemu_rtas_dispatch') : 0) +
    costs.ns('syscall_ioctl') +
    costs.ns('opal_call_null');
  const busyUntil = new Map<string, Ns>();

  for (const [fi, f] of s.faults.entries()) {
    const name = byRef.get(f.target) ?? byRef.get(f.target.toLowerCase());
    const dev = name ? devices.get(name) : undefined;
    const out = name ? outcome.get(name) : undefined;
    if (!dev || !out) continue;
    const first = f.at ?? dev.start + (f.after_ops ?? 1) * (dev.interval ?? 10_000);
    for (let k = 0; k < f.count; k++) {
      const every = f.every ?? hold + settle + 500 * MS;
      const t = Math.max(first + k * every, busyUntil.get(dev.name) ?? 0);
      if (t >= s.run_for) break;
      if (f.kind === 'link-down') {
        const reads = dev.interval ? Math.floor((s.run_for - t) / dev.interval) : 0;
        out.checks += reads;
        out.falsePositives += reads;
        rec.i(t, 'host', 'hw.link.down', { dev: dev.bdf });
        continue;
      }
      if (out.status === 'disabled') break;
      out.freezes++;
      const owner = dev.owner;
      rec.i(t, 'host', 'hw.pe.freeze', { dev: dev.bdf, kind: f.kind, fault: fi });
      // Detection: the next workload access, or the host's poll.
      const detectDelay = dev.interval ? rng.int(0, dev.interval) : rng.int(1, 1000) * 1000;
      const detect = t + (design.notify ? Math.min(detectDelay, 5_000) : detectDelay);
      out.checks++;
      if (dev.driver === 'ignores-all-ones' && dev.interval) {
        out.integrity.silentReads += 1 + Math.floor((hold + settle) / dev.interval / 1000);
      }
      if (!design.notify && dev.interval && rng.float() < 0.05) {
        out.integrity.silentReads += 1; // read between freeze and detection consumed as data
      }
      const q0 = detect;
      const q1 = q0 + stateQuery;
      rec.span(
        q0,
        q1,
        owner,
        `${owner === 'host' ? 'host' : 'guest'}.eeh.check`,
        { dev: dev.bdf },
        { state: 2 },
        () => {
          if (owner === 'host') {
            rec.span(
              q0,
              q1,
              'host',
              'firmware.freeze_status',
              { dev: dev.bdf },
              { rc: 0, state: 3 },
            );
            return;
          }
          rec.span(q0, q1, owner, 'kvm.hcall', { nr: 0xf000 }, { rc: 0 }, () => {
            rec.span(
              q0,
              q1,
              owner,
              'vmm.rtas',
              { call: 'ibm,read-slot-reset-state2' },
              { status: 0 },
              () => {
                rec.span(
                  q0,
                  q1,
                  owner,
                  'vfio.ioctl',
                  { req: 'VFIO_EEH_PE_OP', op: 'GET_STATE' },
                  { rc: 2 },
                  () => {
                    rec.span(
                      q0,
                      q1,
                      owner,
                      'firmware.freeze_status',
                      { dev: dev.bdf },
                      { rc: 0, state: 3 },
                    );
                  },
                );
              },
            );
          });
        },
      );
      const layer = owner === 'host' ? 'host' : 'guest';
      const r0 = q1;
      const jitter = rng.int(0, 50) * MS;
      const r1 = r0 + hold + settle + jitter + (dev.driver === 'no-handlers' ? 100 * MS : 0);
      const limitHit = out.freezes > s.topology.host.max_freezes;
      rec.span(
        r0,
        Math.min(r1, s.run_for),
        owner,
        `${layer}.recovery`,
        { dev: dev.bdf },
        {},
        () => {
          rec.span(
            r0,
            Math.min(r0 + hold, s.run_for),
            owner,
            `${layer}.recovery.reset`,
            { option: 1 },
            {},
          );
        },
      );
      if (limitHit) {
        out.status = 'disabled';
        out.cause = 'freeze limit reached (eeh_max_freezes)';
        peState.set(dev.name, 'disabled');
        rec.i(r0, 'host', 'host.pe.disabled', { dev: dev.bdf });
        break;
      }
      if (r1 > s.run_for) {
        out.status = 'frozen';
        out.cause = 'still recovering at the end of the run';
        peState.set(dev.name, 2);
        break;
      }
      if (dev.driver === 'slot-reset-fails' || (f.kind === 'phb-fence' && rng.float() < 0.5)) {
        out.status = 'failed';
        out.cause =
          f.kind === 'phb-fence' ? 'PHB fence not cleared' : 'slot_reset returned DISCONNECT';
        out.integrity.lostIos += 1;
        peState.set(dev.name, 2);
        break;
      }
      out.status = 'recovered';
      out.recoveryNs = Math.max(out.recoveryNs ?? 0, r1 - t);
      out.integrity.retriedIos += 1;
      busyUntil.set(dev.name, r1);
      rec.i(r1, owner, `${layer}.recovery.resume`, { dev: dev.bdf });
    }
  }

  const steps: StepOutcome[] = s.steps.map((st, index) => {
    let rc = 0;
    let rets: number[] | undefined;
    if (st.kind === 'rtas') {
      const shape = typeof st.call === 'string' ? RTAS_SHAPE[st.call] : undefined;
      const nargs = st.nargs ?? st.args.length;
      rc = shape && shape[0] === nargs && shape[1].includes(st.nret) ? 0 : -3;
      rets = rc === 0 ? Array.from({ length: st.nret - 1 }, () => 0) : [];
      rec.span(
        st.at,
        st.at + stateQuery,
        st.guest,
        'vmm.rtas',
        { call: String(st.call) },
        { status: rc },
      );
    } else if (st.kind === 'vfio') {
      rec.span(
        st.at,
        st.at + costs.ns('syscall_ioctl'),
        st.guest,
        'vfio.ioctl',
        { req: String(st.request) },
        { rc },
      );
    } else {
      rec.i(st.at, 'host', `host.knob.${st.knob}`, { dev: st.device ?? null });
    }
    const o: StepOutcome = { index, rc };
    if (st.id !== undefined) o.id = st.id;
    if (rets !== undefined) o.rets = rets;
    return o;
  });

  // One event per layer at t=0 so every layer has a track.
  for (const l of LAYERS) rec.i(0, 'host', `${l}.synthetic.start`, {});

  const result: RunResult = {
    scenario: s.name,
    seed: s.seed,
    design: s.design,
    endNs: s.run_for,
    devices: [...outcome.values()],
    steps,
    peStates: Object.fromEntries(peState),
    details: { runner: 'synthetic' },
  };
  return { result, trace: rec.records() };
};
