/**
 * Host physical memory: what device DMA reads and writes (after the TCE
 * IOMMU has translated the IOVA), and what KVM later carves guest RAM from.
 *
 * MODEL: memory is sparse 4 KiB pages created on first write; a page never
 * written reads as zeros. There is no cache coherency, no NUMA and no
 * memory error (real POWER memory can raise machine checks / UEs).
 */
import { type Hpa, hpa } from '../uapi/ids.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** A contiguous block handed out by the allocator. */
export interface MemoryRegion {
  readonly base: Hpa;
  readonly size: number;
  readonly owner: string;
}

export interface HostMemoryOptions {
  /** First byte the allocator hands out (default 4 GiB, above the PHB MMIO windows). */
  readonly base?: number;
  /** Bytes the allocator may hand out (default 64 GiB). */
  readonly size?: number;
}

export class MemoryError extends Error {
  override name = 'MemoryError';
}

interface FreeBlock {
  base: number;
  size: number;
}

export class HostMemory {
  private readonly pages = new Map<number, Uint8Array>();
  private free: FreeBlock[];
  private readonly regions = new Map<number, MemoryRegion>();
  readonly base: number;
  readonly size: number;

  constructor(opts: HostMemoryOptions = {}) {
    this.base = opts.base ?? 0x1_0000_0000;
    this.size = opts.size ?? 64 * 2 ** 30;
    this.free = [{ base: this.base, size: this.size }];
  }

  /** Number of 4 KiB pages that have been written at least once. */
  get pagesTouched(): number {
    return this.pages.size;
  }

  /** Copies `dst.length` bytes starting at `addr` into `dst`. */
  read(addr: Hpa, dst: Uint8Array): void {
    this.forEachChunk(addr, dst.length, (page, off, pos, n) => {
      const p = this.pages.get(page);
      if (p) dst.set(p.subarray(off, off + n), pos);
      else dst.fill(0, pos, pos + n);
    });
  }

  /** Copies `src` into memory starting at `addr`. */
  write(addr: Hpa, src: Uint8Array): void {
    this.forEachChunk(addr, src.length, (page, off, pos, n) => {
      let p = this.pages.get(page);
      if (!p) {
        p = new Uint8Array(PAGE_SIZE);
        this.pages.set(page, p);
      }
      p.set(src.subarray(pos, pos + n), off);
    });
  }

  readU32(addr: Hpa): number {
    const b = new Uint8Array(4);
    this.read(addr, b);
    return new DataView(b.buffer).getUint32(0, true);
  }

  writeU32(addr: Hpa, value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    this.write(addr, b);
  }

  /**
   * A cheap fingerprint of the whole memory contents (FNV-1a over the
   * non-zero pages in address order); equal contents give equal digests.
   */
  digest(): string {
    let h = 0x811c9dc5;
    const keys = [...this.pages.keys()].sort((a, b) => a - b);
    for (const k of keys) {
      const p = this.pages.get(k) as Uint8Array;
      if (p.every((b) => b === 0)) continue;
      h = Math.imul(h ^ (k & 0xffff_ffff), 0x01000193);
      for (let i = 0; i < p.length; i++) h = Math.imul(h ^ (p[i] as number), 0x01000193);
    }
    return (h >>> 0).toString(16).padStart(8, '0');
  }

  /**
   * Allocates `size` bytes aligned to `align` (first fit). Throws MemoryError
   * when no free block fits: allocation happens while a machine is set up,
   * not across a modelled boundary.
   */
  alloc(size: number, owner: string, align = PAGE_SIZE): MemoryRegion {
    if (!Number.isSafeInteger(size) || size <= 0) throw new MemoryError(`bad size ${size}`);
    if (!isPowerOfTwo(align) || align < PAGE_SIZE) throw new MemoryError(`bad alignment ${align}`);
    const rounded = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i] as FreeBlock;
      const start = Math.ceil(b.base / align) * align;
      const end = b.base + b.size;
      if (start + rounded > end) continue;
      const pieces: FreeBlock[] = [];
      if (start > b.base) pieces.push({ base: b.base, size: start - b.base });
      if (start + rounded < end)
        pieces.push({ base: start + rounded, size: end - start - rounded });
      this.free.splice(i, 1, ...pieces);
      const region: MemoryRegion = { base: hpa(start), size: rounded, owner };
      this.regions.set(start, region);
      return region;
    }
    throw new MemoryError(`out of host memory: ${owner} wants ${size} bytes`);
  }

  /** Returns a region to the allocator and forgets its contents. */
  release(region: MemoryRegion): void {
    if (this.regions.get(region.base) !== region) {
      throw new MemoryError(`release of unknown region at 0x${region.base.toString(16)}`);
    }
    this.regions.delete(region.base);
    for (let a: number = region.base; a < region.base + region.size; a += PAGE_SIZE) {
      this.pages.delete(a / PAGE_SIZE);
    }
    this.free.push({ base: region.base, size: region.size });
    this.free.sort((a, b) => a.base - b.base);
    const merged: FreeBlock[] = [];
    for (const b of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.base + last.size === b.base) last.size += b.size;
      else merged.push({ ...b });
    }
    this.free = merged;
  }

  /** Allocated regions in address order. */
  allocated(): MemoryRegion[] {
    return [...this.regions.values()].sort((a, b) => a.base - b.base);
  }

  private forEachChunk(
    addr: number,
    len: number,
    fn: (page: number, off: number, pos: number, n: number) => void,
  ): void {
    let pos = 0;
    while (pos < len) {
      const a = addr + pos;
      const page = Math.floor(a / PAGE_SIZE);
      const off = a - page * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - pos);
      fn(page, off, pos, n);
      pos += n;
    }
  }
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}
