/**
 * The shape every PCI device model has (one file per model under devices/,
 * like Firecracker's devices): one or more `PciFunction`s, each with its
 * config space (a declarative register table), its BARs, MMIO handlers per
 * BAR, a reset, and a DMA port the PHB provides when the function is
 * attached. Bridges (switch ports) extend `PciBridge`.
 *
 * Hardware is synchronous: methods run in zero virtual time and callers
 * (the CPU side) charge mmio_read / config_access themselves. A device that
 * needs time (a DMA engine) schedules its completion on the sim scheduler.
 */
import type { Sim } from '../sim/sim.js';
import type { Ns } from '../sim/time.js';
import { type Bdf, formatBdf } from '../uapi/ids.js';
import {
  PCI_BRIDGE_CONTROL,
  PCI_BRIDGE_CTL_BUS_RESET,
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
  PCI_MEMORY_BASE,
  PCI_MEMORY_LIMIT,
  PCI_PREF_BASE_UPPER32,
  PCI_PREF_LIMIT_UPPER32,
  PCI_PREF_MEMORY_BASE,
  PCI_PREF_MEMORY_LIMIT,
  PCI_SECONDARY_BUS,
  PCI_SUBORDINATE_BUS,
} from '../uapi/pci_regs.js';
import { type BarDef, barAddress, bridgeWindowAddr, pcieFunctionLayout } from './config_layout.js';
import { type AccessSize, ALL_ONES, ConfigSpace, type ResetKind } from './config_space.js';
import { RESET_READY_DELAY } from './reset_timing.js';
import './trace_events.js';

export type { AccessSize, ResetKind } from './config_space.js';

/** What the hardware layer needs from the simulation: the clock, the scheduler, the trace. */
export interface HwContext {
  readonly sim: Sim;
}

/**
 * A function's path to host memory, bound to its requester ID by the PHB.
 * `read` moves memory -> device, `write` device -> memory. Both return
 * false when the PHB blocked the transfer (nothing moved).
 */
export interface DmaPort {
  read(iova: number, dst: Uint8Array): boolean;
  write(iova: number, src: Uint8Array): boolean;
}

/** A direct-mapped BAR: `words[i]` is the register at offset 4 * i, for the first `size` bytes. */
export interface DirectRead {
  readonly words: Uint32Array;
  readonly size: number;
}

/** Direct mapping reads host-endian words: only on little-endian hosts (as PCI is). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** What the PHB provides to an attached function. */
export interface FunctionHost {
  readonly dma: DmaPort;
  /** Config space or reset state changed: routing caches must be rebuilt. */
  changed(): void;
}

const DETACHED: FunctionHost = {
  dma: { read: () => false, write: () => false },
  changed: () => {},
};

export abstract class PciFunction {
  readonly config: ConfigSpace;
  /** Set by the PHB when the function is attached. */
  host: FunctionHost = DETACHED;
  /** True while a reset (PE reset, secondary bus reset above) is asserted. */
  resetAsserted = false;
  /** Config cycles before this virtual time are not answered (link training after reset). */
  readyAt: Ns = 0;
  /** Offsets of the PCI Express and AER capabilities. */
  readonly caps: { readonly pcie: number; readonly aer: number };

  constructor(
    readonly ctx: HwContext,
    /** Requester ID the topology gives this function. */
    readonly bdf: Bdf,
    /** Device model name (`testnic`, ...). */
    readonly model: string,
    readonly bars: readonly BarDef[],
    layout: (cs: ConfigSpace) => void,
    pcieType: number,
  ) {
    this.config = new ConfigSpace();
    layout(this.config);
    this.caps = pcieFunctionLayout(this.config, pcieType);
  }

  get label(): string {
    return `${formatBdf(this.bdf)} ${this.model}`;
  }

  /** Functions on the secondary side (bridges only). */
  get below(): readonly PciFunction[] {
    return [];
  }

  /**
   * Direct-mapped view of a BAR for the MMIO fast path (like a memory-backed
   * MMIO region in QEMU): the device promises that, for the first `size`
   * bytes, an aligned 32-bit load has no side effect and returns `words[i]`
   * (it keeps those words up to date itself). Undefined (the default):
   * every load goes through mmioRead.
   */
  directRead(_bar: number): DirectRead | undefined {
    return undefined;
  }

  abstract mmioRead(bar: number, offset: number, size: AccessSize): number;
  abstract mmioWrite(bar: number, offset: number, size: AccessSize, value: number): void;
  /** Device-internal state back to its power-on values (config space is handled here). */
  protected abstract resetState(kind: ResetKind): void;

  configRead(offset: number, size: AccessSize): number {
    return this.config.read(offset, size);
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    this.config.write(offset, size, value);
    this.afterConfigWrite(offset, size, value);
    this.host.changed();
  }

  /** Device-specific side effects of a config write (FLR here, SBR in bridges). */
  protected afterConfigWrite(offset: number, size: AccessSize, value: number): void {
    // The BCR_FLR bit is bit 7 of the high byte of PCI_EXP_DEVCTL.
    const hi = this.caps.pcie + PCI_EXP_DEVCTL + 1;
    if (
      this.caps.pcie &&
      offset <= hi &&
      offset + size > hi &&
      ((value >>> (8 * (hi - offset))) & (PCI_EXP_DEVCTL_BCR_FLR >> 8)) !== 0 &&
      this.config.read(this.caps.pcie + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR
    ) {
      // MODEL: a function level reset completes at once (PCIe allows 100 ms).
      this.reset('hot');
    }
  }

  /** Config space, BARs and device state back to reset values. */
  reset(kind: ResetKind): void {
    this.config.reset(kind);
    this.resetState(kind);
    this.host.changed();
  }

  /** Holds the function (and everything below it) in reset. */
  assertReset(kind: ResetKind): void {
    this.resetAsserted = true;
    this.reset(kind);
    for (const f of this.below) f.assertReset(kind);
  }

  /** Releases the reset; the function answers config cycles after RESET_READY_DELAY. */
  deassertReset(): void {
    this.resetAsserted = false;
    this.readyAt = this.ctx.sim.now + RESET_READY_DELAY;
    this.host.changed();
    for (const f of this.below) f.deassertReset();
  }

  /** Whether a config cycle reaching the function is answered now. */
  get responding(): boolean {
    return !this.resetAsserted && this.ctx.sim.now >= this.readyAt;
  }

  get memoryEnabled(): boolean {
    return (this.config.read(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY) !== 0;
  }

  get busMaster(): boolean {
    return (this.config.read(PCI_COMMAND, 2) & PCI_COMMAND_MASTER) !== 0;
  }

  barAddress(bar: BarDef): number {
    return barAddress(this.config, bar);
  }
}

/**
 * A PCI-to-PCI bridge (PCIe switch port): routes config cycles for its bus
 * range, forwards memory inside its windows, and resets everything below it
 * while PCI_BRIDGE_CTL_BUS_RESET is set (secondary bus reset).
 */
/** Bus numbers the topology planned for a bridge (what enumeration will program). */
export interface BusPlan {
  readonly primary: number;
  readonly secondary: number;
  readonly subordinate: number;
}

export abstract class PciBridge extends PciFunction {
  private readonly children: PciFunction[] = [];
  private sbr = false;
  /** Set by the topology builder; used by assignResources (hw/assign.ts). */
  plan: BusPlan | undefined;

  override get below(): readonly PciFunction[] {
    return this.children;
  }

  /** Attaches a function to the secondary bus (topology building). */
  attachBelow(f: PciFunction): void {
    this.children.push(f);
  }

  get secondaryBus(): number {
    return this.config.read(PCI_SECONDARY_BUS, 1);
  }

  get subordinateBus(): number {
    return this.config.read(PCI_SUBORDINATE_BUS, 1);
  }

  /** Whether a config cycle for `bus` goes through this bridge. */
  routesBus(bus: number): boolean {
    const sec = this.secondaryBus;
    return sec !== 0 && bus >= sec && bus <= this.subordinateBus;
  }

  /** Whether a memory request for [addr, addr + size) is forwarded downstream. */
  forwardsMemory(addr: number, size: number): boolean {
    if (!this.memoryEnabled) return false;
    const cs = this.config;
    const memBase = bridgeWindowAddr(cs.read(PCI_MEMORY_BASE, 2));
    const memLimit = bridgeWindowAddr(cs.read(PCI_MEMORY_LIMIT, 2)) + 0xf_ffff;
    if (addr >= memBase && addr + size - 1 <= memLimit) return true;
    const prefBase =
      cs.read(PCI_PREF_BASE_UPPER32, 4) * 2 ** 32 +
      bridgeWindowAddr(cs.read(PCI_PREF_MEMORY_BASE, 2));
    const prefLimit =
      cs.read(PCI_PREF_LIMIT_UPPER32, 4) * 2 ** 32 +
      bridgeWindowAddr(cs.read(PCI_PREF_MEMORY_LIMIT, 2)) +
      0xf_ffff;
    return addr >= prefBase && addr + size - 1 <= prefLimit;
  }

  /** True while this bridge holds its secondary bus in reset. */
  get secondaryBusReset(): boolean {
    return this.sbr;
  }

  protected override afterConfigWrite(offset: number, size: AccessSize, value: number): void {
    super.afterConfigWrite(offset, size, value);
    if (offset > PCI_BRIDGE_CONTROL || offset + size <= PCI_BRIDGE_CONTROL) return;
    const now = (this.config.read(PCI_BRIDGE_CONTROL, 2) & PCI_BRIDGE_CTL_BUS_RESET) !== 0;
    if (now === this.sbr) return;
    this.sbr = now;
    this.ctx.sim.trace.emit('hw.bridge.sbr', { bdf: formatBdf(this.bdf), assert: now });
    for (const f of this.children) {
      if (now) f.assertReset('hot');
      else f.deassertReset();
    }
  }

  protected override resetState(_kind: ResetKind): void {
    this.sbr = false;
  }

  // A bridge has no BARs: nothing is ever routed to these.
  mmioRead(_bar: number, _offset: number, size: AccessSize): number {
    return ALL_ONES[size];
  }

  mmioWrite(): void {}
}
