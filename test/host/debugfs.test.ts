import { describe, expect, it } from 'vitest';
import { EEH_PE_REMOVED } from '../../src/kernel/eeh_consts.js';
import {
  OPAL_ERR_INJECT_FUNC_IOA_DMA_RD_ADDR,
  OPAL_ERR_INJECT_FUNC_IOA_LD_CFG_ADDR,
} from '../../src/uapi/opal.js';
import { bootHost, dev, ROOT_TOPOLOGY, run } from './helpers.js';

const NIC0 = '0000:00:01.0';

describe('eeh_dev_break / eeh_dev_check', () => {
  it('eeh_dev_break freezes the PE through an MMIO the device cannot decode; the error interrupt drives recovery', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const nic = dev(m, 'nic0');
    expect(run(m, m.host.debugfs.devBreak(NIC0))).toBe(0);
    const freeze = m.sim.trace.find('hw.pe.freeze')[0];
    expect(freeze?.fields.cause).toBe('mmio_unclaimed');
    // No all-1s read was checked (in_8 skips the EEH hook): the OPAL PCI error
    // interrupt -> special event -> next_error found the PE.
    expect(m.sim.trace.count('host.eeh.check_failure')).toBe(0);
    expect(m.sim.trace.find('host.eeh.isolate')[0]?.fields.cause).toBe('error_interrupt');
    expect(m.host.eeh.recoveries.map((r) => r.outcome)).toEqual(['recovered']);
    expect(run(m, m.host.testnic.dmaLoop(nic, { iterations: 2 })).ok).toBe(2);
  });

  it('rejects bad arguments as the kernel parses them', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    expect(run(m, m.host.debugfs.devBreak('00:01.0'))).toBe(-22);
    expect(run(m, m.host.debugfs.devBreak('0000:00:1f.0'))).toBe(-19);
    expect(run(m, m.host.debugfs.devCheck('1:0:1.0'))).toBe(-19);
  });

  it('eeh_dev_check: 0 and a false positive on a healthy device, 1 on a frozen one', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const pe = m.host.peOf(dev(m, 'nic0'));
    expect(run(m, m.host.debugfs.devCheck(NIC0))).toBe(0);
    expect(pe?.falsePositives).toBe(1);
    m.host.debugfs.setEnable(false); // keep the interrupt from recovering it first
    run(m, m.host.debugfs.devBreak(NIC0));
    m.host.debugfs.setEnable(true);
    expect(run(m, m.host.debugfs.devCheck(NIC0))).toBe(1);
    expect(m.host.eeh.recoveries.map((r) => r.outcome)).toEqual(['recovered']);
  });
});

describe('eeh_max_freezes and eeh_enable', () => {
  it('eeh_max_freezes = 1: the second freeze in the hour fails the PE', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    expect(m.host.debugfs.maxFreezes).toBe(5);
    expect(m.host.debugfs.setMaxFreezes(1)).toBe(0);
    expect(m.host.debugfs.setMaxFreezes(-1)).toBe(-22);
    run(m, m.host.debugfs.devBreak(NIC0));
    run(m, m.host.debugfs.devBreak(NIC0));
    expect(m.host.eeh.recoveries.map((r) => r.outcome)).toEqual(['recovered', 'failed']);
    const info = m.host.debugfs.pes().find((p) => p.devices.includes(NIC0));
    expect((info?.flags ?? 0) & EEH_PE_REMOVED).toBeTruthy();
    expect(info?.flagNames).toContain('REMOVED');
    expect(info?.freezeCount).toBe(2);
  });

  it('with EEH off, all-1s reads are not checked and the interrupt queues nothing', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const nic = dev(m, 'nic0');
    expect(m.host.debugfs.setEnable(false)).toBe(0);
    expect(m.host.debugfs.enable).toBe(false);
    run(m, m.host.debugfs.devBreak(NIC0));
    expect(run(m, m.host.readl(nic.bar(0)?.start ?? 0))).toBe(0xffff_ffff);
    expect(m.host.debugfs.procEeh()).toMatchObject({ enabled: false, totalMmioFfs: 0 });
    expect(m.host.eeh.events.handled).toBe(0);
    expect(m.host.eeh.recoveries).toHaveLength(0);
  });
});

describe('error injection, sysfs PE state, can_recover, force_recover', () => {
  it('err_injct arms the PHB; the next matching DMA freezes the PE and the host recovers it', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const nic = dev(m, 'nic0');
    const pe = m.host.peOf(nic);
    const buf = m.host.testnic.dev(nic)?.dma;
    if (!pe || !buf) throw new Error('setup');
    const arg = `${pe.addr.toString(16)}:0:${OPAL_ERR_INJECT_FUNC_IOA_DMA_RD_ADDR.toString(16)}:${buf.iova.toString(16)}:fffff000`;
    expect(run(m, m.host.debugfs.errInject(0, arg))).toBe(0);
    const r = run(m, m.host.testnic.dmaLoop(nic, { iterations: 3 }));
    expect(r.ok).toBe(3);
    expect(r.waits).toBeGreaterThanOrEqual(1);
    expect(m.sim.trace.find('hw.inject.fired')).toHaveLength(1);
    expect(m.host.eeh.recoveries.map((x) => x.outcome)).toEqual(['recovered']);
    // Type other than the 32/64-bit IOA bus error: -ERANGE (pnv_eeh_err_inject).
    expect(run(m, m.host.debugfs.errInject(0, `${pe.addr.toString(16)}:2:0:0:0`))).toBe(-34);
    expect(run(m, m.host.debugfs.errInject(0, `7f:0:0:0:0`))).toBe(-19);
    expect(run(m, m.host.debugfs.errInject(0, 'junk'))).toBe(-22);
  });

  it('PHB4 refuses non-config injection: firmware failure is -EIO', () => {
    const m = bootHost({
      phbs: [{ id: 0, model: 'phb4', devices: [{ model: 'testnic', bdf: '00:01.0' }] }],
    });
    const pe = m.host.peOf(dev(m, NIC0));
    if (!pe) throw new Error('no PE');
    const p = pe.addr.toString(16);
    expect(run(m, m.host.debugfs.errInject(0, `${p}:0:c:0:0`))).toBe(-5);
    const cfg = OPAL_ERR_INJECT_FUNC_IOA_LD_CFG_ADDR.toString(16);
    expect(run(m, m.host.debugfs.errInject(0, `${p}:0:${cfg}:100:ffff`))).toBe(0);
  });

  it('eeh_pe_state shows the platform state and the PE flags; the store thaws an isolated PE', () => {
    const m = bootHost(ROOT_TOPOLOGY, { vfio: ['nic1'] });
    expect(run(m, m.host.debugfs.sysfsPeState(NIC0))).toBe('0x00000078 0x00000000\n');
    // A passed-through device: frozen, isolated by the query, thawed by the store.
    expect(run(m, m.host.eeh.devOpen(dev(m, 'nic1').edev))).toBe(0);
    run(m, m.host.debugfs.devBreak('0000:00:02.0'));
    expect(run(m, m.host.debugfs.sysfsPeState('0000:00:02.0'))).toBe('0x00000000 0x00000001\n');
    expect(run(m, m.host.debugfs.sysfsPeStateStore('0000:00:02.0'))).toBe(0);
    expect(run(m, m.host.debugfs.sysfsPeState('0000:00:02.0'))).toBe('0x00000078 0x00000000\n');
  });

  it('eeh_dev_can_recover, eeh_force_recover, per-PE fields', () => {
    const m = bootHost(ROOT_TOPOLOGY, { vfio: ['nic1'] });
    expect(m.host.debugfs.devCanRecover(NIC0)).toBe(0);
    expect(m.host.debugfs.devCanRecover('0000:00:02.0')).toBe(-95);
    const pe = m.host.peOf(dev(m, 'nic0'));
    if (!pe) throw new Error('no PE');
    expect(m.host.debugfs.forceRecover(`0:${pe.addr.toString(16)}`)).toBe(0);
    m.sim.run();
    // A recovery event without any state check: the driver is walked through it.
    expect(m.host.eeh.recoveries[0]?.pe).toBe(pe.label);
    expect(m.host.debugfs.forceRecover('hwcheck')).toBe(0);
    m.sim.run();
    expect(m.host.debugfs.forceRecover('1:1')).toBe(-19);
    expect(m.host.debugfs.peState(NIC0)).toMatchObject({
      pe: pe.label,
      type: 'device',
      passDevCnt: 0,
      freezeCount: 1,
      parent: 'PHB#0-PE#0',
      devices: [NIC0],
    });
  });
});
