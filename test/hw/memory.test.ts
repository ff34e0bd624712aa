import { describe, expect, it } from 'vitest';
import { HostMemory, MemoryError, PAGE_SIZE } from '../../src/hw/memory.js';
import { hpa } from '../../src/uapi/ids.js';

describe('HostMemory', () => {
  it('reads back what was written, across page boundaries, zeros elsewhere', () => {
    const m = new HostMemory();
    const data = Uint8Array.from({ length: 10 }, (_, i) => i + 1);
    m.write(hpa(0x1_0000_0000 + PAGE_SIZE - 4), data);
    const got = new Uint8Array(14);
    m.read(hpa(0x1_0000_0000 + PAGE_SIZE - 6), got);
    expect([...got]).toEqual([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0]);
    expect(m.pagesTouched).toBe(2);
    m.writeU32(hpa(0x2_0000_0000), 0xdeadbeef);
    expect(m.readU32(hpa(0x2_0000_0000))).toBe(0xdeadbeef);
  });

  it('digest changes with contents and ignores all-zero pages', () => {
    const m = new HostMemory();
    const empty = m.digest();
    m.write(hpa(0x1_0000_0000), new Uint8Array(16));
    expect(m.digest()).toBe(empty);
    m.write(hpa(0x1_0000_0000), Uint8Array.of(1));
    expect(m.digest()).not.toBe(empty);
  });

  it('allocates aligned, non-overlapping regions and coalesces on release', () => {
    const m = new HostMemory({ base: 0x1_0000_0000, size: 16 * PAGE_SIZE });
    const a = m.alloc(100, 'a');
    const b = m.alloc(PAGE_SIZE * 2, 'b', PAGE_SIZE * 2);
    expect(a.size).toBe(PAGE_SIZE);
    expect(b.base % (PAGE_SIZE * 2)).toBe(0);
    expect(b.base).toBeGreaterThanOrEqual(a.base + a.size);
    expect(m.allocated().map((r) => r.owner)).toEqual(['a', 'b']);
    m.write(a.base, Uint8Array.of(7));
    m.release(a);
    m.release(b);
    expect(m.pagesTouched).toBe(0);
    // After coalescing the whole range is one block again.
    expect(m.alloc(16 * PAGE_SIZE, 'all').base).toBe(0x1_0000_0000);
  });

  it('refuses bad requests and exhaustion with MemoryError', () => {
    const m = new HostMemory({ size: 2 * PAGE_SIZE });
    expect(() => m.alloc(0, 'x')).toThrow(MemoryError);
    expect(() => m.alloc(PAGE_SIZE, 'x', 3000)).toThrow(MemoryError);
    m.alloc(2 * PAGE_SIZE, 'x');
    expect(() => m.alloc(1, 'y')).toThrow(/out of host memory/);
    expect(() => m.release({ base: hpa(0x1234_0000), size: PAGE_SIZE, owner: 'z' })).toThrow(
      MemoryError,
    );
  });
});
