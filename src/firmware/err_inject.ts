/**
 * OPAL_PCI_ERR_INJECT as skiboot implements it for PHB3 (hw/phb3.c
 * phb3_err_inject and its _cfg / _mem32 / _mem64 / _dma helpers): decode
 * the function, pick an address inside the PE's resources (the caller's if
 * it is one, else the first resource with a mask covering it), and arm the
 * PHB's injection trigger. PHB4 hardware injects config errors only
 * (hw/phb4.c: the memory and DMA helpers return OPAL_UNSUPPORTED).
 */
import type { InjectionTrap, TrapDir, TrapSource } from '../hw/error_injection.js';
import type { Pe } from '../hw/pe.js';
import type { Phb } from '../hw/phb.js';
import {
  type DiagKind,
  OPAL_ERR_INJECT_FUNC_MAX,
  OPAL_PARAMETER,
  OPAL_UNSUPPORTED,
  type OpalRc,
} from '../uapi/opal.js';

const U64 = (1n << 64n) - 1n;

interface FuncInfo {
  readonly source: TrapSource;
  readonly dir: TrapDir;
  readonly kind: DiagKind;
}

/** The kinds of the ADDR / DATA functions, and of the DMA ones (+ MASTER / TARGET abort). */
const ADDR_DATA = ['injected_addr', 'injected_data'] as const;
const DMA_KINDS = [...ADDR_DATA, 'injected_master_abort', 'injected_target_abort'] as const;

const funcs = (source: TrapSource, dir: TrapDir, kinds: readonly DiagKind[]): FuncInfo[] =>
  kinds.map((kind) => ({ source, dir, kind }));

/**
 * OPAL_ERR_INJECT_FUNC_IOA_* 0..19 in order: LD then ST of MEM, IO, CFG
 * (each ADDR, DATA), then DMA_RD and DMA_WR (each ADDR, DATA, MASTER,
 * TARGET). The I/O-space functions (2, 3, 8, 9) are undefined: skiboot's
 * switch has no case for them, so they end in OPAL_PARAMETER (POWER PHBs
 * have no I/O space).
 */
const NO_IO = [undefined, undefined] as const;
const FUNCS: readonly (FuncInfo | undefined)[] = [
  ...funcs('mmio', 'load', ADDR_DATA), // LD_MEM_ADDR, LD_MEM_DATA
  ...NO_IO, // LD_IO_ADDR, LD_IO_DATA
  ...funcs('config', 'load', ADDR_DATA), // LD_CFG_ADDR, LD_CFG_DATA
  ...funcs('mmio', 'store', ADDR_DATA), // ST_MEM_ADDR, ST_MEM_DATA
  ...NO_IO, // ST_IO_ADDR, ST_IO_DATA
  ...funcs('config', 'store', ADDR_DATA), // ST_CFG_ADDR, ST_CFG_DATA
  ...funcs('dma', 'read', DMA_KINDS), // DMA_RD_ADDR, _DATA, _MASTER, _TARGET
  ...funcs('dma', 'write', DMA_KINDS), // DMA_WR_ADDR, _DATA, _MASTER, _TARGET
];

export function injectFunc(func: number): FuncInfo | undefined {
  return Number.isInteger(func) && func >= 0 && func <= OPAL_ERR_INJECT_FUNC_MAX
    ? FUNCS[func]
    : undefined;
}

/** A mask covering an aligned block of the lowest set bit of `len` (skiboot: len & ~(len - 1)). */
function blockMask(len: number): bigint {
  const low = BigInt(len) & -BigInt(len);
  return U64 ^ (low - 1n);
}

/**
 * The trap for `func` on `pe`, or an OPAL error code. `addr`/`mask` are the
 * caller's u64 values.
 */
export function buildTrap(
  phb: Phb,
  pe: Pe,
  func: number,
  info: FuncInfo,
  addr: bigint,
  mask: bigint,
): InjectionTrap | OpalRc {
  if (!phb.info.injects.includes(info.source)) return OPAL_UNSUPPORTED;
  const base = { pe, func, source: info.source, dir: info.dir, kind: info.kind };
  mask &= U64;
  addr &= U64;
  switch (info.source) {
    case 'config': {
      // A bus PE matches any devfn on its bus; a device PE one requester ID.
      const first = pe.functions[0];
      if (!first) return OPAL_PARAMETER;
      const field = pe.kind === 'bus' ? 0xff00n : 0xffffn;
      const mine = pe.functions.some((f) => (BigInt(f.bdf) & field) === (addr & field));
      return mine
        ? { ...base, addr, mask }
        : { ...base, addr: BigInt(first.bdf) & field, mask: field };
    }
    case 'mmio': {
      const segs = phb.segmentsOf(pe);
      const first = segs[0];
      if (!first) return OPAL_PARAMETER;
      const hit = segs.some((s) => addr >= BigInt(s.base) && addr < BigInt(s.base + s.size));
      return hit
        ? { ...base, addr, mask }
        : { ...base, addr: BigInt(first.base), mask: blockMask(first.size) };
    }
    case 'dma': {
      if (!pe.tce) return OPAL_UNSUPPORTED;
      const inWindow = addr !== 0n && addr < BigInt(pe.tce.windowSize);
      return inWindow
        ? { ...base, addr, mask }
        : { ...base, addr: 0n, mask: blockMask(pe.tce.windowSize) };
    }
  }
}
