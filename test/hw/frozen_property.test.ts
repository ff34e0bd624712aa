/**
 * Property: on a frozen PE no sequence of MMIO stores changes device state,
 * every load returns all 1s of its size, and blocked DMA never writes memory.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { AccessSize } from '../../src/hw/config_space.js';
import {
  TESTNIC_BUFFER_BAR,
  TESTNIC_BUFFER_SIZE,
  TESTNIC_REGS_BAR,
  TESTNIC_REGS_SIZE,
} from '../../src/hw/devices/testnic.js';
import { TCE_PCI_READ, TCE_PCI_WRITE } from '../../src/hw/tce.js';
import { hpa, iova } from '../../src/uapi/ids.js';
import { bar, machine } from './helpers.js';

const ONES: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff };

const access = fc.record({
  bar: fc.constantFrom(TESTNIC_REGS_BAR, TESTNIC_BUFFER_BAR),
  size: fc.constantFrom<AccessSize>(1, 2, 4),
  word: fc.nat(TESTNIC_REGS_SIZE / 4 - 1),
  lane: fc.nat(3),
  value: fc.nat(0xffff_ffff),
  store: fc.boolean(),
});

describe('frozen PE (property)', () => {
  it('stores change nothing and loads are all 1s of their size', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<[boolean, boolean]>([true, true], [true, false]),
        fc.array(access, { minLength: 1, maxLength: 40 }),
        ([mmio, dma], ops) => {
          const { hw, phb, nic } = machine();
          const pe = phb.peOf(nic);
          // Warm the caches with a healthy read first: the fast path must not leak.
          hw.mmioRead(bar(nic, TESTNIC_REGS_BAR), 4);
          phb.freezeSet(pe, mmio, dma);
          const regs = nic.regs.direct().words.slice();
          const buffer = nic.buffer.slice();
          const config = Array.from({ length: 64 }, (_, i) => nic.config.read(i * 4, 4));
          for (const op of ops) {
            const max = op.bar === TESTNIC_BUFFER_BAR ? TESTNIC_BUFFER_SIZE : TESTNIC_REGS_SIZE;
            const off = Math.min(op.word * 4 + (op.lane & (4 - op.size)), max - op.size);
            const addr = bar(nic, op.bar) + off;
            if (op.store) hw.mmioWrite(addr, op.size, op.value & ONES[op.size]);
            else if (hw.mmioRead(addr, op.size) !== ONES[op.size]) return false;
          }
          return (
            nic.regs.direct().words.every((w, i) => w === regs[i]) &&
            nic.buffer.every((b, i) => b === buffer[i]) &&
            config.every((v, i) => nic.config.read(i * 4, 4) === v)
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('blocked DMA never writes memory, whatever the IOVA, length or mapping', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            page: fc.nat(7),
            off: fc.nat(0xfff),
            len: fc.integer({ min: 1, max: 0x2000 }),
          }),
          { minLength: 1, maxLength: 10 },
        ),
        fc.boolean(),
        (dmas, causeByFault) => {
          const { hw, phb, nic } = machine();
          const pe = phb.peOf(nic);
          const region = hw.memory.alloc(8 * 0x1000, 'prop');
          for (let p = 0; p < 8; p++) {
            pe.tce?.put(
              iova(p * 0x1000),
              hpa(region.base + p * 0x1000),
              TCE_PCI_READ | TCE_PCI_WRITE,
            );
          }
          hw.memory.write(region.base, new Uint8Array(8 * 0x1000).fill(0x5a));
          if (causeByFault) phb.dma(nic, 'write', 0x100_0000, new Uint8Array(4));
          else phb.freezeSet(pe, false, true);
          const before = hw.memory.digest();
          for (const d of dmas) {
            const data = new Uint8Array(d.len).fill(0xa5);
            if (phb.dma(nic, 'write', d.page * 0x1000 + d.off, data)) return false;
          }
          return hw.memory.digest() === before;
        },
      ),
      { numRuns: 60 },
    );
  });
});
