/**
 * Design `aer`, the x86-like baseline: no PE isolation - the PHB reports the
 * default scenario's DMA error by AER, the host's AER core calls vfio-pci's
 * error_detected, which signals the VMM's error eventfd, and the VMM stops
 * the VM (QEMU vfio_err_notifier_handler -> vm_stop).
 */
import { describe, expect, it } from 'vitest';
import { compareDesigns, formatCompare } from '../../src/cli/compare.js';
import { Machine } from '../../src/machine/machine.js';
import { machineResult } from '../../src/machine/result.js';
import { loadScenario } from '../../src/scenario/builtin.js';
import { validateScenario } from '../../src/scenario/load.js';
import { ms } from '../../src/sim/time.js';
import { VFIO_ERR_STOPS_VM } from '../../src/vmm/aer_wiring.js';

const { scenario: DEFAULT } = loadScenario('default');

function run(design: 'aer' | 'd') {
  const s = validateScenario({ ...DEFAULT, design }, `default/${design}`);
  const m = new Machine(s, { trace: true }).run();
  return { m, r: machineResult(m) };
}

const EEH_RECOVERY_CALLS = [
  'ibm,read-slot-reset-state2',
  'ibm,set-slot-reset',
  'ibm,configure-pe',
  'ibm,slot-error-detail',
];

describe('design aer (x86-like AER baseline)', () => {
  const { m, r } = run('aer');
  const c = m.sim.costs;

  it('stops the guest shortly after the fault: AER interrupt, error status, eventfd wake-up', () => {
    // fault at 5 ms -> root-port AER interrupt (msi_delivery) -> aer_isr reads
    // the error status (2 config_access) -> vfio-pci signals the eventfd, the
    // VMM's thread wakes msi_delivery later -> vm_stop.
    const at = ms(5) + 2 * c.ns('msi_delivery') + 2 * c.ns('config_access');
    expect(r.stoppedGuests).toEqual([
      {
        guest: 'vm0',
        atNs: at,
        reason: expect.stringContaining('Unrecoverable error detected'),
      },
    ]);
    expect(m.guests[0]?.vm.pausedAt).toBe(at + m.t0);
    expect(m.sim.trace.count('vmm.vm_stop')).toBe(1);
  });

  it('the device is failed / vm-stopped with its in-flight I/O lost; nothing froze', () => {
    const [dev] = r.devices;
    expect(dev).toMatchObject({ device: 'nic0', status: 'failed', cause: 'vm-stopped' });
    expect(dev?.recoveryNs).toBeUndefined();
    expect(dev?.integrity.lostIos).toBeGreaterThan(0);
    expect(dev?.integrity.silentReads).toBe(0);
    expect(r.details.hwFreezes).toEqual({});
    expect(r.peStates).toEqual({ nic0: 0 });
    expect(r.details.hwErrors).toHaveLength(1);
    // The workload stopped with the guest: nothing completed after the stop.
    const w = r.details.guests[0]?.workloads[0] as { completed: number; done: boolean };
    expect(w.done).toBe(false);
    expect(w.completed).toBe(2); // the ops at 1.5 ms and 3.5 ms
  });

  it('makes no EEH recovery RTAS call and no VFIO EEH op beyond the boot-time ENABLE', () => {
    const g = r.details.guests[0];
    for (const name of EEH_RECOVERY_CALLS) expect(g?.rtas[name]).toBeUndefined();
    expect(g?.vfioEehOps).toEqual({ ENABLE: 2 });
    expect(g?.recoveries).toEqual([]);
  });

  it('the host is unaffected: one AER report to vfio-pci, no EEH event or recovery', () => {
    expect(m.host.aer.stats).toEqual({ interrupts: 1, reported: 1, unhandled: 0 });
    expect(m.host.aer.reports[0]).toMatchObject({
      device: '0000:00:01.0',
      driver: 'vfio-pci',
      signalled: true,
    });
    expect(r.details.host.recoveries).toEqual([]);
    expect(m.host.ops.irqStats.raised).toBe(0);
    expect(r.details.host.eeh).toMatchObject({ slotResets: 0, recovered: 0, permFailures: 0 });
  });

  it('the wiring registers the error eventfd; the other designs do not', () => {
    expect(VFIO_ERR_STOPS_VM.kernelRtasServices).toEqual([]);
    const dev = m.vfio.openDevice('0000:00:01.0');
    expect(dev?.errTrigger).not.toBeNull();
    expect(dev?.errSignals).toBe(1);
    const d = run('d');
    expect(d.m.vfio.openDevice('0000:00:01.0')?.errTrigger).toBeNull();
    expect(d.r.stoppedGuests).toBeUndefined();
    expect(d.r.devices[0]?.status).toBe('recovered');
  });

  it('compare prints the aer row next to d', () => {
    const rows = compareDesigns(DEFAULT, ['d', 'aer']);
    const aer = rows.find((x) => x.design === 'aer');
    expect(aer).toMatchObject({ recoveryNs: null, stateQueries: 0, silentReads: 0 });
    const text = formatCompare(DEFAULT, rows);
    expect(text).toMatch(/^aer\s.*vm stopped/m);
    expect(text).toMatch(/^d\s.*recovered/m);
  });
});
