/**
 * The host PCI core's probe: enumerate a PHB through config space, size the
 * BARs the PCI way, number the buses behind bridges, assign BARs from the
 * PHB's MMIO window and program the bridge windows
 * (cf. drivers/pci/probe.c pci_scan_child_bus / pci_scan_bridge /
 * __pci_read_base, drivers/pci/setup-bus.c and setup-res.c,
 * drivers/pci/setup-res.c pci_update_resource).
 *
 * Every access goes through the config accessors given (OPAL config calls
 * on powernv), so enumeration costs what the firmware charges.
 */

import { barOffset, bridgeWindowReg, memBarSize } from '../hw/config_layout.js';
import type { Task } from '../sim/scheduler.js';
import { type Bdf, bdf as makeBdf } from '../uapi/ids.js';
import {
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_MEM_TYPE_MASK,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAP_ID_EXP,
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_CAPABILITY_LIST,
  PCI_CLASS_REVISION,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_FLAGS,
  PCI_EXP_FLAGS_TYPE,
  PCI_EXT_CAP_ID,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_NEXT,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_HEADER_TYPE_MASK,
  PCI_HEADER_TYPE_MFD,
  PCI_HEADER_TYPE_NORMAL,
  PCI_INTERRUPT_PIN,
  PCI_MEMORY_BASE,
  PCI_MEMORY_LIMIT,
  PCI_PREF_BASE_UPPER32,
  PCI_PREF_LIMIT_UPPER32,
  PCI_PREF_MEMORY_BASE,
  PCI_PREF_MEMORY_LIMIT,
  PCI_PRIMARY_BUS,
  PCI_SECONDARY_BUS,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_SUBORDINATE_BUS,
  PCI_VENDOR_ID,
} from '../uapi/pci_regs.js';
import { HostPciDev, type HostResource } from './pci_dev.js';
import './trace_events.js';
import type { Sim } from '../sim/sim.js';

/** Config accessors of the PCI core (pci_bus_read_config_* / write). */
export interface ProbeConfig {
  read(domain: number, bdf: Bdf, where: number, size: 1 | 2 | 4): Task<number>;
  write(domain: number, bdf: Bdf, where: number, size: 1 | 2 | 4, value: number): Task<void>;
}

export interface MmioWindowInfo {
  readonly base: number;
  readonly size: number;
}

/**
 * MODEL: every function gets its own slot of the PHB's 32-bit MMIO window,
 * aligned to 1 MiB (the PHB3 M32 segment size of a 256 MiB window, and the
 * granularity of a bridge memory window), so each slot can be mapped to the
 * function's PE. Linux packs BARs (pbus_size_mem) and the powernv code maps
 * whole M32 segments to PEs; 64-bit prefetchable BARs also go into the
 * 32-bit window (no M64 window), and bridges get no prefetchable window.
 */
export const MMIO_SLOT_ALIGN = 0x10_0000;

/** A function's slot of the MMIO window (mapped to its PE afterwards). */
export interface MmioSlot {
  readonly pdev: HostPciDev;
  readonly base: number;
  readonly size: number;
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
const hex = (n: number): string => `0x${n.toString(16)}`;

export class PciProbe {
  constructor(
    private readonly sim: Sim,
    private readonly cfg: ProbeConfig,
  ) {}

  // ---- enumeration ------------------------------------------------------------

  /**
   * pci_scan_child_bus() from the root bus of PHB `domain`, numbering buses
   * depth first (pcibios_assign_all_busses). Returns every function found,
   * parents before children.
   */
  *scanPhb(domain: number): Task<HostPciDev[]> {
    const out: HostPciDev[] = [];
    yield* this.scanBus(domain, 0, undefined, out, { max: 0 });
    return out;
  }

  private *scanBus(
    domain: number,
    bus: number,
    parent: HostPciDev | undefined,
    out: HostPciDev[],
    busn: { max: number },
  ): Task<void> {
    for (let dev = 0; dev < 32; dev++) {
      const fn0 = yield* this.scanDevice(domain, makeBdf(bus, dev, 0), parent, out, busn);
      if (!fn0?.multiFunction) continue;
      for (let fn = 1; fn < 8; fn++) {
        yield* this.scanDevice(domain, makeBdf(bus, dev, fn), parent, out, busn);
      }
    }
  }

  /** pci_scan_single_device(): undefined when nothing answers. */
  private *scanDevice(
    domain: number,
    bdf: Bdf,
    parent: HostPciDev | undefined,
    out: HostPciDev[],
    busn: { max: number },
  ): Task<HostPciDev | undefined> {
    const c = this.cfg;
    const id = yield* c.read(domain, bdf, PCI_VENDOR_ID, 4);
    const vendor = id & 0xffff;
    // pci_bus_read_dev_vendor_id(): all 1s or 0 means no function.
    if (vendor === 0xffff || vendor === 0 || id === 0xffff_ffff) return undefined;
    const device = id >>> 16;
    const hdr = yield* c.read(domain, bdf, PCI_HEADER_TYPE, 1);
    const type = hdr & PCI_HEADER_TYPE_MASK;
    if (type !== PCI_HEADER_TYPE_NORMAL && type !== PCI_HEADER_TYPE_BRIDGE) return undefined;
    const isBridge = type === PCI_HEADER_TYPE_BRIDGE;
    const resources = yield* this.readBases(domain, bdf, isBridge ? 2 : 6);
    const pdev = new HostPciDev(domain, bdf, vendor, device, isBridge, resources);
    pdev.headerType = type;
    pdev.multiFunction = (hdr & PCI_HEADER_TYPE_MFD) !== 0;
    pdev.classCode = (yield* c.read(domain, bdf, PCI_CLASS_REVISION, 4)) >>> 8;
    pdev.intxPin = yield* c.read(domain, bdf, PCI_INTERRUPT_PIN, 1);
    yield* this.readCapabilities(pdev);
    pdev.parent = parent;
    parent?.children.push(pdev);
    out.push(pdev);
    this.sim.trace.emit('host.pci.found', {
      dev: pdev.name,
      vendor: hex(vendor),
      device: hex(device),
      bridge: isBridge,
    });
    if (isBridge) yield* this.scanBridge(pdev, out, busn);
    return pdev;
  }

  /** pci_scan_bridge() (second pass: assign bus numbers). */
  private *scanBridge(bridge: HostPciDev, out: HostPciDev[], busn: { max: number }): Task<void> {
    const c = this.cfg;
    const d = bridge.domain;
    const primary = (bridge.bdf >> 8) & 0xff;
    const secondary = ++busn.max;
    // Open the bus range wide while scanning below, then close it.
    yield* c.write(d, bridge.bdf, PCI_PRIMARY_BUS, 1, primary);
    yield* c.write(d, bridge.bdf, PCI_SECONDARY_BUS, 1, secondary);
    yield* c.write(d, bridge.bdf, PCI_SUBORDINATE_BUS, 1, 0xff);
    yield* this.scanBus(d, secondary, bridge, out, busn);
    yield* c.write(d, bridge.bdf, PCI_SUBORDINATE_BUS, 1, busn.max);
    bridge.primaryBus = primary;
    bridge.secondaryBus = secondary;
    bridge.subordinateBus = busn.max;
  }

  /**
   * __pci_read_base() for each BAR: with decoding off, write all 1s, read
   * the size mask back, restore. A 64-bit BAR takes two registers.
   */
  private *readBases(domain: number, bdf: Bdf, count: number): Task<HostResource[]> {
    const c = this.cfg;
    const out: HostResource[] = [];
    const cmd = yield* c.read(domain, bdf, PCI_COMMAND, 2);
    const decode = cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    if (decode) yield* c.write(domain, bdf, PCI_COMMAND, 2, cmd & ~decode);
    for (let i = 0; i < count; i++) {
      const reg = barOffset(i);
      const orig = yield* c.read(domain, bdf, reg, 4);
      yield* c.write(domain, bdf, reg, 4, 0xffff_ffff);
      const mask = yield* c.read(domain, bdf, reg, 4);
      yield* c.write(domain, bdf, reg, 4, orig);
      if (mask === 0 || mask === 0xffff_ffff) continue;
      if (orig & PCI_BASE_ADDRESS_SPACE_IO) {
        const size = (~(mask & 0xffff_fffc) + 1) & 0xffff;
        if (size)
          out.push({ index: i, start: 0, size, is64: false, kind: 'io', prefetchable: false });
        continue;
      }
      const is64 = (orig & PCI_BASE_ADDRESS_MEM_TYPE_MASK) === PCI_BASE_ADDRESS_MEM_TYPE_64;
      const prefetchable = (orig & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0;
      let size: number;
      if (is64 && i + 1 < count) {
        const regHi = reg + 4;
        const origHi = yield* c.read(domain, bdf, regHi, 4);
        yield* c.write(domain, bdf, regHi, 4, 0xffff_ffff);
        const maskHi = yield* c.read(domain, bdf, regHi, 4);
        yield* c.write(domain, bdf, regHi, 4, origHi);
        size = memBarSize(mask, maskHi);
      } else {
        size = memBarSize(mask);
      }
      if (size > 0) out.push({ index: i, start: 0, size, is64, kind: 'mem', prefetchable });
      if (is64) i++;
    }
    if (decode) yield* c.write(domain, bdf, PCI_COMMAND, 2, cmd);
    return out;
  }

  /** The capabilities the host uses: PCI Express (type, FLR) and AER. */
  private *readCapabilities(pdev: HostPciDev): Task<void> {
    const c = this.cfg;
    const d = pdev.domain;
    const status = yield* c.read(d, pdev.bdf, PCI_STATUS, 2);
    if (status & PCI_STATUS_CAP_LIST) {
      let pos = (yield* c.read(d, pdev.bdf, PCI_CAPABILITY_LIST, 1)) & ~3;
      for (let ttl = 48; pos >= 0x40 && ttl > 0; ttl--) {
        const id = yield* c.read(d, pdev.bdf, pos + PCI_CAP_LIST_ID, 1);
        if (id === 0xff) break;
        if (id === PCI_CAP_ID_EXP) {
          pdev.pcieCap = pos;
          const flags = yield* c.read(d, pdev.bdf, pos + PCI_EXP_FLAGS, 2);
          pdev.pcieType = (flags & PCI_EXP_FLAGS_TYPE) >> 4;
          const devcap = yield* c.read(d, pdev.bdf, pos + PCI_EXP_DEVCAP, 4);
          pdev.flr = (devcap & PCI_EXP_DEVCAP_FLR) !== 0;
          break;
        }
        pos = (yield* c.read(d, pdev.bdf, pos + PCI_CAP_LIST_NEXT, 1)) & ~3;
      }
    }
    if (!pdev.pcieCap) return;
    pdev.cfgSize = 4096;
    let pos = 0x100;
    for (let ttl = (4096 - 256) / 8; ttl > 0; ttl--) {
      const header = yield* c.read(d, pdev.bdf, pos, 4);
      if (header === 0 || header === 0xffff_ffff) break;
      if (PCI_EXT_CAP_ID(header) === PCI_EXT_CAP_ID_ERR) {
        pdev.aerCap = pos;
        break;
      }
      pos = PCI_EXT_CAP_NEXT(header);
      if (pos < 0x100) break;
    }
  }

  // ---- resource assignment -------------------------------------------------------

  /**
   * pci_assign_unassigned_bus_resources() for one PHB: BARs from `window`,
   * bridge memory windows around what lies below them, then
   * pci_enable_bridges() (memory decode + bus mastering on every bridge).
   * Returns the slot of each function with memory BARs, for PE mapping.
   */
  *assignResources(
    domain: number,
    roots: readonly HostPciDev[],
    window: MmioWindowInfo,
  ): Task<MmioSlot[]> {
    const slots: MmioSlot[] = [];
    const cursor = { at: window.base, end: window.base + window.size };
    yield* this.assignBus(domain, roots, cursor, slots);
    return slots;
  }

  private *assignBus(
    domain: number,
    devs: readonly HostPciDev[],
    cursor: { at: number; end: number },
    slots: MmioSlot[],
  ): Task<void> {
    for (const pdev of devs) {
      if (pdev.isBridge) {
        yield* this.assignBridge(domain, pdev, cursor, slots);
        continue;
      }
      const mem = pdev.hostResources.filter((r) => r.kind === 'mem');
      if (mem.length === 0) continue;
      const biggest = Math.max(...mem.map((r) => r.size));
      const base = alignUp(cursor.at, Math.max(MMIO_SLOT_ALIGN, biggest));
      let at = base;
      // Largest first, each naturally aligned (pdev_sort_resources).
      for (const r of [...mem].sort((a, b) => b.size - a.size || a.index - b.index)) {
        const start = alignUp(at, r.size);
        if (start + r.size > cursor.end) {
          // pci_assign_resource() failed: the BAR stays unassigned.
          continue;
        }
        r.start = start;
        at = start + r.size;
        yield* this.writeBar(pdev, r);
      }
      const end = alignUp(at, MMIO_SLOT_ALIGN);
      if (at > base) {
        slots.push({ pdev, base, size: end - base });
        cursor.at = end;
      }
    }
  }

  private *assignBridge(
    domain: number,
    bridge: HostPciDev,
    cursor: { at: number; end: number },
    slots: MmioSlot[],
  ): Task<void> {
    const c = this.cfg;
    cursor.at = alignUp(cursor.at, MMIO_SLOT_ALIGN);
    const start = cursor.at;
    yield* this.assignBus(domain, bridge.children, cursor, slots);
    cursor.at = alignUp(cursor.at, MMIO_SLOT_ALIGN);
    const end = cursor.at;
    if (end > start) {
      bridge.memBase = start;
      bridge.memLimit = end - 1;
      yield* c.write(domain, bridge.bdf, PCI_MEMORY_BASE, 2, bridgeWindowReg(start));
      yield* c.write(domain, bridge.bdf, PCI_MEMORY_LIMIT, 2, bridgeWindowReg(end - 1));
    } else {
      // No memory below: close the window (base above limit).
      bridge.memBase = 0;
      bridge.memLimit = -1;
      yield* c.write(domain, bridge.bdf, PCI_MEMORY_BASE, 2, 0xfff0);
      yield* c.write(domain, bridge.bdf, PCI_MEMORY_LIMIT, 2, 0);
    }
    // No prefetchable window (see MMIO_SLOT_ALIGN).
    yield* c.write(domain, bridge.bdf, PCI_PREF_MEMORY_BASE, 2, 0xfff0);
    yield* c.write(domain, bridge.bdf, PCI_PREF_MEMORY_LIMIT, 2, 0);
    yield* c.write(domain, bridge.bdf, PCI_PREF_BASE_UPPER32, 4, 0xffff_ffff);
    yield* c.write(domain, bridge.bdf, PCI_PREF_LIMIT_UPPER32, 4, 0);
    // pci_enable_bridges(): decode memory and forward DMA.
    const cmd = yield* c.read(domain, bridge.bdf, PCI_COMMAND, 2);
    yield* c.write(
      domain,
      bridge.bdf,
      PCI_COMMAND,
      2,
      cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
    );
    this.sim.trace.emit('host.pci.bridge', {
      dev: bridge.name,
      secondary: bridge.secondaryBus,
      subordinate: bridge.subordinateBus,
      mem: end > start ? `${hex(start)}-${hex(end - 1)}` : 'closed',
    });
  }

  /** pci_update_resource(): program the BAR registers. */
  private *writeBar(pdev: HostPciDev, r: HostResource): Task<void> {
    const reg = barOffset(r.index);
    yield* this.cfg.write(pdev.domain, pdev.bdf, reg, 4, r.start % 2 ** 32);
    if (r.is64) {
      yield* this.cfg.write(pdev.domain, pdev.bdf, reg + 4, 4, Math.floor(r.start / 2 ** 32));
    }
    this.sim.trace.emit('host.pci.bar', {
      dev: pdev.name,
      bar: r.index,
      start: hex(r.start),
      size: hex(r.size),
    });
  }
}
