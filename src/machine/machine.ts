/**
 * The end-to-end machine: every layer of eehsim assembled from a validated
 * scenario, the way a POWER host running KVM guests is put together.
 *
 * 1. `Sim` with the scenario's seed and cost overrides; the hardware from
 *    the topology (src/hw), OPAL firmware over it.
 * 2. The host kernel boots (PCI probe, PEs, IOMMU groups, drivers): devices
 *    passed through to a guest are bound to vfio-pci (driver_override),
 *    the others keep the host testnic driver. VFIO and KVM register their
 *    character devices.
 * 3. One VMM per guest, run as a host process owned by the guest's name:
 *    one virtual PHB per scenario PHB with its BUID (BUID =
 *    SPAPR_PCI_BASE_BUID + PHB index, as QEMU) and the one IOMMU group of
 *    its devices (QEMU's EEH needs one group per container, one container
 *    per PHB), wired by the scenario's design (designs.ts).
 * 4. At scenario time 0 (after the host booted and every VMM started) each
 *    guest kernel boots from its VMM's device tree with the guest driver
 *    behaviour of each device; workloads, faults (faults.ts) and raw steps
 *    (steps.ts) are scheduled relative to that time; the machine runs
 *    until `run_for`.
 *
 * Scenario times (`at`, `start`, `run_for`) count from scenario time 0;
 * the trace shows absolute virtual time (setup included).
 */
import { Opal } from '../firmware/opal.js';
import { type GuestHandle, startGuest } from '../guest/index.js';
import { pciName } from '../guest/kernel.js';
import type { WorkloadHandle } from '../guest/workloads/common.js';
import { HostKernel } from '../host/host_kernel.js';
import type { HostPciDev } from '../host/pci_dev.js';
import type { PciFunction } from '../hw/device.js';
import type { Hardware } from '../hw/hardware.js';
import { buildHardware } from '../hw/topology.js';
import { EEH_PE_ISOLATED, EEH_PE_RECOVERING, EEH_PE_REMOVED } from '../kernel/eeh_consts.js';
import type { EehPe } from '../kernel/eeh_dev.js';
import type { RecoveryRecord } from '../kernel/eeh_driver.js';
import { Kvm } from '../kvm/kvm.js';
import type { Vm } from '../kvm/vm.js';
import { ScenarioError, type ScenarioIssue } from '../scenario/load.js';
import type { StepOutcome } from '../scenario/result.js';
import { DeviceIndex, type PlacedDevice, type Scenario } from '../scenario/schema/index.js';
import { topologySpecOf } from '../scenario/to_machine.js';
import { CostModel } from '../sim/costs.js';
import { sleep, type Task } from '../sim/scheduler.js';
import { Sim } from '../sim/sim.js';
import { ms, type Ns } from '../sim/time.js';
import { Vfio } from '../vfio/vfio.js';
import { SPAPR_PCI_BASE_BUID } from '../vmm/spapr_pci.js';
import { type VirtualPhbConfig, Vmm } from '../vmm/vmm.js';
import { designOf, type MachineDesign } from './designs.js';
import { FAULT_ACTIONS, type FaultTarget } from './faults.js';
import {
  describeStep,
  knobStep,
  type Passthrough,
  rtasArgWord,
  rtasStep,
  StepError,
  type StepMachine,
  vfioStep,
} from './steps.js';
import {
  type HostWorkloadHandle,
  OpCounter,
  startGuestWorkload,
  startHostWorkload,
} from './workloads.js';
import './trace_events.js';

export interface MachineOptions {
  /** Record the trace (off: only counts are kept). */
  readonly trace?: boolean;
  /** Name of the scenario's source in error messages (default `scenario <name>`). */
  readonly source?: string;
  /**
   * Assemble and check only: workloads and steps are checked; nothing is
   * started (`eehsim inspect`: `bootGuests()`, then read the machine; layout.ts).
   */
  readonly setupOnly?: boolean;
}

/** QEMU's limit on sPAPR PHB indexes (SPAPR_MAX_PHBS). */
const MAX_PHB_INDEX = 255;
/** How often a repeated fault without `every` looks whether the last one was recovered. */
const RECOVERY_POLL = ms(1);

/** One guest: its VMM (a host process), its VM in KVM and its kernel. */
export interface MachineGuest {
  readonly name: string;
  readonly vmm: Vmm;
  readonly vm: Vm;
  readonly kernel: GuestHandle;
  readonly passthrough: readonly Passthrough[];
  readonly workloads: WorkloadHandle[];
}

/** A fault as it happened. */
export interface FaultEvent {
  /** Index in `faults`. */
  readonly fault: number;
  /** 1 for the first occurrence. */
  readonly n: number;
  /** Scenario time. */
  readonly t: Ns;
  readonly kind: string;
  readonly target: string;
  readonly how: string;
  readonly applied: boolean;
}

export class Machine implements StepMachine {
  readonly sim: Sim;
  readonly hw: Hardware;
  readonly opal: Opal;
  readonly host: HostKernel;
  readonly vfio: Vfio;
  readonly kvm: Kvm;
  readonly design: MachineDesign;
  readonly index: DeviceIndex;
  readonly guests: MachineGuest[] = [];
  readonly hostWorkloads: HostWorkloadHandle[] = [];
  readonly faultLog: FaultEvent[] = [];
  readonly stepResults: StepOutcome[] = [];
  /** Errors the PHBs logged, in virtual time (the hardware's error log outlives its clears). */
  private readonly hwErrorLog: Array<{
    at: Ns;
    phb: number;
    pe: number;
    source: string;
    kind: string;
  }> = [];
  /** Virtual time of scenario time 0 (after the host boot and the VMM starts). */
  readonly t0: Ns;
  private readonly counters = new Map<string, OpCounter>();
  /** Host function (`0000:00:01.0`) -> the virtual PHB the scenario passes it on (`guests[0].phbs[0]`). */
  private readonly virtualPhbOf = new Map<string, string>();
  private readonly source: string;
  private ran = false;

  constructor(
    readonly scenario: Scenario,
    opts: MachineOptions = {},
  ) {
    const s = scenario;
    this.source = opts.source ?? `scenario ${s.name}`;
    this.design = designOf(s.design, this.source);
    this.index = new DeviceIndex(s.topology);
    this.sim = new Sim({
      seed: s.seed,
      costs: new CostModel(s.costs),
      trace: opts.trace ?? true,
    });
    this.hw = buildHardware(this.sim, topologySpecOf(s));
    this.opal = new Opal(this.sim, this.hw);
    for (const phb of this.hw.phbs) {
      phb.onError((r) =>
        this.hwErrorLog.push({
          at: this.sim.now,
          phb: r.phb,
          pe: r.pe ?? -1,
          source: r.source,
          kind: r.kind,
        }),
      );
    }
    this.host = new HostKernel(this.sim, this.hw, this.opal, {
      vfio: s.guests.flatMap((g) => g.phbs.flatMap((p) => p.devices.map((d) => d.device))),
      maxFreezes: s.topology.host.max_freezes,
      ...(this.design.host?.notifyPassedFreeze ? { notifyPassedFreeze: true } : {}),
    });
    this.runToEnd('host boot', this.host.boot(), 'host');
    this.vfio = new Vfio(this.sim, this.host.vfioBackend());
    this.vfio.register(this.host.syscalls);
    // The design's host side (designs.ts): in-kernel services, experimental ABI.
    const dh = this.design.host;
    if (dh?.vfioArch) this.vfio.setPciArch(dh.vfioArch(this.sim));
    if (dh?.errorReporting) for (const phb of this.hw.phbs) phb.errorReporting = dh.errorReporting;
    this.kvm = new Kvm(this.sim, {
      memory: this.hw.memory,
      mmio: this.hw,
      ...(dh?.kvmServices ? { services: dh.kvmServices() } : {}),
      ...(dh?.experimentalEehMapping ? { experimentalEehMapping: true } : {}),
    });
    this.kvm.register(this.host.syscalls);

    s.guests.forEach((g, gi) => {
      g.phbs.forEach((p, pj) => {
        for (const d of p.devices) {
          for (const h of this.hostDevices(d.device))
            this.virtualPhbOf.set(h.name, `guests[${gi}].phbs[${pj}]`);
        }
      });
    });
    const vmms = s.guests.map((_g, gi) => this.startVmm(gi));
    this.t0 = this.sim.now;
    s.guests.forEach((g, gi) => {
      const vmm = vmms[gi] as Vmm;
      const vm = this.kvm.vmOf(vmm.proc, vmm.vmFd);
      if (!vm) throw new Error(`${g.name}: KVM has no VM for the VMM`);
      const passthrough = this.passthroughOf(g.name, vmm, vm);
      const drivers: Record<string, (typeof g.phbs)[number]['devices'][number]['driver']> = {};
      g.phbs.forEach((p) => {
        for (const d of p.devices) {
          const ref = this.refOf(d.device);
          for (const pt of passthrough.filter((x) => x.ref === ref))
            drivers[pt.guestAddress] = d.driver;
        }
      });
      const kernel = startGuest(this.sim, vm, {
        drivers,
        workloads: [],
        // MODEL: the scenario has one eeh_max_freezes (topology.host); each
        // guest kernel has its own in reality and gets the same value here.
        maxFreezes: s.topology.host.max_freezes,
        oracle: { mmioFrozen: (gpa) => this.mmioFrozen(vm, gpa) },
        ...(this.design.guestOps ? { opsFactory: this.design.guestOps } : {}),
        ...(this.design.guestAccessors ? { accessors: this.design.guestAccessors } : {}),
      });
      this.guests.push({ name: g.name, vmm, vm, kernel, passthrough, workloads: [] });
    });
    this.startWorkloads(!opts.setupOnly);
    this.checkSteps();
    if (!opts.setupOnly) {
      this.scheduleFaults();
      this.scheduleSteps();
    }
  }

  /** The errors the PHBs logged, in scenario time. */
  get hwErrors(): Array<{ t: Ns; phb: number; pe: number; source: string; kind: string }> {
    return this.hwErrorLog.map(({ at, ...e }) => ({ t: at - this.t0, ...e }));
  }

  // ---- set-up --------------------------------------------------------------------

  private fail(issues: ScenarioIssue[]): never {
    throw new ScenarioError(this.source, issues);
  }

  /** Runs a set-up task to completion (the machine is otherwise idle). */
  private runToEnd<T>(what: string, task: Task<T>, owner: string): T {
    const p = this.sim.spawn(what, task, owner);
    this.sim.run();
    if (!p.done) throw new Error(`${what} did not finish`);
    return p.result as T;
  }

  /** The canonical reference (name, else address) of a scenario device reference. */
  refOf(ref: string): string {
    return this.placed(ref).ref;
  }

  private placed(ref: string): PlacedDevice {
    const d = this.index.resolve(ref);
    if (!d) throw new Error(`no device '${ref}' in the topology`);
    return d;
  }

  /** The hardware function a scenario reference names (function 0 of a named device). */
  functionOf(ref: string): PciFunction {
    const d = this.placed(ref);
    const addr = /^[0-9a-f]{4}:/i.test(ref) ? ref.toLowerCase() : d.address;
    const f = this.hw.find(addr);
    if (!f) throw new Error(`no function ${addr} in the hardware`);
    return f.fn;
  }

  hostAddress(ref: string): string {
    return /^[0-9a-f]{4}:/i.test(ref) ? ref.toLowerCase() : this.placed(ref).address;
  }

  /** Host functions of a scenario reference: all functions of a named device, or the one addressed. */
  private hostDevices(ref: string): HostPciDev[] {
    return this.host.resolve(/^[0-9a-f]{4}:/i.test(ref) ? ref.toLowerCase() : ref);
  }

  /** The VMM of guest `gi`: virtual PHBs from the scenario, started as a process of the guest. */
  private startVmm(gi: number): Vmm {
    const g = this.scenario.guests[gi];
    if (!g) throw new Error(`no guest ${gi}`);
    const phbs: VirtualPhbConfig[] = [];
    const usedIndex = new Map<number, number>();
    g.phbs.forEach((p, pj) => {
      const path = `guests[${gi}].phbs[${pj}]`;
      const buid = p.buid === undefined ? SPAPR_PCI_BASE_BUID + BigInt(pj) : BigInt(p.buid);
      const index = Number(buid - SPAPR_PCI_BASE_BUID);
      if (buid < SPAPR_PCI_BASE_BUID || index > MAX_PHB_INDEX) {
        this.fail([
          {
            path: `${path}.buid`,
            message: `BUID 0x${buid.toString(16)} is not one QEMU gives a virtual PHB (SPAPR_PCI_BASE_BUID 0x${SPAPR_PCI_BASE_BUID.toString(16)} + index 0..${MAX_PHB_INDEX})`,
          },
        ]);
      }
      if (usedIndex.has(index)) {
        this.fail([{ path: `${path}.buid`, message: `BUID 0x${buid.toString(16)} is used twice` }]);
      }
      usedIndex.set(index, pj);
      const groups = new Map<number, string[]>();
      const devices: { host: string; slot?: number }[] = [];
      for (const d of p.devices) {
        for (const h of this.hostDevices(d.device)) {
          const list = groups.get(h.iommuGroup) ?? [];
          list.push(h.name);
          groups.set(h.iommuGroup, list);
          devices.push(d.slot === undefined ? { host: h.name } : { host: h.name, slot: d.slot });
        }
      }
      if (groups.size !== 1) {
        const which = [...groups].map(([id, devs]) => `group ${id}: ${devs.join(', ')}`).join('; ');
        this.fail([
          {
            path: `${path}.devices`,
            message: `the devices of one virtual PHB must be in one IOMMU group (QEMU: one group per VFIO container, one container per PHB, for EEH); here ${which} - give each group its own virtual PHB`,
          },
        ]);
      }
      const [group] = [...groups.keys()] as [number];
      // VFIO hands a group out only when every function of it is bound to
      // vfio-pci (src/vfio/group.ts): say which one is missing.
      const members = this.host.groups[group]?.pdevs ?? [];
      const elsewhere = members.filter((x) => (this.virtualPhbOf.get(x.name) ?? path) !== path);
      if (elsewhere.length) {
        const where = elsewhere.map((x) => `${x.name} on ${this.virtualPhbOf.get(x.name)}`);
        this.fail([
          {
            path: `${path}.devices`,
            message: `IOMMU group ${group} is split between virtual PHBs (${where.join(', ')}): a group goes to one virtual PHB of one guest (QEMU: one group per container)`,
          },
        ]);
      }
      const missing = members.filter((x) => !this.virtualPhbOf.has(x.name));
      if (missing.length) {
        this.fail([
          {
            path: `${path}.devices`,
            message: `IOMMU group ${group} also holds ${missing.map((x) => x.name).join(', ')}, which is not passed through (VFIO needs every function of a group bound to vfio-pci): pass it on the same virtual PHB`,
          },
        ]);
      }
      phbs.push({ index, iommuGroup: group, devices });
    });
    const vmm = new Vmm(
      this.sim,
      { syscalls: this.host.syscalls, memory: this.hw.memory, kvm: this.kvm },
      {
        name: g.name,
        ramSize: g.memory_mb * 2 ** 20,
        vcpus: g.vcpus,
        phbs,
        wiring: this.design.wiring(),
      },
    );
    const r = this.runToEnd(`${g.name}:qemu`, vmm.start(), g.name);
    if (!r.ok) {
      this.fail([
        {
          path: `guests[${gi}]`,
          message: `the VMM of ${g.name} failed to start at '${r.step}' (rc ${r.rc})`,
        },
      ]);
    }
    return vmm;
  }

  /** The passed-through functions of a started VMM, with the scenario devices they stand for. */
  private passthroughOf(guest: string, vmm: Vmm, vm: Vm): Passthrough[] {
    const out: Passthrough[] = [];
    for (const phb of vmm.phbs) {
      for (const dev of phb.devices) {
        const placed = this.index.resolve(dev.host);
        if (!placed) continue;
        out.push({
          ref: placed.ref,
          guest,
          vmm,
          vm,
          phb,
          dev,
          guestAddress: pciName(phb.index, dev.bdf),
          hostAddress: dev.host,
        });
      }
    }
    return out;
  }

  /** Integrity oracle: is MMIO to this guest-physical address blocked at the PHB right now? */
  private mmioFrozen(vm: Vm, gpa: number): boolean {
    // Slots never overlap: the one MMIO slot holding gpa, by binary search.
    const slot = vm.mmioSlotAt(gpa);
    if (!slot) return true;
    const hpa = slot.uaddr + (gpa - slot.gpa);
    const d = this.hw.phbAt(hpa)?.decode(hpa);
    // No BAR decodes it: the load would not reach a device either.
    return d ? d.pe.mmioStop : true;
  }

  counter(ref: string): OpCounter {
    const key = this.refOf(ref);
    let c = this.counters.get(key);
    if (!c) {
      c = new OpCounter(this.sim);
      this.counters.set(key, c);
    }
    return c;
  }

  /** Checks the workloads against the machine and, when `start`, starts them. */
  private startWorkloads(start: boolean): void {
    this.scenario.workloads.forEach((w, i) => {
      const counter = this.counter(w.device);
      const common = {
        kind: w.kind,
        startNs: this.t0 + w.start,
        intervalNs: w.interval,
        bytes: w.bytes,
        ...(w.ops !== undefined ? { ops: w.ops } : {}),
        ...(w.duration !== undefined ? { durationNs: w.duration } : {}),
      };
      if (w.guest !== undefined) {
        const g = this.guest(w.guest);
        const pt = this.passthrough(w.guest, w.device);
        if (!g || !pt) {
          this.fail([
            { path: `workloads[${i}].device`, message: `not passed through to ${w.guest}` },
          ]);
        }
        if (!start) return;
        g.workloads.push(
          startGuestWorkload(g.kernel.kernel, { ...common, device: pt.guestAddress }, counter),
        );
        return;
      }
      const [pdev] = this.hostDevices(w.device);
      if (!pdev || pdev.driver !== this.host.testnic) {
        this.fail([
          {
            path: `workloads[${i}].device`,
            message: `'${w.device}' has no host testnic driver (host workloads run on the host's testnic driver: ${pdev?.driver?.name ?? 'no driver'})`,
          },
        ]);
      }
      if (start)
        this.hostWorkloads.push(startHostWorkload(this.host, { ...common, device: pdev }, counter));
    });
  }

  // ---- faults ----------------------------------------------------------------------

  private faultTarget(ref: string): FaultTarget {
    const fn = this.functionOf(ref);
    const phb = this.hw.phbOf(fn);
    return { ref: this.refOf(ref), fn, phb, pe: phb.peOf(fn) };
  }

  /** The EEH PE of the device's owner (the guest kernel's or the host's) and its recoveries. */
  ownerView(ref: string): { pe: EehPe | undefined; recoveries: RecoveryRecord[] } {
    const key = this.refOf(ref);
    for (const g of this.guests) {
      const pt = g.passthrough.find((p) => p.ref === key);
      if (!pt) continue;
      const dev = g.kernel.kernel.device(pt.guestAddress);
      if (!dev) return { pe: undefined, recoveries: [] };
      return { pe: dev.edev.pe, recoveries: g.kernel.kernel.recoveriesOf(dev) };
    }
    const [pdev] = this.hostDevices(ref);
    const pe = pdev ? this.host.peOf(pdev) : undefined;
    return {
      pe,
      recoveries: pe ? this.host.eeh.recoveries.filter((r) => r.pe === pe.label) : [],
    };
  }

  /** Waits until the owner recovered the device after `before` recoveries; false if it gave up. */
  private *waitRecovered(t: FaultTarget, before: number): Task<boolean> {
    for (;;) {
      const v = this.ownerView(t.ref);
      if (v.pe && v.pe.state & EEH_PE_REMOVED) return false;
      const last = v.recoveries[v.recoveries.length - 1];
      const busy = v.pe ? (v.pe.state & (EEH_PE_ISOLATED | EEH_PE_RECOVERING)) !== 0 : false;
      if (v.recoveries.length > before && !busy && !t.pe.frozen)
        return last?.outcome === 'recovered';
      yield* sleep(RECOVERY_POLL);
    }
  }

  private scheduleFaults(): void {
    this.scenario.faults.forEach((f, fi) => {
      const target = this.faultTarget(f.target);
      const action = FAULT_ACTIONS[f.kind];
      const sim = this.sim;
      const self = this;
      const proc = function* (): Task<void> {
        if (f.at !== undefined) yield* sleep(self.t0 + f.at - sim.now);
        else yield* self.counter(f.target).waitFor(f.after_ops ?? 0);
        let before = 0;
        for (let n = 1; n <= f.count; n++) {
          if (n > 1) {
            if (f.every !== undefined) yield* sleep(f.every);
            else if (!(yield* self.waitRecovered(target, before))) return;
          }
          before = self.ownerView(f.target).recoveries.length;
          const e = action(target);
          if (e.ok) {
            sim.trace.emit('scenario.fault', { kind: f.kind, target: target.ref, n, how: e.how });
            e.apply();
          } else {
            sim.trace.emit('scenario.fault_skipped', {
              kind: f.kind,
              target: target.ref,
              why: e.why,
            });
          }
          const ev: FaultEvent = {
            fault: fi,
            n,
            t: sim.now - self.t0,
            kind: f.kind,
            target: target.ref,
            how: e.ok ? e.how : e.why,
            applied: e.ok,
          };
          self.faultLog.push(ev);
        }
      };
      sim.spawn(`fault${fi}:${f.kind}`, proc(), 'host');
    });
  }

  // ---- steps -----------------------------------------------------------------------

  guest(name: string): MachineGuest | undefined {
    return this.guests.find((g) => g.name === name);
  }

  guestVm(name: string): { vmm: Vmm; vm: Vm } | undefined {
    return this.guest(name);
  }

  passthrough(guest: string, ref: string): Passthrough | undefined {
    const d = this.index.resolve(ref);
    if (!d) return undefined;
    const all = this.guest(guest)?.passthrough.filter((p) => p.ref === d.ref) ?? [];
    if (/^[0-9a-f]{4}:/i.test(ref)) return all.find((p) => p.hostAddress === ref.toLowerCase());
    return all[0];
  }

  /** Checks the steps' references against the assembled machine (guest addresses exist now). */
  private checkSteps(): void {
    const issues: ScenarioIssue[] = [];
    this.scenario.steps.forEach((st, i) => {
      try {
        if (st.kind === 'rtas') {
          st.args.forEach((a, k) => {
            rtasArgWord(this, st.guest, a, k);
          });
        }
        if (
          st.kind === 'vfio' &&
          st.device !== undefined &&
          !this.passthrough(st.guest, st.device)
        ) {
          throw new StepError(
            'device',
            `device '${st.device}' is not passed through to ${st.guest}`,
          );
        }
      } catch (e) {
        if (!(e instanceof StepError)) throw e;
        issues.push({ path: `steps[${i}].${e.field}`, message: e.message });
      }
    });
    if (issues.length) this.fail(issues);
  }

  private scheduleSteps(): void {
    this.scenario.steps.forEach((st, i) => {
      const self = this;
      const owner = st.kind === 'knob' ? 'host' : st.guest;
      const proc = function* (): Task<void> {
        yield* sleep(self.t0 + st.at - self.sim.now);
        const span = self.sim.trace.begin('scenario.step', {
          index: i,
          id: st.id ?? '',
          kind: st.kind,
          what: describeStep(st),
        });
        const r =
          st.kind === 'rtas'
            ? yield* rtasStep(self, st)
            : st.kind === 'vfio'
              ? yield* vfioStep(self, st)
              : yield* knobStep(self, st);
        self.sim.trace.end(span, { rc: r.rc, ...(r.rets ? { rets: r.rets.join(',') } : {}) });
        const out: StepOutcome = { index: i, rc: r.rc };
        if (st.id !== undefined) out.id = st.id;
        if (r.rets) out.rets = r.rets;
        self.stepResults.push(out);
      };
      this.sim.spawn(`step${i}:${st.kind}`, proc(), owner);
    });
  }

  // ---- running -----------------------------------------------------------------------

  /** Runs the scenario to `run_for` (once). */
  run(): this {
    if (this.ran) return this;
    this.ran = true;
    this.sim.run(this.t0 + this.scenario.run_for);
    this.stepResults.sort((a, b) => a.index - b.index);
    return this;
  }

  /**
   * Runs until every guest kernel has booted (nothing else runs on a
   * `setupOnly` machine); returns the scenario time then.
   */
  bootGuests(): Ns {
    while (this.guests.some((g) => !g.kernel.boot.done)) {
      const next = this.sim.sched.nextEventTime();
      if (next === undefined) throw new Error('the guest kernels did not finish booting');
      this.sim.run(next);
    }
    return this.now;
  }

  /** Scenario time now. */
  get now(): Ns {
    return this.sim.now - this.t0;
  }
}
