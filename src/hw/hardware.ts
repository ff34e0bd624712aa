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
import type { Phb } from './phb.js';

/** `0000:00:01.0`: PCI domain (= PHB id) plus BDF, as Linux prints it. */
export function formatPciAddress(phb: number, bdf: Bdf): string {
  return `${phb.toString(16).padStart(4, '0')}:${formatBdf(bdf)}`;
}

export class Hardware {
  /** MMIO outside every PHB window (MODEL: all 1s; real hardware machine-checks). */
  unclaimedMmio = 0;
  private last: Phb;

  constructor(
    readonly sim: Sim,
    readonly memory: HostMemory,
    readonly phbs: readonly Phb[],
    private readonly names: ReadonlyMap<string, readonly PciFunction[]>,
  ) {
    if (phbs.length === 0) throw new RangeError('Hardware needs at least one PHB');
    this.last = phbs[0] as Phb;
  }

  phb(id: number): Phb | undefined {
    return this.phbs.find((p) => p.id === id);
  }

  /** The PHB whose MMIO window holds `addr`. */
  phbAt(addr: number): Phb | undefined {
    return this.phbs.find((p) => addr >= p.window.base && addr < p.window.base + p.window.size);
  }

  /** A CPU MMIO load at physical address `addr` (no cost: the caller charges mmio_read). */
  mmioRead(addr: number, size: AccessSize): number {
    let p = this.last;
    if (addr - p.window.base >= p.window.size || addr < p.window.base) {
      const q = this.phbAt(addr);
      if (!q) {
        this.unclaimedMmio++;
        return ALL_ONES[size];
      }
      this.last = p = q;
    }
    return p.mmioRead(addr, size);
  }

  /** A CPU MMIO store at physical address `addr`. */
  mmioWrite(addr: number, size: AccessSize, value: number): void {
    const p = this.phbAt(addr);
    if (!p) {
      this.unclaimedMmio++;
      return;
    }
    p.mmioWrite(addr, size, value);
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
