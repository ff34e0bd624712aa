import { describe, expect, it } from 'vitest';
import {
  TESTNIC_BUFFER_BAR,
  TESTNIC_ID,
  TESTNIC_ID_VALUE,
  TESTNIC_SCRATCH,
} from '../../src/hw/devices/testnic.js';
import type { InjectionTrap } from '../../src/hw/error_injection.js';
import type { Pe } from '../../src/hw/pe.js';
import { TCE_PCI_READ, TCE_PCI_WRITE } from '../../src/hw/tce.js';
import { hpa, iova } from '../../src/uapi/ids.js';
import { PCI_COMMAND, PCI_VENDOR_ID } from '../../src/uapi/pci_regs.js';
import { bar, type Machine, machine } from './helpers.js';

const IOVA = 0x2_0000;

/** nic0 with one page mapped read+write at IOVA. */
function setup(): Machine & { pe: Pe; regs: number; page: number } {
  const m = machine();
  const pe = m.phb.peOf(m.nic);
  const page = m.hw.memory.alloc(0x1000, 'test').base;
  pe.tce?.put(iova(IOVA), hpa(page), TCE_PCI_READ | TCE_PCI_WRITE);
  return { ...m, pe, regs: bar(m.nic, 0), page };
}

function trap(pe: Pe, t: Partial<InjectionTrap>): InjectionTrap {
  return {
    pe,
    func: 0,
    source: 'mmio',
    dir: 'load',
    kind: 'injected_addr',
    addr: 0n,
    mask: 0n,
    ...t,
  };
}

describe('PHB MMIO routing', () => {
  it('routes MMIO to the BAR that decodes it, by size, through the fast path and not', () => {
    const { hw, nic, regs } = setup();
    expect(hw.mmioRead(regs + TESTNIC_ID, 4)).toBe(TESTNIC_ID_VALUE);
    expect(hw.mmioRead(regs + TESTNIC_ID, 2)).toBe(0x4943);
    expect(hw.mmioRead(regs + TESTNIC_ID + 3, 1)).toBe(0x54);
    hw.mmioWrite(regs + TESTNIC_SCRATCH, 2, 0xbeef);
    expect(hw.mmioRead(regs + TESTNIC_SCRATCH, 4)).toBe(0xbeef);
    hw.mmioWrite(bar(nic, TESTNIC_BUFFER_BAR) + 8, 4, 0x0102_0304);
    expect(nic.buffer[8]).toBe(4);
    expect(hw.mmioRead(bar(nic, TESTNIC_BUFFER_BAR) + 8, 1)).toBe(4);
  });

  it('answers MMIO nobody owns with all 1s and no error; refuses unaligned MMIO', () => {
    const { hw, phb } = setup();
    expect(hw.mmioRead(0x8f00_0000, 4)).toBe(0xffff_ffff);
    expect(hw.mmioRead(0x10, 2)).toBe(0xffff);
    expect(hw.unclaimedMmio).toBe(1);
    expect(phb.stats.unclaimedLoads).toBe(1);
    expect(phb.errors()).toHaveLength(0);
    expect(() => hw.mmioRead(0x8000_0002, 4)).toThrow(RangeError);
  });

  it('freezes the PE of a segment no BAR claims (eeh_dev_break style)', () => {
    const { hw, phb, pe, regs } = setup();
    expect(hw.mmioRead(regs + TESTNIC_ID, 4)).toBe(TESTNIC_ID_VALUE);
    phb.configWrite(pe.functions[0]?.bdf ?? 0, PCI_COMMAND, 2, 0); // decode off
    expect(hw.mmioRead(regs + TESTNIC_ID, 4)).toBe(0xffff_ffff);
    expect(pe.mmioFrozen && pe.dmaFrozen).toBe(true);
    expect(phb.errors().map((e) => e.kind)).toEqual(['mmio_unclaimed']);
  });
});

describe('frozen PE', () => {
  it('returns all 1s of the access size for MMIO and config loads, drops MMIO stores', () => {
    const { hw, phb, pe, nic, regs } = setup();
    hw.mmioWrite(regs + TESTNIC_SCRATCH, 4, 0x1111);
    expect(hw.mmioRead(regs + TESTNIC_SCRATCH, 4)).toBe(0x1111); // fills the fast path
    phb.freezeSet(pe, true, true);
    expect(hw.mmioRead(regs + TESTNIC_SCRATCH, 4)).toBe(0xffff_ffff);
    expect(hw.mmioRead(regs + TESTNIC_SCRATCH, 2)).toBe(0xffff);
    expect(hw.mmioRead(regs + TESTNIC_SCRATCH, 1)).toBe(0xff);
    expect(phb.configRead(nic.bdf, PCI_VENDOR_ID, 2)).toBe(0xffff);
    hw.mmioWrite(regs + TESTNIC_SCRATCH, 4, 0x2222);
    expect(nic.regs.get(TESTNIC_SCRATCH)).toBe(0x1111);
    expect(pe.stats).toMatchObject({ allOnesLoads: 4, droppedStores: 1, freezes: 1 });
    // Config writes still reach the device (Linux restores config before thawing).
    phb.configWrite(nic.bdf, PCI_COMMAND, 2, 0);
    expect(nic.config.read(PCI_COMMAND, 2)).toBe(0);
    // Other PEs are not affected.
    const nic1 = hw.named('nic1')[0];
    expect(hw.mmioRead(bar(nic1 as typeof nic, 0) + TESTNIC_ID, 4)).toBe(TESTNIC_ID_VALUE);
  });

  it('blocks DMA without touching memory; a TCE miss freezes MMIO and DMA', () => {
    const { phb, pe, nic, page, hw } = setup();
    const buf = Uint8Array.of(1, 2, 3, 4);
    expect(phb.dma(nic, 'write', IOVA, buf)).toBe(true);
    expect(hw.memory.readU32(hpa(page))).toBe(0x0403_0201);
    expect(phb.dma(nic, 'write', IOVA + 0x1000, buf)).toBe(false); // no TCE
    expect(pe.mmioFrozen && pe.dmaFrozen).toBe(true);
    expect(pe.firstError).toMatchObject({ kind: 'tce_invalid', address: IOVA + 0x1000 });
    expect(pe.errorPending).toBe(true);
    const before = hw.memory.digest();
    expect(phb.dma(nic, 'write', IOVA, Uint8Array.of(9, 9, 9, 9))).toBe(false);
    expect(hw.memory.digest()).toBe(before);
    const into = Uint8Array.of(7, 7);
    expect(phb.dma(nic, 'read', IOVA, into)).toBe(false);
    expect([...into]).toEqual([7, 7]);
    expect(pe.stats.blockedDma).toBe(3);
  });

  it('freezes on a TCE without the needed permission', () => {
    const { phb, pe, nic, page } = setup();
    pe.tce?.put(iova(IOVA), hpa(page), TCE_PCI_READ);
    expect(phb.dma(nic, 'read', IOVA, new Uint8Array(4))).toBe(true);
    expect(phb.dma(nic, 'write', IOVA, new Uint8Array(4))).toBe(false);
    expect(pe.firstError?.kind).toBe('tce_permission');
  });

  it('keeps MMIO and DMA freeze separate: thaw MMIO first, DMA stays blocked', () => {
    const { hw, phb, pe, nic, regs } = setup();
    phb.dma(nic, 'write', 0x3fff_f000, new Uint8Array(4)); // no TCE
    phb.thaw(pe, true, false);
    expect(hw.mmioRead(regs + TESTNIC_ID, 4)).toBe(TESTNIC_ID_VALUE);
    expect(phb.dma(nic, 'write', IOVA, new Uint8Array(4))).toBe(false);
    expect(pe.errorPending).toBe(true);
    phb.thaw(pe, false, true);
    expect(phb.dma(nic, 'write', IOVA, new Uint8Array(4))).toBe(true);
    expect(pe.errorPending).toBe(false);
    expect(pe.firstError).toBeUndefined();
  });

  it('freezes the PEs below a frozen PE (PELT-V) but not above', () => {
    const { hw, phb } = setup();
    const [up] = hw.named('sw');
    const nic1 = hw.named('nic1')[0];
    if (!up || !nic1) throw new Error('missing');
    const swPe = phb.peOf(up);
    const nicPe = phb.peOf(nic1);
    expect(nicPe.parent).toBe(swPe);
    phb.detect(swPe, {
      source: 'mmio',
      dir: 'load',
      kind: 'mmio_unclaimed',
      address: 0,
      bdf: undefined,
    });
    expect(nicPe.mmioFrozen).toBe(true);
    expect(nicPe.errorPending).toBe(false);
    phb.thaw(swPe, true, true);
    phb.thaw(nicPe, true, true);
    phb.detect(nicPe, {
      source: 'dma',
      dir: 'read',
      kind: 'tce_invalid',
      address: 0,
      bdf: nic1.bdf,
    });
    expect(swPe.frozen).toBe(false);
    expect(sorted(hwFreezeEvents(hw))).toEqual([swPe.number, nicPe.number, nicPe.number].sort());
  });
});

function hwFreezeEvents(hw: Machine['hw']): number[] {
  return hw.sim.trace.find('hw.pe.freeze').map((r) => r.fields.pe as number);
}
function sorted(a: number[]): number[] {
  return [...a].sort();
}

describe('PHB fence and reset', () => {
  it('a fenced PHB stops every PE: all 1s, dropped stores, blocked DMA, config all 1s', () => {
    const { hw, phb, nic, regs } = setup();
    expect(hw.mmioRead(regs, 4)).toBe(TESTNIC_ID_VALUE);
    phb.fence('test');
    expect(hw.mmioRead(regs, 4)).toBe(0xffff_ffff);
    expect(phb.configRead(nic.bdf, PCI_VENDOR_ID, 2)).toBe(0xffff);
    expect(phb.dma(nic, 'write', IOVA, new Uint8Array(4))).toBe(false);
    for (const p of phb.pes()) expect(p.mmioStop).toBe(true);
    expect(phb.errors().map((e) => e.kind)).toEqual(['fence']);
    phb.completeReset(true);
    phb.completeReset(false);
    expect(phb.fenced).toBe(false);
    expect(phb.errors()).toHaveLength(0);
    for (const p of phb.pes()) expect(p.mmioStop).toBe(false);
  });

  it('PE reset: device back to reset values, BARs cleared, config after the recovery time', () => {
    const { hw, phb, pe, nic, regs, sim } = setup();
    hw.mmioWrite(regs + TESTNIC_SCRATCH, 4, 3);
    phb.resetPe(pe, 'hot', true);
    expect(pe.reset).toBe('hot');
    expect(phb.configRead(nic.bdf, PCI_VENDOR_ID, 2)).toBe(0xffff);
    expect(hw.mmioRead(regs, 4)).toBe(0xffff_ffff);
    expect(phb.dma(nic, 'read', IOVA, new Uint8Array(4))).toBe(false);
    phb.resetPe(pe, 'hot', false);
    expect(phb.configRead(nic.bdf, PCI_VENDOR_ID, 2)).toBe(0xffff);
    sim.run(sim.now + 1_000_000_000);
    expect(phb.configRead(nic.bdf, PCI_VENDOR_ID, 2)).toBe(0x1234);
    expect(nic.barAddress(nic.bars[0] as (typeof nic.bars)[0])).toBe(0);
    expect(nic.regs.get(TESTNIC_SCRATCH)).toBe(0);
    expect(sim.trace.find('hw.pe.reset').map((r) => r.fields.assert)).toEqual([true, false]);
  });
});

describe('error injection trigger', () => {
  it('fires once on the next matching MMIO load of the armed PE', () => {
    const { hw, phb, pe, regs } = setup();
    expect(phb.armTrap(trap(pe, { addr: BigInt(regs + 8), mask: 0xffff_fffcn }))).toBe(true);
    expect(hw.mmioRead(regs + 4, 4)).not.toBe(0xffff_ffff); // no match
    hw.mmioWrite(regs + 8, 4, 1); // a store does not match a load trap
    expect(pe.frozen).toBe(false);
    expect(hw.mmioRead(regs + 8, 4)).toBe(0xffff_ffff);
    expect(pe.firstError).toMatchObject({ kind: 'injected_addr', source: 'mmio', dir: 'load' });
    expect(phb.armedTrap).toBeUndefined();
  });

  it('fires on config and DMA accesses; PHB4 arms config traps only', () => {
    const { phb, pe, nic } = setup();
    phb.armTrap(trap(pe, { source: 'config', dir: 'store', addr: BigInt(nic.bdf), mask: 0xffffn }));
    phb.configWrite(nic.bdf, PCI_COMMAND, 2, 0);
    expect(pe.firstError?.source).toBe('config');
    phb.thaw(pe, true, true);
    phb.armTrap(
      trap(pe, {
        source: 'dma',
        dir: 'read',
        kind: 'injected_data',
        addr: BigInt(IOVA),
        mask: ~0n,
      }),
    );
    expect(phb.dma(nic, 'write', IOVA, new Uint8Array(4))).toBe(true);
    expect(phb.dma(nic, 'read', IOVA, new Uint8Array(4))).toBe(false);
    expect(pe.firstError?.kind).toBe('injected_data');

    const m4 = machine({
      phbs: [{ id: 0, model: 'phb4', devices: [{ model: 'testnic', bdf: '00:01.0' }] }],
    });
    const pe4 = m4.phb.peOf(m4.nic);
    expect(m4.phb.armTrap(trap(pe4, { source: 'mmio' }))).toBe(false);
    expect(m4.phb.armTrap(trap(pe4, { source: 'dma', dir: 'write' }))).toBe(false);
    expect(m4.phb.armTrap(trap(pe4, { source: 'config' }))).toBe(true);
  });
});

describe('error log', () => {
  it('logs errors with time and address, reports the first pending PE, notifies listeners', () => {
    const { phb, pe, nic, sim } = setup();
    const seen: string[] = [];
    phb.onError((r) => seen.push(r.kind));
    sim.run(5000);
    phb.dma(nic, 'write', 0x5000, new Uint8Array(4));
    expect(phb.nextErrorPe()).toBe(pe);
    const d = phb.diag();
    expect(d.records).toHaveLength(1);
    expect(d.records[0]).toMatchObject({ t: 5000, address: 0x5000, pe: pe.number, bdf: nic.bdf });
    expect(d.totalErrors).toBe(1);
    expect(seen).toEqual(['tce_invalid']);
    phb.thaw(pe, true, true);
    expect(phb.nextErrorPe()).toBeUndefined();
  });
});
