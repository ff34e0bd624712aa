/**
 * Hardware.phbAt() finds the PHB of a CPU address by binary search over
 * the windows sorted by base (src/hw/hardware.ts); it must agree with a
 * linear find over the PHBs for any set of (non-overlapping) windows listed
 * in any order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildHardware } from '../../src/hw/topology.js';
import { Sim } from '../../src/sim/sim.js';

const MIB = 0x10_0000;

describe('Hardware.phbAt', () => {
  it('agrees with a linear find over the PHBs', () => {
    fc.assert(
      fc.property(
        // Distinct 16 MiB slots below 4 GiB, each window 1..16 MiB of its slot.
        fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 12, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 30 }),
        (slots, sizes, addrs) => {
          const hw = buildHardware(new Sim({ seed: 1, trace: false }), {
            phbs: slots.map((slot, i) => ({
              id: i,
              model: 'phb3',
              mmioWindow: { base: slot * 16 * MIB, size: (sizes[i] as number) * MIB },
              devices: [{ model: 'testnic', bdf: '00:01.0' }],
            })),
          });
          const linear = (a: number) =>
            hw.phbs.find((p) => a >= p.window.base && a < p.window.base + p.window.size);
          const edges = hw.phbs.flatMap((p) => [
            p.window.base - 1,
            p.window.base,
            p.window.base + p.window.size - 1,
            p.window.base + p.window.size,
          ]);
          for (const a of [...addrs, ...edges]) expect(hw.phbAt(a)).toBe(linear(a));
        },
      ),
      { numRuns: 100 },
    );
  });
});
