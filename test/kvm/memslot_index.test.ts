/**
 * Vm.mmioSlotAt() finds the MMIO slot holding a guest-physical address by
 * binary search (src/kvm/vm.ts); it must agree with a linear scan of the
 * VM's slots after any sequence of creations, moves and deletions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MemSlot, Vm } from '../../src/kvm/vm.js';
import { makeVm } from './helpers.js';

const PAGE = 0x1000;
const op = fc.record({
  slot: fc.integer({ min: 1, max: 8 }),
  page: fc.integer({ min: 0, max: 48 }),
  pages: fc.constantFrom(0, 1, 2, 4),
});

function linear(vm: Vm, gpa: number): MemSlot | undefined {
  for (const s of vm.slots.values()) {
    if (s.kind === 'mmio' && gpa >= s.gpa && gpa < s.gpa + s.size) return s;
  }
  return undefined;
}

describe('Vm.mmioSlotAt', () => {
  it('agrees with a linear scan of the slots', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 56 * PAGE }), { maxLength: 30 }),
        (ops, addrs) => {
          const s = makeVm(1 << 20);
          const vm = s.kvm.vmOf(s.proc, s.vmFd) as Vm;
          for (const o of ops) {
            // Device memory (outside host RAM): MMIO slots, 0x4000_0000 above their gpa.
            const gpa = 0x10_0000 + o.page * PAGE;
            const uaddr = 0x4000_0000 + o.slot * 0x10_0000;
            vm.setUserMemoryRegion(
              s.proc,
              o.slot,
              0,
              BigInt(gpa),
              BigInt(o.pages * PAGE),
              BigInt(uaddr),
            );
            for (const a of addrs) {
              const g = 0x10_0000 + a - 8 * PAGE;
              expect(vm.mmioSlotAt(g)).toBe(linear(vm, g));
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
