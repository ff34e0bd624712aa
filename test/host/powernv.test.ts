/** The powernv eeh_ops on the real firmware: state mapping, options, config blocking. */
import { describe, expect, it } from 'vitest';
import {
  EEH_OPT_DISABLE,
  EEH_OPT_ENABLE,
  EEH_OPT_FREEZE_PE,
  EEH_OPT_THAW_DMA,
  EEH_OPT_THAW_MMIO,
  EEH_PE_CFG_BLOCKED,
  EEH_PE_RESET,
  EEH_STATE_ACTIVE_ALL,
  EEH_STATE_DMA_ACTIVE,
  EEH_STATE_DMA_ENABLED,
  EEH_STATE_MMIO_ACTIVE,
  EEH_STATE_MMIO_ENABLED,
  EEH_STATE_RESET_ACTIVE,
} from '../../src/kernel/eeh_consts.js';
import { OPAL_ASSERT_RESET, OPAL_DEASSERT_RESET, OPAL_RESET_PCI_HOT } from '../../src/uapi/opal.js';
import { PCI_VENDOR_ID } from '../../src/uapi/pci_regs.js';
import { bootHost, dev, ROOT_TOPOLOGY, run } from './helpers.js';

describe('pnv get_state', () => {
  it('maps the OPAL freeze state to EEH_STATE bits (eeh-facts section 7)', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const pe = m.host.peOf(dev(m, 'nic0'));
    if (!pe) throw new Error('no PE');
    const ops = m.host.ops;
    const state = () => run(m, ops.getState(pe)).state;
    expect(state()).toBe(EEH_STATE_ACTIVE_ALL);
    run(m, m.opal.pciEehFreezeSet(0, pe.addr, 1)); // MMIO frozen
    expect(state()).toBe(EEH_STATE_DMA_ACTIVE | EEH_STATE_DMA_ENABLED);
    run(m, m.opal.pciEehFreezeClear(0, pe.addr, 1));
    run(m, m.opal.pciEehFreezeSet(0, pe.addr, 2)); // DMA frozen
    expect(state()).toBe(EEH_STATE_MMIO_ACTIVE | EEH_STATE_MMIO_ENABLED);
    // Neither of these is "frozen for the first time": no isolation yet.
    expect(pe.isolated).toBe(false);
    run(m, m.opal.pciEehFreezeSet(0, pe.addr, 3));
    expect(state()).toBe(0);
    expect(pe.isolated).toBe(true);
    // While the PE carries EEH_PE_RESET the platform reports it operational.
    pe.state |= EEH_PE_RESET;
    expect(state()).toBe(EEH_STATE_ACTIVE_ALL);
    pe.state &= ~EEH_PE_RESET;
    run(m, m.opal.pciEehFreezeClear(0, pe.addr, 3));
    run(m, m.opal.pciReset(0, pe.addr, OPAL_RESET_PCI_HOT, OPAL_ASSERT_RESET));
    expect(state()).toBe(EEH_STATE_RESET_ACTIVE);
    run(m, m.opal.pciReset(0, pe.addr, OPAL_RESET_PCI_HOT, OPAL_DEASSERT_RESET));
    expect(state()).toBe(EEH_STATE_ACTIVE_ALL);
  });

  it('a PHB PE is only "not active" on a PHB error (fence)', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const phbPe = m.host.eeh.phbPes[0];
    if (!phbPe) throw new Error('no PHB PE');
    const pe = m.host.peOf(dev(m, 'nic0'));
    run(m, m.opal.pciEehFreezeSet(0, pe?.addr ?? 0, 3));
    expect(run(m, m.host.ops.getState(phbPe)).state).toBe(EEH_STATE_ACTIVE_ALL);
    m.host.hw.phb(0)?.fence('test');
    m.host.debugfs.setEnable(false); // look without the recovery running
    expect(run(m, m.host.ops.getState(phbPe)).state).toBe(0);
    expect(phbPe.isolated).toBe(true);
    expect(m.host.ops.diag.get(phbPe)?.fenced).toBe(true);
  });
});

describe('pnv set_option / reset / err_inject argument handling', () => {
  it('returns the codes eeh-powernv.c returns', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const pe = m.host.peOf(dev(m, 'nic0'));
    if (!pe) throw new Error('no PE');
    const ops = m.host.ops;
    expect(run(m, ops.setOption(pe, EEH_OPT_DISABLE))).toBe(-1);
    expect(run(m, ops.setOption(pe, EEH_OPT_ENABLE))).toBe(0);
    expect(run(m, ops.setOption(pe, 9))).toBe(-22);
    expect(run(m, ops.setOption(pe, EEH_OPT_FREEZE_PE))).toBe(0);
    expect(run(m, m.opal.pciEehFreezeStatus(0, pe.addr)).freezeState).toBe(3);
    expect(run(m, ops.setOption(pe, EEH_OPT_THAW_MMIO))).toBe(0);
    expect(run(m, ops.setOption(pe, EEH_OPT_THAW_DMA))).toBe(0);
    expect(run(m, m.opal.pciEehFreezeStatus(0, pe.addr)).freezeState).toBe(0);
    expect(run(m, ops.reset(pe, 2))).toBe(-22);
    expect(run(m, ops.errInject(pe, 0, 20, 0n, 0n))).toBe(-34);
    // A thaw the firmware refuses (fenced PHB): -EIO.
    m.host.debugfs.setEnable(false);
    m.host.hw.phb(0)?.fence('test');
    expect(run(m, ops.setOption(pe, EEH_OPT_THAW_MMIO))).toBe(-5);
  });
});

describe('config accessors', () => {
  it('blocked config reads give all 1s and writes fail while the PE has CFG_BLOCKED', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const nic = dev(m, 'nic0');
    const edev = nic.edev;
    const pe = edev?.pe;
    if (!edev || !pe) throw new Error('no PE');
    const ops = m.host.ops;
    expect(run(m, ops.readConfig(edev, PCI_VENDOR_ID, 2))).toBe(nic.vendor);
    pe.state |= EEH_PE_CFG_BLOCKED;
    const calls = m.sim.accounting.byCost.get('opal_call_null')?.count ?? 0;
    expect(run(m, ops.readConfig(edev, PCI_VENDOR_ID, 2))).toBe(0xffff);
    expect(run(m, ops.writeConfig(edev, 0x3c, 1, 5))).toBe(0x88); // PCIBIOS_SET_FAILED
    expect(run(m, m.host.pciReadConfig(nic, PCI_VENDOR_ID, 4))).toBe(0xffff_ffff);
    // Blocked accesses never reach firmware.
    expect(m.sim.accounting.byCost.get('opal_call_null')?.count ?? 0).toBe(calls);
    pe.state &= ~EEH_PE_CFG_BLOCKED;
    expect(run(m, ops.readConfig(edev, PCI_VENDOR_ID, 2))).toBe(nic.vendor);
  });
});

describe('the OPAL PCI error interrupt', () => {
  it('is masked from delivery until next_error finds nothing; errors meanwhile re-raise it', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const ops = m.host.ops;
    const t0 = m.sim.now;
    ops.raiseIrq();
    expect(ops.irqMasked).toBe(true);
    ops.raiseIrq(); // a second error before the host got to it
    expect(ops.irqStats.whileMasked).toBe(1);
    m.sim.run();
    // Delivered, polled (nothing found), unmasked, the pending one delivered and polled too.
    expect(ops.irqStats.delivered).toBe(2);
    expect(ops.irqMasked).toBe(false);
    expect(m.host.eeh.events.handled).toBe(2);
    // The delivery took the interrupt latency.
    const irq = m.sim.trace.find('host.pnv.irq')[0];
    expect(irq?.t).toBe(t0 + m.sim.costs.ns('msi_delivery'));
  });
});
