/**
 * Resource assignment as boot firmware / the host PCI core does it, for
 * using the hardware on its own (tests, the hardware demo). Everything goes
 * through config cycles on the PHB: program bridge bus numbers top-down,
 * size every BAR by writing all 1s and reading back, place BARs in the PHB
 * window (largest first, naturally aligned), open bridge memory windows
 * around what is below them, enable memory decode and bus mastering, and map
 * each BAR's range to its function's PE (OPAL_PCI_MAP_PE_MMIO_WINDOW).
 *
 * MODEL: prefetchable BARs go into the bridges' 32-bit window too (allowed
 * by PCI); the prefetchable window stays closed. No I/O space.
 */
import {
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_MEM_TYPE_MASK,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_MEMORY_BASE,
  PCI_MEMORY_LIMIT,
  PCI_PREF_BASE_UPPER32,
  PCI_PREF_LIMIT_UPPER32,
  PCI_PREF_MEMORY_BASE,
  PCI_PREF_MEMORY_LIMIT,
  PCI_PRIMARY_BUS,
  PCI_SECONDARY_BUS,
  PCI_SUBORDINATE_BUS,
} from '../uapi/pci_regs.js';
import { barOffset, bridgeWindowReg, memBarSize } from './config_layout.js';
import { PciBridge, type PciFunction } from './device.js';
import type { Hardware } from './hardware.js';
import type { Phb } from './phb.js';

export interface BarAssignment {
  readonly phb: number;
  readonly bdf: number;
  readonly bar: number;
  readonly base: number;
  readonly size: number;
}

export class AssignError extends Error {
  override name = 'AssignError';
}

const MIB = 0x10_0000;
const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Assigns bus numbers, BARs and windows on every PHB; returns the BARs placed. */
export function assignResources(hw: Hardware): BarAssignment[] {
  return hw.phbs.flatMap((phb) => assignPhb(phb));
}

function assignPhb(phb: Phb): BarAssignment[] {
  programBuses(phb, phb.rootFunctions);
  const out: BarAssignment[] = [];
  const end = placeBus(phb, phb.rootFunctions, phb.window.base, out);
  if (end > phb.window.base + phb.window.size) {
    throw new AssignError(
      `PHB${phb.id}: BARs need 0x${(end - phb.window.base).toString(16)} bytes`,
    );
  }
  for (const a of out) {
    const fn = phb.findFunction(a.bdf) as PciFunction;
    phb.mapMmioSegment(a.base, a.size, phb.peOf(fn));
  }
  return out;
}

function programBuses(phb: Phb, fns: readonly PciFunction[]): void {
  for (const fn of fns) {
    if (!(fn instanceof PciBridge) || !fn.plan) continue;
    phb.configWrite(fn.bdf, PCI_PRIMARY_BUS, 1, fn.plan.primary);
    phb.configWrite(fn.bdf, PCI_SECONDARY_BUS, 1, fn.plan.secondary);
    phb.configWrite(fn.bdf, PCI_SUBORDINATE_BUS, 1, fn.plan.subordinate);
    programBuses(phb, fn.below);
  }
}

/** Size of BAR `index` as software finds it, with the flags read back (0: not implemented). */
export function probeBar(
  phb: Phb,
  bdf: number,
  index: number,
): { size: number; is64: boolean } | undefined {
  const off = barOffset(index);
  const orig = phb.configRead(bdf, off, 4);
  phb.configWrite(bdf, off, 4, 0xffff_ffff);
  const lo = phb.configRead(bdf, off, 4);
  phb.configWrite(bdf, off, 4, orig);
  if (lo === 0 || lo & PCI_BASE_ADDRESS_SPACE_IO) return undefined;
  const is64 = (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) === PCI_BASE_ADDRESS_MEM_TYPE_64;
  if (!is64) return { size: memBarSize(lo), is64 };
  const origHi = phb.configRead(bdf, off + 4, 4);
  phb.configWrite(bdf, off + 4, 4, 0xffff_ffff);
  const hi = phb.configRead(bdf, off + 4, 4);
  phb.configWrite(bdf, off + 4, 4, origHi);
  return { size: memBarSize(lo, hi), is64 };
}

function placeBus(phb: Phb, fns: readonly PciFunction[], cursor: number, out: BarAssignment[]) {
  for (const fn of fns) {
    if (fn instanceof PciBridge) {
      const start = alignUp(cursor, MIB);
      const end = alignUp(placeBus(phb, fn.below, start, out), MIB);
      // An empty window is closed by base > limit.
      const base = end > start ? start : 0xfff0_0000;
      const limit = end > start ? end - 1 : 0;
      phb.configWrite(fn.bdf, PCI_MEMORY_BASE, 2, bridgeWindowReg(base));
      phb.configWrite(fn.bdf, PCI_MEMORY_LIMIT, 2, bridgeWindowReg(limit));
      phb.configWrite(fn.bdf, PCI_PREF_MEMORY_BASE, 2, 0xfff0);
      phb.configWrite(fn.bdf, PCI_PREF_MEMORY_LIMIT, 2, 0);
      phb.configWrite(fn.bdf, PCI_PREF_BASE_UPPER32, 4, 0);
      phb.configWrite(fn.bdf, PCI_PREF_LIMIT_UPPER32, 4, 0);
      enable(phb, fn);
      cursor = end;
      continue;
    }
    const bars: { index: number; size: number; is64: boolean }[] = [];
    for (let i = 0; i < 6; i++) {
      const p = probeBar(phb, fn.bdf, i);
      if (!p) continue;
      bars.push({ index: i, ...p });
      if (p.is64) i++;
    }
    bars.sort((a, b) => b.size - a.size || a.index - b.index);
    for (const b of bars) {
      cursor = alignUp(cursor, b.size);
      const off = barOffset(b.index);
      phb.configWrite(fn.bdf, off, 4, cursor % 2 ** 32);
      if (b.is64) phb.configWrite(fn.bdf, off + 4, 4, Math.floor(cursor / 2 ** 32));
      out.push({ phb: phb.id, bdf: fn.bdf, bar: b.index, base: cursor, size: b.size });
      cursor += b.size;
    }
    enable(phb, fn);
  }
  return cursor;
}

function enable(phb: Phb, fn: PciFunction): void {
  const cmd = phb.configRead(fn.bdf, PCI_COMMAND, 2);
  phb.configWrite(fn.bdf, PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}
