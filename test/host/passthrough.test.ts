/**
 * The host's EEH machinery and PEs it does not own: a passed-through PE
 * (pass_dev_cnt > 0), the parent-PE rule, and a PHB fence with a
 * passed-through PE on the same PHB.
 */
import { describe, expect, it } from 'vitest';
import {
  EEH_PE_RECOVERING,
  EEH_PE_STATE_NORMAL,
  EEH_PE_STATE_STOPPED_IO_DMA,
  EEH_PE_STATE_UNAVAIL,
} from '../../src/kernel/eeh_consts.js';
import { sleep } from '../../src/sim/scheduler.js';
import { ms } from '../../src/sim/time.js';
import {
  OPAL_EEH_STOPPED_MMIO_DMA_FREEZE,
  OPAL_EEH_STOPPED_NOT_FROZEN,
} from '../../src/uapi/opal.js';
import { PCI_VENDOR_ID } from '../../src/uapi/pci_regs.js';
import { bootHost, dev, type Machine, ROOT_TOPOLOGY, run, SWITCH_TOPOLOGY } from './helpers.js';

function freezeState(m: Machine, pe: number): number {
  return run(m, m.opal.pciEehFreezeStatus(0, pe)).freezeState;
}

/** What VFIO's device open does: eeh_dev_open(). */
function openForGuest(m: Machine, name: string): void {
  expect(run(m, m.host.eeh.devOpen(dev(m, name).edev))).toBe(0);
}

describe('a passed-through PE', () => {
  it('is not recovered by the host: the poller skips it, check_failure leaves it', () => {
    const m = bootHost(ROOT_TOPOLOGY, { vfio: ['nic1'] });
    openForGuest(m, 'nic1');
    const pe = m.host.peOf(dev(m, 'nic1'));
    if (!pe) throw new Error('no PE');
    expect(pe.passDevCnt).toBe(1);
    // eeh_dev_break freezes it (MMIO to a BAR the device does not decode).
    expect(run(m, m.host.debugfs.devBreak('0000:00:02.0'))).toBe(0);
    expect(freezeState(m, pe.addr)).toBe(OPAL_EEH_STOPPED_MMIO_DMA_FREEZE);
    // The PHB error interrupt reached the host and the poller ran ...
    expect(m.host.ops.irqStats.delivered).toBe(1);
    expect(m.sim.trace.find('host.pnv.next_error').map((r) => r.fields.kind)).toEqual(['none']);
    // ... but left the PE alone: no isolation, no event, no recovery.
    expect(pe.isolated).toBe(false);
    expect(m.host.eeh.recoveries).toHaveLength(0);
    // The error interrupt is unmasked again for the next error.
    expect(m.host.ops.irqMasked).toBe(false);
    // check_failure on an all-1s read from it: not ours.
    expect(run(m, m.host.debugfs.devCheck('0000:00:02.0'))).toBe(0);
    const why = m.sim.trace.find('host.eeh.check_failure').map((r) => r.fields.why);
    expect(why).toEqual(['passed_through']);
    // The owner finds out by asking (VFIO_EEH_PE_GET_STATE): stopped, and the
    // host marks the PE isolated and fetches the diag data as a side effect.
    expect(run(m, m.host.eeh.peGetState(pe))).toBe(EEH_PE_STATE_STOPPED_IO_DMA);
    expect(pe.isolated).toBe(true);
    expect(m.host.ops.diag.get(pe)?.records.at(-1)?.kind).toBe('mmio_unclaimed');
    expect(m.host.eeh.recoveries).toHaveLength(0);
    // The host's own device on the same PHB is unaffected.
    const nic0 = dev(m, 'nic0');
    expect(run(m, m.host.testnic.dmaLoop(nic0, { iterations: 2 })).ok).toBe(2);
  });
});

describe('the parent-PE rule', () => {
  it('a PE below a bus PE reports 5 (unavailable) while the host recovers the parent', () => {
    const m = bootHost(SWITCH_TOPOLOGY);
    const port = dev(m, '0000:01:00.0');
    const portPe = m.host.peOf(port);
    const childPe = m.host.peOf(dev(m, 'nic1'));
    if (!portPe || !childPe) throw new Error('no PEs');
    expect(childPe.parent).toBe(portPe);
    expect(run(m, m.host.eeh.peGetState(childPe))).toBe(EEH_PE_STATE_NORMAL);
    // Freeze the downstream-port PE (firmware freeze, this PE only); a config
    // read of the port reads all 1s and the host takes the PE for recovery.
    run(m, m.opal.pciEehFreezeSet(0, portPe.addr, 3));
    const seen: number[] = [];
    m.sim.spawn(
      'detect',
      (function* () {
        yield* m.host.pciReadConfig(port, PCI_VENDOR_ID, 4);
      })(),
    );
    m.sim.spawn(
      'guest-asks',
      (function* () {
        yield* sleep(ms(1));
        while (portPe.state & EEH_PE_RECOVERING) {
          seen.push(yield* m.host.eeh.peGetState(childPe));
          yield* sleep(ms(100));
        }
      })(),
    );
    m.sim.run();
    expect(m.host.eeh.recoveries[0]?.pe).toBe(portPe.label);
    // The host held the parent for at least hold + settle; every query meanwhile said 5.
    expect(seen.length).toBeGreaterThanOrEqual(20);
    expect(new Set(seen)).toEqual(new Set([EEH_PE_STATE_UNAVAIL]));
    // Once the host is done with the parent, the child's own state is reported.
    // (The parent's recovery itself does not end well in this model: the
    // secondary bus reset wipes the downstream ports, and the EEH core
    // restores them while their PE is still frozen - as Linux does, relying
    // on PHB3 passing config cycles to a frozen PE - which the hardware model
    // drops. Not asserted here; see src/host/README.md.)
    expect(run(m, m.host.eeh.peGetState(childPe))).not.toBe(EEH_PE_STATE_UNAVAIL);
  });
});

describe('a fenced PHB', () => {
  it('is reset as a whole; host devices recover, the passed-through PE is re-frozen', () => {
    const m = bootHost(SWITCH_TOPOLOGY, { vfio: ['nic1'] });
    openForGuest(m, 'nic1');
    const nic0 = dev(m, 'nic0');
    const nic1 = dev(m, 'nic1');
    const passedPe = m.host.peOf(nic1);
    if (!passedPe) throw new Error('no PE');
    // The guest's PE is frozen when the PHB fences.
    run(m, m.host.debugfs.devBreak(nic1.name));
    expect(freezeState(m, passedPe.addr)).toBe(OPAL_EEH_STOPPED_MMIO_DMA_FREEZE);
    const phb = m.host.hw.phb(0);
    if (!phb) throw new Error('no PHB');
    phb.fence('test');
    // The host's next read of its own device hits the fence first.
    const regs = nic0.bar(0)?.start ?? 0;
    expect(run(m, m.host.readl(regs))).toBe(0xffff_ffff);
    const phbPe = m.host.eeh.phbPes[0];
    const rec = m.host.eeh.recoveries[0];
    expect(rec?.pe).toBe(phbPe?.label);
    expect(rec?.outcome).toBe('recovered');
    expect(m.sim.trace.find('host.eeh.isolate')[0]?.fields.cause).toBe('phb_fence');
    expect(m.sim.trace.find('hw.phb.reset').map((r) => r.fields.assert)).toEqual([true, false]);
    // The complete reset thawed every PE; the host re-froze the passed-through one.
    const deassert = m.sim.trace.find('hw.phb.reset')[1]?.seq ?? 0;
    const refreeze = m.sim.trace
      .find('fw.freeze_set')
      .filter((r) => r.seq > deassert && r.fields.pe === passedPe.addr);
    expect(refreeze.length).toBeGreaterThanOrEqual(1);
    expect(freezeState(m, passedPe.addr)).toBe(OPAL_EEH_STOPPED_MMIO_DMA_FREEZE);
    expect(passedPe.passDevCnt).toBe(1);
    expect(nic1.removed).toBe(false);
    expect(nic1.driver?.name).toBe('vfio-pci');
    // The host's testnic went through its callbacks; the passed one was not told.
    expect(m.host.testnic.dev(nic0)?.counters).toMatchObject({ errorDetected: 1, resumes: 1 });
    // The switch ports (no driver) were restored by EEH: the testnic behind them works.
    expect(run(m, m.host.testnic.dmaLoop(nic0, { iterations: 3 })).ok).toBe(3);
    expect(freezeState(m, m.host.peOf(nic0)?.addr ?? -1)).toBe(OPAL_EEH_STOPPED_NOT_FROZEN);
  });
});
