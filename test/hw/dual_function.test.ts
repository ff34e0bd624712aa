import { describe, expect, it } from 'vitest';
import {
  DUAL_FUNC,
  DUAL_ID,
  DUAL_ID_VALUE,
  DUAL_MAILBOX,
  DUAL_SCRATCH,
} from '../../src/hw/devices/dual_function.js';
import { PCI_HEADER_TYPE, PCI_HEADER_TYPE_MFD } from '../../src/uapi/pci_regs.js';
import { bar, machine } from './helpers.js';

describe('dual_function', () => {
  it('is two functions of one device (MFD on function 0) sharing one PE by default', () => {
    const { hw, phb } = machine();
    const [f0, f1] = hw.named('dual');
    if (!f0 || !f1) throw new Error('missing functions');
    expect(phb.configRead(f0.bdf, PCI_HEADER_TYPE, 1)).toBe(PCI_HEADER_TYPE_MFD);
    expect(phb.configRead(f1.bdf, PCI_HEADER_TYPE, 1)).toBe(0);
    expect(phb.peOf(f0)).toBe(phb.peOf(f1));
    expect(hw.mmioRead(bar(f0, 0) + DUAL_ID, 4)).toBe(DUAL_ID_VALUE);
    expect(hw.mmioRead(bar(f1, 0) + DUAL_FUNC, 4)).toBe(1);
  });

  it('shares the mailbox, keeps scratch per function; function 0 reset clears the mailbox', () => {
    const { hw, phb } = machine();
    const [f0, f1] = hw.named('dual');
    if (!f0 || !f1) throw new Error('missing functions');
    const a0 = bar(f0, 0);
    const a1 = bar(f1, 0);
    hw.mmioWrite(a0 + DUAL_MAILBOX, 4, 0x1234);
    hw.mmioWrite(a0 + DUAL_SCRATCH, 4, 0xaa);
    expect(hw.mmioRead(a1 + DUAL_MAILBOX, 4)).toBe(0x1234);
    expect(hw.mmioRead(a1 + DUAL_SCRATCH, 4)).toBe(0);
    f1.reset('hot');
    expect(f0.mmioRead(0, DUAL_MAILBOX, 4)).toBe(0x1234);
    expect(f1.mmioRead(0, DUAL_MAILBOX, 4)).toBe(0x1234);
    f0.reset('hot');
    expect(f1.mmioRead(0, DUAL_MAILBOX, 4)).toBe(0);
    // An error on function 1 freezes function 0 too: they are one PE.
    phb.detect(phb.peOf(f1), {
      source: 'dma',
      dir: 'write',
      kind: 'tce_invalid',
      address: 0,
      bdf: f1.bdf,
    });
    expect(phb.configRead(f0.bdf, 0, 4)).toBe(0xffff_ffff);
  });
});
