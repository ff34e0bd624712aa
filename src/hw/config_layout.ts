/**
 * Register tables of the standard config-space layouts: the type 0 header
 * (endpoints) with its BARs, the type 1 header (bridges, PCIe switch
 * ports), and capability chains (PCI Express capability, AER extended
 * capability). Device models compose these instead of writing registers by
 * hand. Layout per the PCI Local Bus 3.0 / PCIe Base specifications and
 * linux/include/uapi/linux/pci_regs.h.
 */
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_IO_MASK,
  PCI_BASE_ADDRESS_MEM_MASK,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_BIST,
  PCI_BRIDGE_CONTROL,
  PCI_CACHE_LINE_SIZE,
  PCI_CAP_ID_EXP,
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_CAPABILITY_LIST,
  PCI_CARDBUS_CIS,
  PCI_CFG_SPACE_SIZE,
  PCI_CLASS_REVISION,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_DEVICE_ID,
  PCI_ERR_CAP,
  PCI_ERR_COR_MASK,
  PCI_ERR_COR_STATUS,
  PCI_ERR_HEADER_LOG,
  PCI_ERR_UNCOR_MASK,
  PCI_ERR_UNCOR_SEVER,
  PCI_ERR_UNCOR_STATUS,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVSTA,
  PCI_EXP_FLAGS,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCTL,
  PCI_EXP_LNKSTA,
  PCI_EXP_LNKSTA_CLS_8_0GB,
  PCI_EXP_LNKSTA_DLLLA,
  PCI_EXP_LNKSTA_NLW_X8,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXT_CAP_ID_ERR,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_HEADER_TYPE_MFD,
  PCI_HEADER_TYPE_NORMAL,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_IO_BASE,
  PCI_IO_BASE_UPPER16,
  PCI_IO_LIMIT,
  PCI_IO_LIMIT_UPPER16,
  PCI_LATENCY_TIMER,
  PCI_MAX_LAT,
  PCI_MEMORY_BASE,
  PCI_MEMORY_LIMIT,
  PCI_MEMORY_RANGE_MASK,
  PCI_MIN_GNT,
  PCI_PREF_BASE_UPPER32,
  PCI_PREF_LIMIT_UPPER32,
  PCI_PREF_MEMORY_BASE,
  PCI_PREF_MEMORY_LIMIT,
  PCI_PREF_RANGE_MASK,
  PCI_PREF_RANGE_TYPE_64,
  PCI_PRIMARY_BUS,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS1,
  PCI_SEC_LATENCY_TIMER,
  PCI_SEC_STATUS,
  PCI_SECONDARY_BUS,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_DETECTED_PARITY,
  PCI_STATUS_PARITY,
  PCI_STATUS_REC_MASTER_ABORT,
  PCI_STATUS_REC_TARGET_ABORT,
  PCI_STATUS_SIG_SYSTEM_ERROR,
  PCI_STATUS_SIG_TARGET_ABORT,
  PCI_SUBORDINATE_BUS,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from '../uapi/pci_regs.js';
import type { ConfigSpace, RegisterDef } from './config_space.js';
import { isPowerOfTwo } from './memory.js';

export type BarKind = 'mem32' | 'mem64' | 'io';

/** One base address register a function implements. */
export interface BarDef {
  /** BAR number 0..5 (a 64-bit BAR also uses index + 1). */
  readonly index: number;
  readonly kind: BarKind;
  /** Decoded size in bytes (power of two). */
  readonly size: number;
  readonly prefetchable?: boolean;
}

export interface FunctionIds {
  readonly vendor: number;
  readonly device: number;
  /** 24-bit class code (base class, sub-class, programming interface). */
  readonly classCode: number;
  readonly revision?: number;
  readonly subsystemVendor?: number;
  readonly subsystem?: number;
  /** Sets PCI_HEADER_TYPE_MFD (function 0 of a multi-function device). */
  readonly multiFunction?: boolean;
  /** INTx pin (1 = INTA#), 0 for none. */
  readonly interruptPin?: number;
}

/** PCI_STATUS bits the hardware sets and software clears by writing 1. */
const STATUS_RW1C =
  PCI_STATUS_PARITY |
  PCI_STATUS_SIG_TARGET_ABORT |
  PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT |
  PCI_STATUS_SIG_SYSTEM_ERROR |
  PCI_STATUS_DETECTED_PARITY;

const COMMAND_WRITABLE =
  PCI_COMMAND_IO |
  PCI_COMMAND_MEMORY |
  PCI_COMMAND_MASTER |
  PCI_COMMAND_PARITY |
  PCI_COMMAND_SERR |
  PCI_COMMAND_INTX_DISABLE;

function defineCommonHeader(cs: ConfigSpace, ids: FunctionIds, headerType: number): void {
  const mfd = ids.multiFunction ? PCI_HEADER_TYPE_MFD : 0;
  cs.define({ offset: PCI_VENDOR_ID, size: 2, name: 'PCI_VENDOR_ID', reset: ids.vendor })
    .define({ offset: PCI_DEVICE_ID, size: 2, name: 'PCI_DEVICE_ID', reset: ids.device })
    .define({ offset: PCI_COMMAND, size: 2, name: 'PCI_COMMAND', writable: COMMAND_WRITABLE })
    .define({ offset: PCI_STATUS, size: 2, name: 'PCI_STATUS', rw1c: STATUS_RW1C })
    .define({
      offset: PCI_CLASS_REVISION,
      size: 4,
      name: 'PCI_CLASS_REVISION',
      reset: ((ids.classCode << 8) | (ids.revision ?? 0)) >>> 0,
    })
    .define({ offset: PCI_CACHE_LINE_SIZE, size: 1, name: 'PCI_CACHE_LINE_SIZE', writable: 0xff })
    .define({ offset: PCI_LATENCY_TIMER, size: 1, name: 'PCI_LATENCY_TIMER' })
    .define({ offset: PCI_HEADER_TYPE, size: 1, name: 'PCI_HEADER_TYPE', reset: headerType | mfd })
    .define({ offset: PCI_BIST, size: 1, name: 'PCI_BIST' })
    .define({ offset: PCI_CAPABILITY_LIST, size: 1, name: 'PCI_CAPABILITY_LIST' })
    .define({ offset: PCI_INTERRUPT_LINE, size: 1, name: 'PCI_INTERRUPT_LINE', writable: 0xff })
    .define({
      offset: PCI_INTERRUPT_PIN,
      size: 1,
      name: 'PCI_INTERRUPT_PIN',
      reset: ids.interruptPin ?? 0,
    });
}

/** Flag bits a BAR register reads back in its low bits. */
export function barFlags(bar: BarDef): number {
  if (bar.kind === 'io') return PCI_BASE_ADDRESS_SPACE_IO;
  return (
    (bar.kind === 'mem64' ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
    (bar.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0)
  );
}

/** Config offset of BAR `index`. */
export const barOffset = (index: number): number => PCI_BASE_ADDRESS_0 + 4 * index;

/**
 * Size of a memory BAR as software finds it: `lo` (and `hi`, the upper
 * register of a 64-bit BAR) read back after writing all 1s. The size is the
 * lowest address bit that stuck: ~mask + 1 over the BAR's width.
 */
export function memBarSize(lo: number, hi?: number): number {
  const width = hi === undefined ? 32n : 64n;
  const mask = BigInt((lo & PCI_BASE_ADDRESS_MEM_MASK) >>> 0) | (BigInt((hi ?? 0) >>> 0) << 32n);
  return Number((1n << width) - mask);
}

/** A bridge memory base / limit register's value for address `addr` (address bits 31:20 in bits 15:4). */
export const bridgeWindowReg = (addr: number): number => (addr >>> 16) & 0xfff0;

/** The address a bridge memory base / limit register value stands for (a limit covers + 0xf_ffff more). */
export const bridgeWindowAddr = (reg: number): number => (reg & 0xfff0) * 0x1_0000;

/**
 * Declares the BAR registers so that sizing works exactly as PCI says: the
 * address bits below the size are hard-wired to 0, the flag bits are
 * read-only, so writing all 1s reads back `~(size - 1) | flags`.
 */
function defineBar(cs: ConfigSpace, bar: BarDef): void {
  const minSize = bar.kind === 'io' ? 4 : 16;
  if (!isPowerOfTwo(bar.size) || bar.size < minSize) {
    throw new RangeError(`BAR${bar.index}: size ${bar.size} is not a power of two >= ${minSize}`);
  }
  const addrMask = bar.kind === 'io' ? PCI_BASE_ADDRESS_IO_MASK : PCI_BASE_ADDRESS_MEM_MASK;
  const low = bar.size >= 2 ** 32 ? 0 : (~(bar.size - 1) & addrMask) >>> 0;
  cs.define({
    offset: barOffset(bar.index),
    size: 4,
    name: `PCI_BASE_ADDRESS_${bar.index}`,
    reset: barFlags(bar),
    writable: low,
  });
  if (bar.kind === 'mem64') {
    const high = bar.size >= 2 ** 32 ? ~(bar.size / 2 ** 32 - 1) >>> 0 : 0xffff_ffff;
    cs.define({
      offset: barOffset(bar.index + 1),
      size: 4,
      name: `PCI_BASE_ADDRESS_${bar.index + 1}`,
      writable: high,
    });
  }
}

/** The bus address a BAR is programmed to (0 while unassigned). */
export function barAddress(cs: ConfigSpace, bar: BarDef): number {
  const lo = cs.read(barOffset(bar.index), 4);
  if (bar.kind === 'io') return (lo & PCI_BASE_ADDRESS_IO_MASK) >>> 0;
  const base = (lo & PCI_BASE_ADDRESS_MEM_MASK) >>> 0;
  if (bar.kind === 'mem32') return base;
  return cs.read(barOffset(bar.index + 1), 4) * 2 ** 32 + base;
}

/** Type 0 header: ids, command/status, BARs, subsystem ids. */
export function defineType0Header(
  cs: ConfigSpace,
  ids: FunctionIds,
  bars: readonly BarDef[],
): void {
  defineCommonHeader(cs, ids, PCI_HEADER_TYPE_NORMAL);
  const used = new Set<number>();
  for (const bar of bars) {
    const slots = bar.kind === 'mem64' ? [bar.index, bar.index + 1] : [bar.index];
    for (const s of slots) {
      if (s < 0 || s > 5 || used.has(s)) throw new RangeError(`BAR${bar.index}: slot ${s} taken`);
      used.add(s);
    }
    defineBar(cs, bar);
  }
  for (let i = 0; i < 6; i++) {
    if (!used.has(i)) cs.define({ offset: barOffset(i), size: 4, name: `PCI_BASE_ADDRESS_${i}` });
  }
  cs.define({ offset: PCI_CARDBUS_CIS, size: 4, name: 'PCI_CARDBUS_CIS' })
    .define({
      offset: PCI_SUBSYSTEM_VENDOR_ID,
      size: 2,
      name: 'PCI_SUBSYSTEM_VENDOR_ID',
      reset: ids.subsystemVendor ?? ids.vendor,
    })
    .define({
      offset: PCI_SUBSYSTEM_ID,
      size: 2,
      name: 'PCI_SUBSYSTEM_ID',
      reset: ids.subsystem ?? ids.device,
    })
    .define({ offset: PCI_ROM_ADDRESS, size: 4, name: 'PCI_ROM_ADDRESS' })
    .define({ offset: PCI_MIN_GNT, size: 1, name: 'PCI_MIN_GNT' })
    .define({ offset: PCI_MAX_LAT, size: 1, name: 'PCI_MAX_LAT' });
}

/**
 * Type 1 header of a PCI-to-PCI bridge: bus numbers, a 32-bit memory window
 * and a 64-bit prefetchable window. No BARs, no I/O window (I/O base/limit
 * read as 0, which PCI allows), no expansion ROM.
 */
export function defineType1Header(cs: ConfigSpace, ids: FunctionIds): void {
  defineCommonHeader(cs, ids, PCI_HEADER_TYPE_BRIDGE);
  const regs: RegisterDef[] = [
    { offset: barOffset(0), size: 4, name: 'PCI_BASE_ADDRESS_0' },
    { offset: barOffset(1), size: 4, name: 'PCI_BASE_ADDRESS_1' },
    { offset: PCI_PRIMARY_BUS, size: 1, name: 'PCI_PRIMARY_BUS', writable: 0xff },
    { offset: PCI_SECONDARY_BUS, size: 1, name: 'PCI_SECONDARY_BUS', writable: 0xff },
    { offset: PCI_SUBORDINATE_BUS, size: 1, name: 'PCI_SUBORDINATE_BUS', writable: 0xff },
    { offset: PCI_SEC_LATENCY_TIMER, size: 1, name: 'PCI_SEC_LATENCY_TIMER' },
    { offset: PCI_IO_BASE, size: 1, name: 'PCI_IO_BASE' },
    { offset: PCI_IO_LIMIT, size: 1, name: 'PCI_IO_LIMIT' },
    { offset: PCI_SEC_STATUS, size: 2, name: 'PCI_SEC_STATUS', rw1c: STATUS_RW1C },
    {
      offset: PCI_MEMORY_BASE,
      size: 2,
      name: 'PCI_MEMORY_BASE',
      writable: PCI_MEMORY_RANGE_MASK,
    },
    {
      offset: PCI_MEMORY_LIMIT,
      size: 2,
      name: 'PCI_MEMORY_LIMIT',
      writable: PCI_MEMORY_RANGE_MASK,
    },
    {
      offset: PCI_PREF_MEMORY_BASE,
      size: 2,
      name: 'PCI_PREF_MEMORY_BASE',
      reset: PCI_PREF_RANGE_TYPE_64,
      writable: PCI_PREF_RANGE_MASK,
    },
    {
      offset: PCI_PREF_MEMORY_LIMIT,
      size: 2,
      name: 'PCI_PREF_MEMORY_LIMIT',
      reset: PCI_PREF_RANGE_TYPE_64,
      writable: PCI_PREF_RANGE_MASK,
    },
    {
      offset: PCI_PREF_BASE_UPPER32,
      size: 4,
      name: 'PCI_PREF_BASE_UPPER32',
      writable: 0xffff_ffff,
    },
    {
      offset: PCI_PREF_LIMIT_UPPER32,
      size: 4,
      name: 'PCI_PREF_LIMIT_UPPER32',
      writable: 0xffff_ffff,
    },
    { offset: PCI_IO_BASE_UPPER16, size: 2, name: 'PCI_IO_BASE_UPPER16' },
    { offset: PCI_IO_LIMIT_UPPER16, size: 2, name: 'PCI_IO_LIMIT_UPPER16' },
    { offset: PCI_ROM_ADDRESS1, size: 4, name: 'PCI_ROM_ADDRESS1' },
    { offset: PCI_BRIDGE_CONTROL, size: 2, name: 'PCI_BRIDGE_CONTROL', writable: 0x00ff },
  ];
  for (const r of regs) cs.define(r);
}

/** A capability: registers at offsets relative to its start (after its header). */
export interface CapabilityDef {
  readonly id: number;
  /** Bytes the capability occupies, header included. */
  readonly size: number;
  readonly registers: readonly RegisterDef[];
}

export interface ExtCapabilityDef extends CapabilityDef {
  readonly version: number;
}

/**
 * Lays out capability chains: standard capabilities from 0x40 (linked from
 * PCI_CAPABILITY_LIST, PCI_STATUS_CAP_LIST set), extended capabilities from
 * 0x100. Returns the offset of each capability by id.
 */
export function defineCapabilities(
  cs: ConfigSpace,
  caps: readonly CapabilityDef[],
  extCaps: readonly ExtCapabilityDef[] = [],
): Map<number, number> {
  const at = new Map<number, number>();
  let pos = 0x40;
  caps.forEach((cap, i) => {
    const next = i + 1 < caps.length ? align4(pos + cap.size) : 0;
    if (next + (caps[i + 1]?.size ?? 0) > PCI_CFG_SPACE_SIZE) {
      throw new RangeError('capabilities do not fit in the first 256 bytes');
    }
    cs.define({ offset: pos + PCI_CAP_LIST_ID, size: 1, reset: cap.id, name: `cap ${cap.id}` });
    cs.define({ offset: pos + PCI_CAP_LIST_NEXT, size: 1, reset: next });
    for (const r of cap.registers) cs.define({ ...r, offset: pos + r.offset });
    at.set(cap.id, pos);
    pos = next;
  });
  if (caps.length > 0) {
    // Both are read-only: they become part of the reset value.
    cs.setResetBits(PCI_CAPABILITY_LIST, 1, 0x40);
    cs.setResetBits(PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
  }

  let ext = PCI_CFG_SPACE_SIZE;
  extCaps.forEach((cap, i) => {
    const next = i + 1 < extCaps.length ? align4(ext + cap.size) : 0;
    const header = (cap.id | (cap.version << 16) | (next << 20)) >>> 0;
    cs.define({ offset: ext, size: 4, reset: header, name: `ext cap ${cap.id}` });
    for (const r of cap.registers) cs.define({ ...r, offset: ext + r.offset });
    at.set(0x1_0000 | cap.id, ext);
    ext = next;
  });
  return at;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * PCI Express capability (version 2), 0x3c bytes. Endpoints advertise FLR;
 * downstream ports report their link active (DLLLA).
 */
export function pcieCapability(portType: number): CapabilityDef {
  const endpoint = portType === PCI_EXP_TYPE_ENDPOINT;
  const dllla = endpoint ? 0 : PCI_EXP_LNKSTA_DLLLA;
  return {
    id: PCI_CAP_ID_EXP,
    size: 0x3c,
    registers: [
      { offset: PCI_EXP_FLAGS, size: 2, name: 'PCI_EXP_FLAGS', reset: 0x2 | (portType << 4) },
      {
        offset: PCI_EXP_DEVCAP,
        size: 4,
        name: 'PCI_EXP_DEVCAP',
        reset: 0x1 | (endpoint ? PCI_EXP_DEVCAP_FLR : 0),
      },
      // BCR_FLR (bit 15) always reads 0; writing it starts a function level reset.
      { offset: PCI_EXP_DEVCTL, size: 2, name: 'PCI_EXP_DEVCTL', writable: 0x7fff, reset: 0x2810 },
      { offset: PCI_EXP_DEVSTA, size: 2, name: 'PCI_EXP_DEVSTA', rw1c: 0x000f },
      {
        offset: PCI_EXP_LNKCAP,
        size: 4,
        name: 'PCI_EXP_LNKCAP',
        reset: 0x83 | (dllla ? 1 << 20 : 0),
      },
      { offset: PCI_EXP_LNKCTL, size: 2, name: 'PCI_EXP_LNKCTL', writable: 0x0fff },
      {
        offset: PCI_EXP_LNKSTA,
        size: 2,
        name: 'PCI_EXP_LNKSTA',
        reset: PCI_EXP_LNKSTA_CLS_8_0GB | PCI_EXP_LNKSTA_NLW_X8 | dllla,
      },
    ],
  };
}

/** Uncorrectable error bits defined by PCIe (PCI_ERR_UNC_*). */
const AER_UNCOR_BITS = 0x03ff_f030;
/** Correctable error bits defined by PCIe (PCI_ERR_COR_*). */
const AER_COR_BITS = 0x0000_f1c1;

/**
 * AER extended capability, endpoint part (0x2c bytes). Status, mask and
 * severity registers are sticky: a hot reset keeps them (PCIe RW1CS/RWS).
 * MODEL: the registers exist for software to find and program, but no
 * device model sets error bits in them (real devices log UR, completion
 * timeouts, poisoned TLPs... there).
 */
export function aerCapability(): ExtCapabilityDef {
  const sticky = 0xffff_ffff;
  return {
    id: PCI_EXT_CAP_ID_ERR,
    version: 2,
    size: 0x2c,
    registers: [
      {
        offset: PCI_ERR_UNCOR_STATUS,
        size: 4,
        name: 'PCI_ERR_UNCOR_STATUS',
        rw1c: AER_UNCOR_BITS,
        sticky,
      },
      {
        offset: PCI_ERR_UNCOR_MASK,
        size: 4,
        name: 'PCI_ERR_UNCOR_MASK',
        writable: AER_UNCOR_BITS,
        sticky,
      },
      {
        offset: PCI_ERR_UNCOR_SEVER,
        size: 4,
        name: 'PCI_ERR_UNCOR_SEVER',
        writable: AER_UNCOR_BITS,
        reset: 0x0046_2030,
        sticky,
      },
      {
        offset: PCI_ERR_COR_STATUS,
        size: 4,
        name: 'PCI_ERR_COR_STATUS',
        rw1c: AER_COR_BITS,
        sticky,
      },
      {
        offset: PCI_ERR_COR_MASK,
        size: 4,
        name: 'PCI_ERR_COR_MASK',
        writable: AER_COR_BITS,
        reset: 0x2000,
        sticky,
      },
      { offset: PCI_ERR_CAP, size: 4, name: 'PCI_ERR_CAP', writable: 0x0000_0140, sticky },
      { offset: PCI_ERR_HEADER_LOG, size: 4, name: 'PCI_ERR_HEADER_LOG', sticky },
      { offset: PCI_ERR_HEADER_LOG + 4, size: 4, sticky },
      { offset: PCI_ERR_HEADER_LOG + 8, size: 4, sticky },
      { offset: PCI_ERR_HEADER_LOG + 12, size: 4, sticky },
    ],
  };
}

/** The standard PCIe function layout used by every model: PCIe capability + AER. */
export function pcieFunctionLayout(
  cs: ConfigSpace,
  portType: number,
): { readonly pcie: number; readonly aer: number } {
  const at = defineCapabilities(cs, [pcieCapability(portType)], [aerCapability()]);
  return { pcie: at.get(PCI_CAP_ID_EXP) ?? 0, aer: at.get(0x1_0000 | PCI_EXT_CAP_ID_ERR) ?? 0 };
}
