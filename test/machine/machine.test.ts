/**
 * The end-to-end machine on the real stack (hardware, OPAL, host kernel,
 * VFIO, KVM, VMM, guest kernel): guest recovery of each kind of fault, the
 * driver behaviours, isolation between guests, what the host does with a
 * passed-through PE, false positives and the freeze limit.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/machine/runner.js';
import { ms } from '../../src/sim/time.js';
import { oneGuest, runMachine, scenario } from './helpers.js';

const HOLD_SETTLE = ms(250 + 1800);

describe('the default scenario', () => {
  const { m, r } = runMachine('default');
  const nic0 = r.devices.find((d) => d.device === 'nic0');
  const vm0 = r.details.guests[0];

  it('recovers the passed-through testnic from a DMA error, with the guest hold and settle', () => {
    expect(nic0).toMatchObject({ owner: 'vm0', status: 'recovered', freezes: 1 });
    expect(nic0?.recoveryNs).toBeGreaterThanOrEqual(HOLD_SETTLE);
    expect(nic0?.integrity.silentReads).toBe(0);
    expect(nic0?.integrity.dmaMismatches).toBe(0);
    expect(nic0?.integrity.lostIos).toBe(0);
    expect(nic0?.integrity.retriedIos).toBeGreaterThan(0);
    expect(r.peStates).toEqual({ nic0: 0 });
    expect(r.details.faults).toMatchObject([{ kind: 'dma', target: 'nic0', t: ms(5) }]);
    expect(r.details.hwErrors).toMatchObject([{ source: 'dma', kind: 'tce_invalid', t: ms(5) }]);
  });

  it('went through every layer: RTAS exits to the VMM, VFIO EEH ops, the host PE reset', () => {
    expect(vm0?.exits).toBeGreaterThan(0);
    const q = vm0?.rtas['ibm,read-slot-reset-state2'];
    // every state query is an exit to the VMM (design d binds nothing in KVM)
    expect(q?.calls).toBeGreaterThan(0);
    expect(q?.exits).toBe(q?.calls);
    expect(vm0?.stateQuery.calls).toBe(q?.calls);
    expect(vm0?.stateQuery.meanNs).toBeGreaterThan(0);
    expect(vm0?.vfioEehOps).toMatchObject({ RESET_HOT: 1, RESET_DEACTIVATE: 1 });
    expect(vm0?.vfioEehOps.GET_STATE).toBe(q?.calls);
    expect(vm0?.recoveries).toMatchObject([{ outcome: 'recovered', reset: true, hotplug: false }]);
    // the guest's I/O resumed after the recovery
    const w = vm0?.workloads[0] as { completed: number; lost: number; retried: number };
    expect(w.lost).toBe(0);
    expect(w.retried).toBe(1);
    // the host left the passed-through PE to its owner
    expect(r.details.host.recoveries).toEqual([]);
    expect(m.host.eeh.stats.slotResets).toBe(0);
    // time per layer for the VM's processes, and the cost table in force
    expect(vm0?.layers.kvm?.ns).toBeGreaterThan(0);
    expect(r.details.costs.find((c) => c.name === 'pe_reset_settle')?.ns).toBe(ms(1800));
  });

  it('prints a summary across the layers', () => {
    const out = runScenario(m.scenario, { trace: false });
    const text = out.summary as string;
    for (const want of [
      'dma on nic0',
      'PE frozen',
      'recovered in',
      'read-slot-reset-state2',
      'RESET_HOT x1',
      'exits to the VMM',
      'state query',
      '0 silent reads',
    ]) {
      expect(text).toContain(want);
    }
    expect(out.trace).toEqual([]);
  });
});

describe('guest recovery by fault kind', () => {
  const faulted = (kind: string, workload = 'dma-pingpong') =>
    runMachine(
      scenario({
        guests: oneGuest(),
        workloads: [{ kind: workload, guest: 'vm0', device: 'nic0', interval: '1ms' }],
        faults: [{ kind, target: 'nic0', at: '3ms' }],
        run_for: '4.5s',
      }),
    ).r;

  it('a DMA fault: the device DMAs to an IOVA without a TCE', () => {
    const r = faulted('dma');
    expect(r.devices[0]).toMatchObject({ device: 'nic0', status: 'recovered', freezes: 1 });
    expect(r.details.hwErrors[0]).toMatchObject({ source: 'dma', kind: 'tce_invalid' });
    expect(r.devices[0]?.integrity.silentReads).toBe(0);
  });

  it('an MMIO fault: the next load of the PE fails, the guest finds it and recovers', () => {
    const r = faulted('mmio', 'mmio-read');
    expect(r.devices[0]).toMatchObject({ status: 'recovered', freezes: 1, checks: 1 });
    expect(r.details.hwErrors[0]).toMatchObject({ source: 'mmio' });
    // the failing load happened after the fault, on the guest's next read
    expect(r.details.hwErrors[0]?.t).toBeGreaterThan(ms(3));
    expect(r.devices[0]?.integrity.silentReads).toBe(0);
    expect(r.peStates.nic0).toBe(0);
  });

  it.each(['dma-permission', 'config', 'poisoned-tlp'])('a %s fault recovers too', (kind) => {
    const r = faulted(kind);
    expect(r.devices[0]).toMatchObject({ status: 'recovered', freezes: 1 });
  });

  it('a PHB fence stops the PE as well', () => {
    const r = faulted('phb-fence');
    expect(r.details.hwErrors[0]).toMatchObject({ kind: 'fence' });
    expect(r.devices[0]?.freezes).toBeGreaterThan(0);
  });
});

describe('driver behaviours', () => {
  it('a driver without EEH handlers: the guest removes the device, resets and rescans it', () => {
    const { m, r } = runMachine('no-handlers');
    expect(r.devices[0]).toMatchObject({ status: 'recovered', freezes: 1 });
    const g = r.details.guests[0];
    expect(g?.recoveries).toMatchObject([{ outcome: 'recovered', reset: true, hotplug: true }]);
    expect(g?.hotplug).toEqual({ removes: 1, adds: 1 });
    expect(m.guests[0]?.kernel.kernel.devices[0]?.pdev.driver?.name).toBe('testnic:no-handlers');
  });

  it('slot_reset that fails ends in a failed device', () => {
    const { r } = runMachine(
      scenario({
        guests: oneGuest('slot-reset-fails'),
        workloads: [{ kind: 'mmio-read', guest: 'vm0', device: 'nic0', interval: '1ms' }],
        faults: [{ kind: 'dma', target: 'nic0', at: '3ms' }],
        run_for: '4.5s',
      }),
    );
    expect(r.devices[0]).toMatchObject({ status: 'failed' });
    expect(r.peStates.nic0).toBe('disabled');
  });

  it('a driver that ignores all 1s consumes them as data (silent corruption)', () => {
    const { r } = runMachine(
      scenario({
        guests: oneGuest('ignores-all-ones'),
        workloads: [{ kind: 'mmio-read', guest: 'vm0', device: 'nic0', interval: '1ms' }],
        faults: [{ kind: 'dma', target: 'nic0', at: '3ms' }],
        run_for: '50ms',
      }),
    );
    expect(r.devices[0]?.integrity.silentReads).toBeGreaterThan(0);
    expect(r.devices[0]?.status).toBe('frozen');
  });
});

describe('two guests on two PEs', () => {
  const guests = [
    { name: 'vm0', phbs: [{ devices: [{ device: 'nic0' }] }] },
    { name: 'vm1', phbs: [{ devices: [{ device: 'nic1' }] }] },
  ];
  const workloads = [
    { kind: 'dma-pingpong', guest: 'vm0', device: 'nic0', interval: '1ms' },
    { kind: 'dma-pingpong', guest: 'vm1', device: 'nic1', interval: '1ms' },
  ];
  const run = (faults: unknown[]) =>
    runMachine(scenario({ guests, workloads, faults, run_for: '4.5s' }), true);

  it("one faults and recovers; the other's traffic and results are those of a run without the fault", () => {
    const faulted = run([{ kind: 'dma', target: 'nic0', at: '3ms' }]);
    const clean = run([]);
    expect(faulted.r.devices.map((d) => [d.device, d.status])).toEqual([
      ['nic0', 'recovered'],
      ['nic1', 'unaffected'],
    ]);
    const vm1 = (x: typeof clean) => x.r.details.guests[1];
    expect(vm1(faulted)?.workloads).toEqual(vm1(clean)?.workloads);
    expect(faulted.r.devices[1]).toEqual(clean.r.devices[1]);
    expect(vm1(faulted)?.rtas).toEqual(vm1(clean)?.rtas);
    // vm1's trace is the same, record for record
    const of = (x: typeof clean, owner: string) =>
      x.m.sim.trace.records
        .filter((t) => t.owner === owner)
        .map((t) => `${t.t} ${t.ph} ${t.name} ${JSON.stringify(t.fields)}`);
    expect(of(faulted, 'vm1')).toEqual(of(clean, 'vm1'));
    expect(of(faulted, 'vm0')).not.toEqual(of(clean, 'vm0'));
  });
});

describe('the host and a passed-through PE', () => {
  it('the host does not recover it: without guest I/O it stays frozen', () => {
    const { m, r } = runMachine(
      scenario({
        guests: oneGuest(),
        faults: [{ kind: 'dma', target: 'nic0', at: '3ms' }],
        run_for: '1s',
      }),
      true,
    );
    // the PHB error interrupt reached the host, whose poller left the PE alone
    expect(m.host.ops.irqStats.delivered).toBeGreaterThan(0);
    expect(m.sim.trace.find('host.pnv.next_error').map((t) => t.fields.kind)).toContain('none');
    expect(r.details.host.recoveries).toEqual([]);
    expect(r.devices[0]).toMatchObject({ owner: 'vm0', status: 'frozen', freezes: 0 });
    expect(r.peStates.nic0).toBe(2);
  });

  it('the host recovers its own device on the same PHB', () => {
    const { r } = runMachine(
      scenario({
        guests: oneGuest(),
        workloads: [{ kind: 'dma-pingpong', device: 'nic1', interval: '1ms' }],
        faults: [{ kind: 'dma', target: 'nic1', at: '3ms' }],
        run_for: '4.5s',
      }),
    );
    expect(r.devices.map((d) => [d.device, d.owner, d.status])).toEqual([
      ['nic0', 'vm0', 'unaffected'],
      ['nic1', 'host', 'recovered'],
    ]);
    expect(r.details.host.recoveries).toMatchObject([{ outcome: 'recovered' }]);
    expect(r.devices[1]?.integrity.retriedIos).toBeGreaterThan(0);
    expect(r.devices[1]?.integrity.lostIos).toBe(0);
  });
});

describe('false positives and the freeze limit', () => {
  it('link_status all 1s: every read is checked, none recovers', () => {
    const { r } = runMachine('false-positive');
    expect(r.devices[0]).toMatchObject({ status: 'unaffected', freezes: 0 });
    expect(r.devices[0]?.checks).toBe(1000);
    expect(r.devices[0]?.falsePositives).toBe(1000);
    expect(r.details.guests[0]?.recoveries).toEqual([]);
    expect(r.details.guests[0]?.stateQuery.calls).toBeGreaterThanOrEqual(1000);
    expect(r.details.hwErrors).toEqual([]);
  });

  it('the sixth freeze within the hour disables the PE', () => {
    const { r } = runMachine('max-freezes');
    expect(r.devices[0]).toMatchObject({ status: 'disabled', cause: 'freeze limit', freezes: 6 });
    expect(r.peStates.nic0).toBe('disabled');
    const recs = r.details.guests[0]?.recoveries ?? [];
    expect(recs.map((x) => x.outcome)).toEqual([
      'recovered',
      'recovered',
      'recovered',
      'recovered',
      'recovered',
      'failed',
    ]);
  });

  it('repeated faults without `every` come after each recovery', () => {
    const { r } = runMachine(
      scenario({
        guests: oneGuest(),
        workloads: [{ kind: 'mmio-read', guest: 'vm0', device: 'nic0', interval: '1ms' }],
        faults: [{ kind: 'dma', target: 'nic0', at: '3ms', count: 2 }],
        run_for: '9s',
      }),
    );
    expect(r.devices[0]).toMatchObject({ status: 'recovered', freezes: 2 });
    const [a, b] = r.details.guests[0]?.recoveries ?? [];
    const second = r.details.faults[1];
    expect(second?.t).toBeGreaterThanOrEqual(a?.endNs ?? 0);
    expect(b?.startNs).toBeGreaterThan(a?.endNs ?? 0);
  });
});

describe('faults after N operations and host workloads', () => {
  it('after_ops counts the operations the target served', () => {
    const { r } = runMachine(
      scenario({
        guests: oneGuest(),
        workloads: [{ kind: 'mmio-read', guest: 'vm0', device: 'nic0', interval: '10us' }],
        faults: [{ kind: 'mmio', target: 'nic0', after_ops: 100 }],
        run_for: '20ms',
      }),
    );
    const w = r.details.guests[0]?.workloads[0] as { completed: number };
    expect(r.details.faults).toHaveLength(1);
    expect(r.devices[0]?.freezes).toBe(1);
    expect(w.completed).toBeGreaterThanOrEqual(100);
  });

  it('a link-down on a host device: the host driver checks, finds nothing frozen', () => {
    const { r } = runMachine(
      scenario({
        workloads: [{ kind: 'link-status', device: 'nic1', interval: '100us', ops: 50 }],
        faults: [{ kind: 'link-down', target: 'nic1', at: '1ms' }],
        run_for: '20ms',
      }),
    );
    const nic1 = r.devices[1];
    expect(nic1).toMatchObject({ owner: 'host', status: 'unaffected', freezes: 0 });
    expect(nic1?.falsePositives).toBeGreaterThan(0);
    expect(r.details.host.workloads[0]).toMatchObject({ completed: 50, lost: 0 });
  });
});

describe('a recovery still running when the run ends (a late fault in a campaign)', () => {
  it('is reported in progress, not as a failure that took 0 ns', () => {
    const s = scenario({
      guests: oneGuest(),
      workloads: [{ kind: 'dma-pingpong', guest: 'vm0', device: 'nic0', interval: '2ms' }],
      faults: [{ kind: 'dma', target: 'nic0', at: '10ms' }],
      run_for: '1s', // the guest's recovery takes 3.85 s
    });
    const { r } = runMachine(s);
    expect(r.devices[0]).toMatchObject({
      status: 'frozen',
      cause: 'still recovering at the end of the run',
    });
    const [rec] = r.details.guests[0]?.recoveries ?? [];
    expect(rec).toMatchObject({ inProgress: true, reset: true, endNs: ms(1000) });
    expect(rec?.startNs).toBeGreaterThan(ms(10));
    const text = runScenario(s, { trace: false }).summary as string;
    expect(text).toMatch(
      /detected and started \+1\d\.\d+ ms, still running at the end of the run \+1\.000 s \(PE reset begun\)/,
    );
    expect(text).not.toContain('failed in 0 ns');
  });

  it('a finished one is not in progress', () => {
    const { r } = runMachine('default');
    expect(r.details.guests[0]?.recoveries).toMatchObject([{ inProgress: false }]);
  });
});
