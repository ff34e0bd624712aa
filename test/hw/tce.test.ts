import { describe, expect, it } from 'vitest';
import { TCE_PAGE_SIZE, TCE_PCI_READ, TCE_PCI_WRITE, TceTable } from '../../src/hw/tce.js';
import { hpa, iova } from '../../src/uapi/ids.js';

describe('TceTable', () => {
  it('translates page by page, merging contiguous host pages', () => {
    const t = new TceTable(0x10_0000);
    expect(t.put(iova(0x1000), hpa(0x1_0000_0000), TCE_PCI_READ | TCE_PCI_WRITE)).toBe(true);
    expect(t.put(iova(0x2000), hpa(0x1_0000_1000), TCE_PCI_READ | TCE_PCI_WRITE)).toBe(true);
    expect(t.put(iova(0x3000), hpa(0x2_0000_0000), TCE_PCI_READ)).toBe(true);
    expect(t.mapped).toBe(3);
    expect(t.lookup(0x3abc)).toEqual({ hpa: 0x2_0000_0000, perm: TCE_PCI_READ });
    const tr = t.translate(0x1800, 0x2000, 'read');
    expect(tr).toEqual({
      ok: true,
      chunks: [
        [0x1_0000_0800, 0x1800],
        [0x2_0000_0000, 0x800],
      ],
    });
  });

  it('reports the first faulting page: no TCE, missing permission, outside the window', () => {
    const t = new TceTable(4 * TCE_PAGE_SIZE);
    t.put(iova(0), hpa(0x1_0000_0000), TCE_PCI_READ);
    expect(t.translate(0x800, 0x1000, 'read')).toEqual({
      ok: false,
      fault: 'tce_invalid',
      iova: 0x1000,
    });
    expect(t.translate(0x10, 4, 'write')).toEqual({
      ok: false,
      fault: 'tce_permission',
      iova: 0x10,
    });
    expect(t.translate(4 * TCE_PAGE_SIZE, 4, 'read')).toMatchObject({ fault: 'dma_window' });
    t.clear(iova(0));
    expect(t.lookup(0)).toBeUndefined();
  });

  it('refuses entries outside the window, unaligned host pages or without permission', () => {
    const t = new TceTable(TCE_PAGE_SIZE);
    expect(t.put(iova(TCE_PAGE_SIZE), hpa(0x1000), TCE_PCI_READ)).toBe(false);
    expect(t.put(iova(0), hpa(0x1001), TCE_PCI_READ)).toBe(false);
    expect(t.put(iova(0), hpa(0x1000), 0)).toBe(false);
    expect(t.put(iova(0), hpa(0x1000), 4)).toBe(false);
    expect(() => new TceTable(100)).toThrow(RangeError);
    t.put(iova(0), hpa(0x1000), TCE_PCI_WRITE);
    t.clearAll();
    expect(t.mapped).toBe(0);
  });
});
