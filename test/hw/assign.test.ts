import { describe, expect, it } from 'vitest';
import { AssignError, assignResources, probeBar } from '../../src/hw/assign.js';
import { buildHardware } from '../../src/hw/topology.js';
import { Sim } from '../../src/sim/sim.js';
import { PCI_MEMORY_BASE, PCI_MEMORY_LIMIT } from '../../src/uapi/pci_regs.js';
import { MACHINE } from './helpers.js';

describe('assignResources', () => {
  it('sizes BARs by probing and restores them', () => {
    const hw = buildHardware(new Sim(), MACHINE);
    const phb = hw.phbs[0];
    const nic = hw.named('nic0')[0];
    if (!phb || !nic) throw new Error('missing');
    expect(probeBar(phb, nic.bdf, 0)).toEqual({ size: 0x1000, is64: false });
    expect(probeBar(phb, nic.bdf, 2)).toEqual({ size: 0x1_0000, is64: true });
    expect(probeBar(phb, nic.bdf, 1)).toBeUndefined();
    expect(phb.configRead(nic.bdf, 0x10, 4)).toBe(0);
  });

  it('places naturally aligned, non-overlapping BARs inside the window and bridge windows', () => {
    const hw = buildHardware(new Sim(), MACHINE);
    const placed = assignResources(hw);
    const phb = hw.phbs[0];
    if (!phb) throw new Error('no PHB');
    expect(placed).toHaveLength(6); // nic0 2, dual 1 + 1, nic1 2
    const sorted = [...placed].sort((a, b) => a.base - b.base);
    sorted.forEach((a, i) => {
      expect(a.base % a.size).toBe(0);
      expect(a.base).toBeGreaterThanOrEqual(phb.window.base);
      expect(a.base + a.size).toBeLessThanOrEqual(phb.window.base + phb.window.size);
      const next = sorted[i + 1];
      if (next) expect(a.base + a.size).toBeLessThanOrEqual(next.base);
    });
    const [, d0] = hw.named('sw');
    const nic1 = hw.named('nic1')[0];
    if (!d0 || !nic1) throw new Error('missing');
    const lo = (phb.configRead(d0.bdf, PCI_MEMORY_BASE, 2) & 0xfff0) * 0x1_0000;
    const hi = (phb.configRead(d0.bdf, PCI_MEMORY_LIMIT, 2) & 0xfff0) * 0x1_0000 + 0xf_ffff;
    for (const a of placed.filter((p) => p.bdf === nic1.bdf)) {
      expect(a.base).toBeGreaterThanOrEqual(lo);
      expect(a.base + a.size - 1).toBeLessThanOrEqual(hi);
    }
    // Each BAR's range is mapped to its function's PE.
    for (const a of placed) {
      const fn = phb.findFunction(a.bdf);
      expect(phb.segmentsOf(phb.peOf(fn as never)).some((s) => s.base === a.base)).toBe(true);
    }
  });

  it('fails when the BARs do not fit the window', () => {
    const hw = buildHardware(new Sim(), {
      phbs: [
        {
          id: 0,
          model: 'phb3',
          mmioWindow: { base: 0x8000_0000, size: 0x10_0000 },
          devices: [
            { model: 'pcie_switch', bdf: '00:01.0', ports: 1 },
            { model: 'testnic', bdf: '02:00.0' },
            { model: 'testnic', bdf: '00:02.0' },
          ],
        },
      ],
    });
    expect(() => assignResources(hw)).toThrow(AssignError);
  });
});
