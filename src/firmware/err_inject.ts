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

/**
 * OPAL_ERR_INJECT_FUNC_IOA_* 0..19 in order. The I/O-space functions (2, 3,
 * 8, 9) are undefined: skiboot's switch has no case for them, so they end
 * in OPAL_PARAMETER (POWER PHBs have no I/O space).
 */
const FUNCS: readonly (FuncInfo | undefined)[] = [
  { source: 'mmio', dir: 'load', kind: 'injected_addr' }, // LD_MEM_ADDR
  { source: 'mmio', dir: 'load', kind: 'injected_data' }, // LD_MEM_DATA
  undefined, // LD_IO_ADDR
  undefined, // LD_IO_DATA
  { source: 'config', dir: 'load', kind: 'injected_addr' }, // LD_CFG_ADDR
  { source: 'config', dir: 'load', kind: 'injected_data' }, // LD_CFG_DATA
  { source: 'mmio', dir: 'store', kind: 'injected_addr' }, // ST_MEM_ADDR
  { source: 'mmio', dir: 'store', kind: 'injected_data' }, // ST_MEM_DATA
  undefined, // ST_IO_ADDR
  undefined, // ST_IO_DATA
  { source: 'config', dir: 'store', kind: 'injected_addr' }, // ST_CFG_ADDR
  { source: 'config', dir: 'store', kind: 'injected_data' }, // ST_CFG_DATA
  { source: 'dma', dir: 'read', kind: 'injected_addr' }, // DMA_RD_ADDR
  { source: 'dma', dir: 'read', kind: 'injected_data' }, // DMA_RD_DATA
  { source: 'dma', dir: 'read', kind: 'injected_master_abort' }, // DMA_RD_MASTER
  { source: 'dma', dir: 'read', kind: 'injected_target_abort' }, // DMA_RD_TARGET
  { source: 'dma', dir: 'write', kind: 'injected_addr' }, // DMA_WR_ADDR
  { source: 'dma', dir: 'write', kind: 'injected_data' }, // DMA_WR_DATA
  { source: 'dma', dir: 'write', kind: 'injected_master_abort' }, // DMA_WR_MASTER
  { source: 'dma', dir: 'write', kind: 'injected_target_abort' }, // DMA_WR_TARGET
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
