/**
 * PciSubsystem.deviceAt() finds the device by binary search in an address
 * index (src/kernel/pci_core.ts); it must give the linear scan's answer -
 * the first device in list order, not removed, with a BAR holding the
 * address - for any resources, overlapping and unassigned ones included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PciDev } from '../../src/kernel/pci.js';
import { PciSubsystem } from '../../src/kernel/pci_core.js';
import type { Task } from '../../src/sim/scheduler.js';
import type { Bdf } from '../../src/uapi/ids.js';

const mmio = {
  *read(): Task<number> {
    return 0;
  },
  *write(): Task<void> {},
};

const resource = fc.record({
  // Small starts so that ranges overlap often; 0 as an unassigned BAR.
  start: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 0, max: 64 }).map((k) => k * 0x1000),
  ),
  size: fc.constantFrom(0, 0x1000, 0x2000, 0x10000),
});
const device = fc.record({
  resources: fc.array(resource, { maxLength: 3 }),
  removed: fc.boolean(),
});

function build(devs: { resources: { start: number; size: number }[]; removed: boolean }[]) {
  const pci = new PciSubsystem(mmio);
  for (const [i, d] of devs.entries()) {
    const pdev = new PciDev(
      0,
      (i << 3) as Bdf,
      0x1014,
      0x1,
      false,
      d.resources.map((r, index) => ({ index, start: r.start, size: r.size, is64: false })),
    );
    pdev.removed = d.removed;
    pci.addDevice(pdev);
  }
  return pci;
}

const address = fc.integer({ min: 0, max: 0x52000 });

describe('PciSubsystem.deviceAt', () => {
  it('agrees with the linear scan for random devices and addresses', () => {
    fc.assert(
      fc.property(
        fc.array(device, { maxLength: 24 }),
        fc.array(address, { maxLength: 40 }),
        (devs, addrs) => {
          const pci = build(devs);
          for (const a of addrs) expect(pci.deviceAt(a)).toBe(pci.deviceAtLinear(a));
          // Range edges: first byte, last byte, one past the end.
          for (const d of pci.devices)
            for (const r of d.resources)
              for (const a of [r.start, r.start + r.size - 1, r.start + r.size])
                expect(pci.deviceAt(a)).toBe(pci.deviceAtLinear(a));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('follows removal and re-adding, and devices added after a lookup', () => {
    fc.assert(
      fc.property(
        fc.array(device, { minLength: 1, maxLength: 12 }),
        fc.array(device, { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.array(address, { maxLength: 20 }),
        (first, later, flips, addrs) => {
          const pci = build(first);
          for (const a of addrs) expect(pci.deviceAt(a)).toBe(pci.deviceAtLinear(a));
          for (const p of build(later).devices) pci.addDevice(p);
          for (const k of flips) {
            const d = pci.devices[k % pci.devices.length] as PciDev;
            d.removed = !d.removed;
            for (const a of addrs) expect(pci.deviceAt(a)).toBe(pci.deviceAtLinear(a));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
