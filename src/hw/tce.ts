/**
 * A PE's TCE table: the POWER IOMMU translation from I/O virtual address
 * (what the device puts on the bus) to host physical page, with read/write
 * permission per page. One table per PE DMA window.
 *
 * MODEL: one 32-bit DMA window per PE starting at IOVA 0 with 4 KiB TCE
 * pages, held as a sparse map. Real PHB3/PHB4 have two windows per PE (TVE
 * 2n / 2n+1, the second at 1 << 59 for 64-bit DMA), multi-level tables in
 * host memory that the PHB fetches through a TCE cache, and page sizes up
 * to 256 MiB (cf. skiboot hw/phb3.c phb3_map_pe_dma_window).
 */
import type { Hpa, Iova } from '../uapi/ids.js';

export const TCE_PAGE_SHIFT = 12;
export const TCE_PAGE_SIZE = 1 << TCE_PAGE_SHIFT;
/** The device may read this page (DMA read, memory -> device). cf. arch/powerpc/include/asm/tce.h */
export const TCE_PCI_READ = 0x1;
/** The device may write this page (DMA write, device -> memory). */
export const TCE_PCI_WRITE = 0x2;

/** `read`: device reads memory; `write`: device writes memory. */
export type DmaDir = 'read' | 'write';
export type TceFault = 'dma_window' | 'tce_invalid' | 'tce_permission';

export interface TceEntry {
  readonly hpa: Hpa;
  readonly perm: number;
}

export type Translation =
  | { readonly ok: true; readonly chunks: readonly (readonly [hpa: number, len: number])[] }
  | { readonly ok: false; readonly fault: TceFault; readonly iova: number };

export class TceTable {
  /** io page number -> host page address | permission bits */
  private readonly entries = new Map<number, number>();

  constructor(
    /** Bytes of IOVA space the window covers, from IOVA 0. */
    readonly windowSize: number,
  ) {
    if (windowSize <= 0 || windowSize % TCE_PAGE_SIZE !== 0) {
      throw new RangeError(`DMA window size ${windowSize} is not a multiple of 4 KiB`);
    }
  }

  /** Number of valid entries. */
  get mapped(): number {
    return this.entries.size;
  }

  /**
   * Installs the TCE for the page holding `iova` (H_PUT_TCE / the host's
   * iommu_map). Returns false if the IOVA is outside the window, the host
   * address is not page aligned or no permission is given.
   */
  put(iova: Iova, hpa: Hpa, perm: number): boolean {
    if (iova < 0 || iova >= this.windowSize || hpa % TCE_PAGE_SIZE !== 0) return false;
    if ((perm & (TCE_PCI_READ | TCE_PCI_WRITE)) === 0 || perm & ~3) return false;
    this.entries.set(Math.floor(iova / TCE_PAGE_SIZE), hpa + perm);
    return true;
  }

  /** Invalidates the TCE for the page holding `iova`. */
  clear(iova: Iova): void {
    this.entries.delete(Math.floor(iova / TCE_PAGE_SIZE));
  }

  clearAll(): void {
    this.entries.clear();
  }

  lookup(iova: number): TceEntry | undefined {
    const e = this.entries.get(Math.floor(iova / TCE_PAGE_SIZE));
    if (e === undefined) return undefined;
    return { hpa: (e - (e % TCE_PAGE_SIZE)) as Hpa, perm: e % TCE_PAGE_SIZE };
  }

  /**
   * Translates a whole transfer. Every page must be inside the window, have a
   * valid TCE and the permission `dir` needs; the first page that does not
   * is reported (and nothing is transferred).
   */
  translate(iova: number, len: number, dir: DmaDir): Translation {
    const need = dir === 'read' ? TCE_PCI_READ : TCE_PCI_WRITE;
    const chunks: [number, number][] = [];
    let pos = 0;
    while (pos < len) {
      const a = iova + pos;
      if (a < 0 || a >= this.windowSize) return { ok: false, fault: 'dma_window', iova: a };
      const e = this.entries.get(Math.floor(a / TCE_PAGE_SIZE));
      if (e === undefined) return { ok: false, fault: 'tce_invalid', iova: a };
      if (((e % TCE_PAGE_SIZE) & need) === 0)
        return { ok: false, fault: 'tce_permission', iova: a };
      const off = a % TCE_PAGE_SIZE;
      const n = Math.min(TCE_PAGE_SIZE - off, len - pos);
      const host = e - (e % TCE_PAGE_SIZE) + off;
      const last = chunks[chunks.length - 1];
      if (last && last[0] + last[1] === host) last[1] += n;
      else chunks.push([host, n]);
      pos += n;
    }
    return { ok: true, chunks };
  }
}
