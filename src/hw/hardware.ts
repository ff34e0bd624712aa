/**
 * The machine's I/O hardware as later layers receive it: host memory and the
 * PHBs, with CPU-side MMIO dispatch by address. Built from a TopologySpec by
 * `buildHardware` (topology.ts).
 */
import type { Sim } from '../sim/sim.js';
import { type Bdf, formatBdf } from '../uapi/ids.js';
import { type AccessSize, ALL_ONES } from './config_space.js';
import type { PciFunction } from './device.js';
import type { HostMemory } from './memory.js';
import type { MmioFastPath } from './mmio_fast_path.js';
import type { Phb } from './phb.js';

/** `0000:00:01.0`: PCI domain (= PHB id) plus BDF, as Linux prints it. */
export function formatPciAddress(phb: number, bdf: Bdf): string {
  return `${phb.toString(16).padStart(4, '0')}:${formatBdf(bdf)}`;
}

export class Hardware {
  /** MMIO outside every PHB window (MODEL: all 1s; real hardware machine-checks). */
  unclaimedMmio = 0;
  declare readonly sim: Sim;
  declare readonly memory: HostMemory;
  declare readonly phbs: readonly Phb[];
  declare private readonly names: ReadonlyMap<string, readonly PciFunction[]>;
  /** The machine's direct-mapped MMIO fast path (shared by its PHBs). */
  declare private readonly fast: MmioFastPath;
  /** The PHBs sorted by MMIO window base (phbAt). */
  declare private readonly byBase: readonly Phb[];

  // Fields set here are `declare`d: see the note in mmio_fast_path.ts.
  constructor(
    sim: Sim,
    memory: HostMemory,
    phbs: readonly Phb[],
    names: ReadonlyMap<string, readonly PciFunction[]>,
  ) {
    if (phbs.length === 0) throw new RangeError('Hardware needs at least one PHB');
    this.sim = sim;
    this.memory = memory;
    this.phbs = phbs;
    this.names = names;
    this.fast = (phbs[0] as Phb).fast;
    this.byBase = [...phbs].sort((a, b) => a.window.base - b.window.base);
    this.byBase.forEach((p, i) => {
      const next = this.byBase[i + 1];
      if (next && p.window.base + p.window.size > next.window.base) {
        throw new RangeError(`the MMIO windows of PHB${p.id} and PHB${next.id} overlap`);
      }
    });
    if (phbs.some((p) => p.fast !== this.fast)) {
      throw new RangeError('the PHBs of one machine must share one MmioFastPath');
    }
  }

  phb(id: number): Phb | undefined {
    return this.phbs.find((p) => p.id === id);
  }

  /**
   * The PHB whose MMIO window holds `addr`: binary search over the windows
   * sorted by base (buildHardware refuses overlapping windows, so at most
   * one holds it - the one a linear find would return).
   */
  phbAt(addr: number): Phb | undefined {
    const byBase = this.byBase;
    let lo = 0;
    let hi = byBase.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((byBase[mid] as Phb).window.base <= addr) lo = mid + 1;
      else hi = mid;
    }
    const p = byBase[lo - 1];
    return p && addr < p.window.base + p.window.size ? p : undefined;
  }

  /** A CPU MMIO load at physical address `addr` (no cost: the caller charges mmio_read). */
  mmioRead(addr: number, size: AccessSize): number {
    // The fast path, written out (see mmio_fast_path.ts).
    const f = this.fast;
    const u = (addr - f.base) >>> 0;
    if (size === 4 && u < f.size && addr < 0x1_0000_0000) return f.words[u >>> 2] as number;
    return this.routeRead(addr, size);
  }

  private routeRead(addr: number, size: AccessSize): number {
    const p = this.phbAt(addr);
    if (p) return p.mmioRead(addr, size);
    this.unclaimedMmio++;
    return ALL_ONES[size];
  }

  /** A CPU MMIO store at physical address `addr`. */
  mmioWrite(addr: number, size: AccessSize, value: number): void {
    const p = this.phbAt(addr);
    if (p) p.mmioWrite(addr, size, value);
    else this.unclaimedMmio++;
  }

  /** The function with requester ID `address` (`0000:01:00.0`), by topology. */
  find(address: string): { phb: Phb; fn: PciFunction } | undefined {
    for (const phb of this.phbs) {
      const fn = phb.allFunctions().find((f) => formatPciAddress(phb.id, f.bdf) === address);
      if (fn) return { phb, fn };
    }
    return undefined;
  }

  /** The functions of the device the topology named `name`. */
  named(name: string): readonly PciFunction[] {
    return this.names.get(name) ?? [];
  }

  /** The PHB a function is attached to. */
  phbOf(fn: PciFunction): Phb {
    const p = this.phbs.find((x) => x.allFunctions().includes(fn));
    if (!p) throw new RangeError(`${fn.label} is not attached to any PHB`);
    return p;
  }
}
