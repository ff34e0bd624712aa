import { describe, expect, it } from 'vitest';
import { RegisterBank } from '../../src/hw/register_bank.js';

function bank(written: number[] = []): RegisterBank {
  return new RegisterBank(0x40, [
    { name: 'ID', offset: 0x0, access: 'ro', reset: 0x1122_3344 },
    { name: 'RW', offset: 0x4, access: 'rw', reset: 0xaabb_ccdd },
    { name: 'ST', offset: 0x8, access: 'w1c', reset: 0x0000_00ff },
    { name: 'DB', offset: 0xc, access: 'wo', write: (v) => written.push(v) },
    { name: 'HK', offset: 0x14, access: 'ro', read: () => 0x55 },
  ]);
}

describe('RegisterBank', () => {
  it('keeps read-only registers, writes read-write ones, clears W1C bits written as 1', () => {
    const b = bank();
    b.write(0x0, 4, 0);
    expect(b.read(0x0, 4)).toBe(0x1122_3344);
    b.write(0x4, 4, 0x1234_5678);
    expect(b.read(0x4, 4)).toBe(0x1234_5678);
    b.write(0x8, 4, 0x0f);
    expect(b.read(0x8, 4)).toBe(0xf0);
  });

  it('reads and merges sub-word lanes little-endian', () => {
    const b = bank();
    expect(b.read(0x0, 1)).toBe(0x44);
    expect(b.read(0x3, 1)).toBe(0x11);
    expect(b.read(0x2, 2)).toBe(0x1122);
    b.write(0x5, 1, 0x00);
    expect(b.read(0x4, 4)).toBe(0xaabb_00dd);
    b.write(0x6, 2, 0x1234);
    expect(b.read(0x4, 4)).toBe(0x1234_00dd);
  });

  it('write-only registers read 0 and pass the value to their hook; read hooks compute', () => {
    const written: number[] = [];
    const b = bank(written);
    b.write(0xc, 4, 0x99);
    expect(written).toEqual([0x99]);
    expect(b.read(0xc, 4)).toBe(0);
    expect(b.read(0x14, 4)).toBe(0x55);
    expect(b.read(0x10, 4)).toBe(0); // unimplemented
    b.write(0x10, 4, 1);
    expect(b.read(0x10, 4)).toBe(0);
  });

  it('reset restores reset values; the direct view stops at the first read hook', () => {
    const b = bank();
    b.write(0x4, 4, 1);
    b.reset();
    expect(b.read(0x4, 4)).toBe(0xaabb_ccdd);
    const d = b.direct();
    expect(d.size).toBe(0x14);
    expect(d.words[1]).toBe(0xaabb_ccdd);
  });

  it('rejects overlapping or misaligned definitions', () => {
    expect(
      () =>
        new RegisterBank(0x10, [
          { name: 'A', offset: 0, access: 'rw' },
          { name: 'B', offset: 0, access: 'rw' },
        ]),
    ).toThrow(RangeError);
    expect(() => new RegisterBank(0x10, [{ name: 'A', offset: 2, access: 'rw' }])).toThrow();
  });
});
