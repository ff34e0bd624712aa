/**
 * Trace events of the hardware layer. Addresses are hex strings, BDFs as
 * lspci prints them. Healthy MMIO and config accesses emit nothing (hot path);
 * events mark state changes and blocked or failed accesses.
 */
export {};

declare module '../sim/trace.js' {
  interface TraceEvents {
    /** A PE got frozen; `via` is the PE whose error froze it (PELT-V), itself when direct. */
    'hw.pe.freeze': {
      phb: number;
      pe: number;
      mmio: boolean;
      dma: boolean;
      cause: string;
      addr: string;
      via: number;
    };
    'hw.pe.thaw': { phb: number; pe: number; mmio: boolean; dma: boolean };
    'hw.pe.reset': { phb: number; pe: number; kind: string; assert: boolean };
    'hw.phb.fence': { phb: number; cause: string };
    'hw.phb.dead': { phb: number; cause: string };
    'hw.phb.reset': { phb: number; assert: boolean };
    /** An error the PHB logged (what firmware's diag data reports). */
    'hw.error': {
      phb: number;
      pe: number;
      source: string;
      dir: string;
      kind: string;
      addr: string;
      bdf: string;
    };
    'hw.mmio.dropped_store': { phb: number; pe: number; addr: string; size: number };
    'hw.mmio.unclaimed': { phb: number; addr: string; size: number; store: boolean };
    'hw.dma.blocked': {
      phb: number;
      pe: number;
      bdf: string;
      dir: string;
      iova: string;
      len: number;
      reason: string;
    };
    'hw.inject.armed': { phb: number; pe: number; func: number; addr: string; mask: string };
    'hw.inject.fired': { phb: number; pe: number; func: number; addr: string };
    'hw.bridge.sbr': { bdf: string; assert: boolean };
    /** A device DMA finished (or failed) - testnic's engine. */
    'hw.dev.dma': { bdf: string; dir: string; iova: string; len: number; ok: boolean };
  }
}
