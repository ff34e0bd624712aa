/**
 * A Linux pseries guest kernel, as far as EEH needs one: it enumerates its
 * virtual PHBs and devices from the device tree its VMM built, probes EEH
 * on each device over RTAS (pseries_eeh_init_edev), runs the same generic
 * EEH core as the host (src/kernel, side 'guest') over the pseries ops,
 * saves each device's config space, binds drivers, and offers drivers the
 * EEH-enabled MMIO accessors (eeh_readl() & co, arch/powerpc/include/asm/eeh.h),
 * the config accessors over RTAS (arch/powerpc/kernel/rtas_pci.c) and DMA
 * buffers mapped in the PHB's DMA window with H_PUT_TCE
 * (arch/powerpc/platforms/pseries/iommu.c).
 *
 * The kernel touches its VM only through `GuestPlatform`: hypercalls,
 * guest-physical MMIO, its RAM and the device tree.
 */

import { TCE_PAGE_SIZE, TCE_PCI_READ, TCE_PCI_WRITE } from '../hw/tce.js';
import { EehCore, type EehStats } from '../kernel/eeh.js';
import {
  EEH_PE_DEVICE,
  EEH_PE_ISOLATED,
  EEH_PE_RECOVERING,
  EEH_PE_REMOVED,
  formatPeState,
} from '../kernel/eeh_consts.js';
import { EehDev, type EehPe } from '../kernel/eeh_dev.js';
import type { RecoveryRecord } from '../kernel/eeh_driver.js';
import { type MmioOps, PciDev, type PciDriver } from '../kernel/pci.js';
import { PciSubsystem } from '../kernel/pci_core.js';
import type { GuestPlatform } from '../kvm/guest_platform.js';
import { type Process, type Task, WaitQueue, waitOn } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import type { Ns } from '../sim/time.js';
import type { GuestDmaWindow, GuestPciNode, GuestPhbNode } from '../uapi/device_tree.js';
import { ENODEV } from '../uapi/errno.js';
import { H_PUT_TCE, H_SUCCESS } from '../uapi/hcall.js';
import { type Bdf, type Buid, formatBdf, type Gpa, type PeNumber } from '../uapi/ids.js';
import { PseriesEehOps, type PseriesStats } from './eeh_pseries.js';
import {
  DeviceIntegrity,
  type FreezeOracle,
  type GuestDeviceResult,
  summarize,
} from './integrity.js';
import { GuestRtas, type RtasCallStats } from './rtas.js';
import './trace_events.js';

/**
 * What the EEH MMIO accessors (eeh_readl() & co) do on an all-1s read - a
 * design's guest hook. Linux: eeh_check_failure() every time (a state query
 * unless the PE is already known isolated).
 */
export interface EehAccessorPolicy {
  /**
   * false - PROPOSAL (`+notify-only`): trust the hypervisor's freeze event
   * and skip the check: no per-read cost, but an all-1s read between a
   * freeze and its event is taken as data (see integrity.ts).
   */
  readonly checkOnAllOnes: boolean;
}

/** Linux's accessors: every all-1s read runs eeh_check_failure(). */
export const LINUX_EEH_ACCESSORS: EehAccessorPolicy = Object.freeze({ checkOnAllOnes: true });

/** How the guest kernel first learned that a device's PE was frozen. */
export interface GuestDetection {
  readonly t: Ns;
  readonly dev: string;
  /** `accessor` (an all-1s MMIO read), `check` (a driver's or config read's check), `event` (+notify). */
  readonly via: 'accessor' | 'check' | 'event';
}

export interface GuestKernelOptions {
  /** eeh_max_freezes of this kernel (default 5). */
  maxFreezes?: number;
  /** Ground truth for the integrity accounting (see integrity.ts). */
  oracle?: FreezeOracle;
  /**
   * driver_override per device (`DDDD:BB:DD.F` or `BB:DD.F`): the name of
   * the driver that must bind it (e.g. `testnic:no-handlers`).
   */
  driverOverride?: Readonly<Record<string, string>>;
  /**
   * Builds the platform ops (default: PseriesEehOps). A design that changes
   * how the guest reaches its PE (src/designs) can pass a subclass.
   */
  opsFactory?: (sim: Sim, rtas: GuestRtas, buids: ReadonlyMap<number, Buid>) => PseriesEehOps;
  /** The EEH MMIO accessors' policy (default LINUX_EEH_ACCESSORS). */
  accessors?: EehAccessorPolicy;
}

/** One virtual PHB as the guest knows it. */
export interface GuestPhb {
  readonly index: number;
  readonly buid: Buid;
  readonly node: GuestPhbNode;
  readonly pe: EehPe;
  /** The guest's IOMMU table allocator over the DMA window (pseries iommu_table). */
  readonly iommu: GuestIommu;
}

/** One PCI function of the guest, with its EEH state and counters. */
export interface GuestDevice {
  /** `DDDD:BB:DD.F` */
  readonly name: string;
  readonly phb: GuestPhb;
  readonly node: GuestPciNode;
  readonly pdev: PciDev;
  readonly edev: EehDev;
  /** PE config address from get-config-addr-info2, or a negative errno (no EEH). */
  peAddr: number;
  /** eeh_check_failure() runs caused by this device's all-1s reads. */
  checks: number;
  /** ... of which found the PE healthy. */
  falsePositives: number;
  /** Name of the driver bound last (kept after it is unbound). */
  lastDriver: string;
  readonly integrity: DeviceIntegrity;
}

/** A coherent DMA buffer: guest memory and its bus address in the PHB's window. */
export interface DmaBuffer {
  readonly gpa: Gpa;
  readonly iova: number;
  readonly size: number;
}

/** `DDDD:BB:DD.F` as Linux names a PCI device. */
export function pciName(domain: number, bdf: Bdf): string {
  return `${domain.toString(16).padStart(4, '0')}:${formatBdf(bdf)}`;
}

/**
 * The guest's allocator of a PHB's DMA window (the iommu_table bitmap):
 * page granular, page 0 reserved as Linux does when the window starts at
 * bus address 0 (iommu_init_table).
 * MODEL: first fit over a free list; Linux uses a bitmap with per-CPU pools
 * and a moving hint, so its bus addresses differ (not their validity).
 */
export class GuestIommu {
  private readonly free: Array<{ start: number; pages: number }>;

  constructor(readonly window: GuestDmaWindow) {
    const first = window.iovaBase === 0 ? 1 : 0;
    const pages = Math.floor(window.size / TCE_PAGE_SIZE);
    this.free = pages > first ? [{ start: first, pages: pages - first }] : [];
  }

  alloc(pages: number): number | undefined {
    const i = this.free.findIndex((f) => f.pages >= pages);
    const f = this.free[i];
    if (!f) return undefined;
    const start = f.start;
    f.start += pages;
    f.pages -= pages;
    if (f.pages === 0) this.free.splice(i, 1);
    return this.window.iovaBase + start * TCE_PAGE_SIZE;
  }

  release(iova: number, pages: number): void {
    this.free.push({ start: (iova - this.window.iovaBase) / TCE_PAGE_SIZE, pages });
    this.free.sort((a, b) => a.start - b.start);
    for (let i = this.free.length - 2; i >= 0; i--) {
      const a = this.free[i] as { start: number; pages: number };
      const b = this.free[i + 1] as { start: number; pages: number };
      if (a.start + a.pages === b.start) {
        a.pages += b.pages;
        this.free.splice(i + 1, 1);
      }
    }
  }
}

/**
 * The PCI subsystem of the guest: config space is reached per device over
 * RTAS, and binding honours driver_override.
 */
export class GuestPciSubsystem extends PciSubsystem {
  readonly driverOverride = new Map<PciDev, string>();

  constructor(
    mmio: MmioOps,
    private readonly kernel: GuestKernel,
  ) {
    super(mmio);
  }

  /**
   * pci_match_device() with driver_override (drivers/pci/pci-driver.c).
   * MODEL: the overriding driver must also match the ids.
   */
  protected override matchDriver(pdev: PciDev): PciDriver | undefined {
    const want = this.driverOverride.get(pdev);
    return this.drivers.find(
      (d) => (want === undefined || d.name === want) && d.matches(pdev.vendor, pdev.device),
    );
  }

  protected override probing(pdev: PciDev, drv: PciDriver): void {
    const dev = this.kernel.deviceOf(pdev);
    if (dev) dev.lastDriver = drv.name;
  }

  protected override probed(pdev: PciDev, drv: PciDriver, rc: number): void {
    this.kernel.sim.trace.emit('guest.drv', {
      dev: this.kernel.deviceOf(pdev)?.name ?? formatBdf(pdev.bdf),
      drv: drv.name,
      event: 'probe',
      detail: `rc=${rc}`,
    });
  }
}

const allOnes = (size: 1 | 2 | 4): number =>
  size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;

export interface BootReport {
  readonly phbs: number;
  readonly devices: number;
  /** EEH enabled (platform initialised and at least one device with a PE). */
  readonly eeh: boolean;
  /** When the pseries platform refused to initialise: the missing RTAS service. */
  readonly eehMissing?: string;
  /** Probe results per device (0 or -errno; -19 when no driver matched). */
  readonly probe: Readonly<Record<string, number>>;
}

export class GuestKernel {
  /** Trace owner and accounting owner of this kernel's processes. */
  readonly name: string;
  readonly rtas: GuestRtas;
  readonly ops: PseriesEehOps;
  readonly pci: GuestPciSubsystem;
  readonly eeh: EehCore;
  readonly phbs: GuestPhb[] = [];
  readonly devices: GuestDevice[] = [];
  readonly buids = new Map<number, Buid>();
  booted = false;
  bootReport: BootReport | undefined;
  readonly accessors: EehAccessorPolicy;
  /** Each time a device went from normal to frozen in this kernel's view, in order. */
  readonly detections: GuestDetection[] = [];
  /** PROPOSAL (+notify): hypervisor EEH events handled (`unknown`: no such device). */
  readonly eehEvents = { handled: 0, unknown: 0 };
  private readonly bootWq = new WaitQueue();
  private readonly byPdev = new Map<PciDev, GuestDevice>();
  private readonly dmaPool = new Map<number, Gpa[]>();

  constructor(
    readonly sim: Sim,
    readonly platform: GuestPlatform,
    readonly opts: GuestKernelOptions = {},
  ) {
    this.name = platform.vmName;
    this.accessors = opts.accessors ?? LINUX_EEH_ACCESSORS;
    this.rtas = new GuestRtas(sim, platform);
    this.ops = opts.opsFactory
      ? opts.opsFactory(sim, this.rtas, this.buids)
      : new PseriesEehOps(sim, this.rtas, this.buids);
    const mmio: MmioOps = {
      read: (addr, size) => this.mmioLoad(addr, size),
      write: (addr, size, value) => this.mmioStore(addr, size, value),
    };
    this.pci = new GuestPciSubsystem(mmio, this);
    const core: { side: 'guest'; maxFreezes?: number } = { side: 'guest' };
    if (opts.maxFreezes !== undefined) core.maxFreezes = opts.maxFreezes;
    this.eeh = new EehCore(sim, this.ops, this.pci, core);
    this.ops.attachCore(this.eeh);
  }

  // ---- boot ---------------------------------------------------------------

  /** Boots the kernel as a process of the VM; resolves to the boot report. */
  start(): Process<BootReport> {
    return this.sim.spawn(`${this.name}:boot`, this.boot(), this.name);
  }

  /** Registers a driver; boot binds it (after boot, call rescan()). */
  registerDriver(drv: PciDriver): void {
    this.pci.registerDriver(drv);
  }

  /** Binds drivers to the devices that have none (a rescan of the bus). */
  *rescan(): Task<void> {
    for (const d of this.devices)
      if (!d.pdev.driver && !d.pdev.removed) yield* this.pci.bind(d.pdev);
  }

  /** Blocks until the kernel finished booting. */
  *waitBooted(): Task<void> {
    while (!this.booted) yield* waitOn(this.bootWq);
  }

  /**
   * Enumerates PHBs and devices from the device tree, probes EEH on each
   * device, saves config space, starts the EEH event thread, binds drivers.
   */
  *boot(): Task<BootReport> {
    const tree = this.platform.deviceTree();
    const init = this.ops.init;
    if (!init.ok) this.sim.trace.emit('guest.pseries.init_failed', { missing: init.missing });
    for (const node of tree.phbs) {
      this.buids.set(node.index, node.buid);
      const pe = this.eeh.addPhbPe(node.index);
      this.phbs.push({
        index: node.index,
        buid: node.buid,
        node,
        pe,
        iommu: new GuestIommu(node.dmaWindow),
      });
    }
    let anyPe = false;
    for (const phb of this.phbs) {
      for (const node of phb.node.devices) {
        const pdev = new PciDev(
          phb.index,
          node.bdf,
          node.vendor,
          node.device,
          false,
          // MODEL: the device tree gives no BAR flags; all are taken as 32-bit memory BARs.
          node.bars.map((b) => ({ index: b.index, start: b.gpa, size: b.size, is64: false })),
        );
        const edev = new EehDev(node.bdf, pdev);
        pdev.edev = edev;
        const name = pciName(phb.index, node.bdf);
        const dev: GuestDevice = {
          name,
          phb,
          node,
          pdev,
          edev,
          peAddr: -ENODEV,
          checks: 0,
          falsePositives: 0,
          lastDriver: '',
          integrity: new DeviceIntegrity(this.sim, `${this.name}/${name}`, this.opts.oracle),
        };
        this.devices.push(dev);
        this.byPdev.set(pdev, dev);
        this.pci.addDevice(pdev);
        const over =
          this.opts.driverOverride?.[name] ?? this.opts.driverOverride?.[formatBdf(node.bdf)];
        if (over !== undefined) this.pci.driverOverride.set(pdev, over);
        // pcibios_bus_add_device -> pseries_eeh_init_edev -> eeh_pe_tree_insert
        if (init.ok) {
          const addr = yield* this.ops.initEdev(edev);
          dev.peAddr = addr;
          if (addr >= 0) {
            const pe =
              this.eeh.findPe(phb.index, addr) ??
              this.eeh.addPe(EEH_PE_DEVICE, phb.index, addr as PeNumber);
            this.eeh.attach(edev, pe);
            anyPe = true;
          }
          this.sim.trace.emit('guest.pseries.probe', {
            dev: name,
            pe: edev.pe?.label ?? '-',
            rc: Math.min(addr, 0),
          });
        }
        yield* this.eeh.saveBars(edev);
      }
    }
    this.eeh.enabled = init.ok && anyPe;
    this.eeh.events.start(this.name);
    if (tree.eehNotify && this.platform.onEehEvent) {
      this.platform.onEehEvent((ev) => this.eehEvent(ev.buid, ev.configAddr));
    }
    const probe: Record<string, number> = {};
    for (const d of this.devices) probe[d.name] = yield* this.pci.bind(d.pdev);
    const report: BootReport = {
      phbs: this.phbs.length,
      devices: this.devices.length,
      eeh: this.eeh.enabled,
      probe,
      ...(init.ok ? {} : { eehMissing: init.missing }),
    };
    this.bootReport = report;
    this.booted = true;
    this.bootWq.wakeAll(this.sim.sched);
    this.sim.trace.emit('guest.boot', {
      phbs: report.phbs,
      devices: report.devices,
      eeh: report.eeh,
    });
    return report;
  }

  // ---- lookup -------------------------------------------------------------

  deviceOf(pdev: PciDev): GuestDevice | undefined {
    return this.byPdev.get(pdev);
  }

  /** A device by `DDDD:BB:DD.F`, `BB:DD.F` (first match) or index in `devices`. */
  device(ref: string | number): GuestDevice | undefined {
    if (typeof ref === 'number') return this.devices[ref];
    return this.devices.find((d) => d.name === ref || formatBdf(d.pdev.bdf) === ref);
  }

  /** The device whose BAR holds `addr`. */
  deviceAt(addr: number): GuestDevice | undefined {
    const pdev = this.pci.deviceAt(addr);
    return pdev ? this.byPdev.get(pdev) : undefined;
  }

  /** pci_channel_offline(): the device's error state is not normal. */
  pciChannelOffline(pdev: PciDev): boolean {
    return pdev.errorState !== 'normal';
  }

  // ---- MMIO ---------------------------------------------------------------

  /**
   * A CPU load from a guest-physical address (in_le32 & co: no EEH check).
   * MODEL: the value is taken at the end of the load's latency (the moment
   * the completion would arrive); stores take effect after mmio_write.
   */
  private *mmioLoad(addr: number, size: 1 | 2 | 4): Task<number> {
    yield* this.sim.charge('mmio_read');
    return this.platform.mmioRead(addr as Gpa, size) >>> 0;
  }

  private *mmioStore(addr: number, size: 1 | 2 | 4, value: number): Task<void> {
    yield* this.sim.charge('mmio_write');
    this.platform.mmioWrite(addr as Gpa, size, value >>> 0);
  }

  /**
   * eeh_readl()/readw()/readb(): the load, and on an all-1s value with EEH
   * enabled (EEH_POSSIBLE_ERROR) eeh_check_failure(). The value is returned
   * either way; a driver learns of the freeze from pci_channel_offline().
   */
  private *eehRead(addr: number, size: 1 | 2 | 4): Task<number> {
    const v = yield* this.mmioLoad(addr, size);
    if (v === allOnes(size) && this.eeh.enabled && this.accessors.checkOnAllOnes) {
      const dev = this.deviceAt(addr);
      const was = dev && this.pciChannelOffline(dev.pdev);
      const rc = yield* this.eeh.checkFailureAt(addr);
      if (dev) {
        dev.checks++;
        if (rc === 0 && dev.edev.pe) dev.falsePositives++;
        if (!was) this.detected(dev, 'accessor');
      }
    }
    return v;
  }

  /** Records a device's first sight of a freeze (normal before, offline now). */
  private detected(dev: GuestDevice, via: GuestDetection['via']): void {
    if (this.pciChannelOffline(dev.pdev))
      this.detections.push({ t: this.sim.now, dev: dev.name, via });
  }

  /**
   * PROPOSAL (+notify, not PAPR): the hypervisor's EEH freeze event for the
   * device at (BUID, config address): eeh_dev_check_failure() on it, so
   * recovery starts without waiting for an all-1s read.
   */
  private *eehEvent(buid: bigint, configAddr: number): Task<void> {
    const dev = this.devices.find((d) => d.phb.buid === buid && d.node.configAddr === configAddr);
    this.sim.trace.emit('guest.eeh_event', { dev: dev?.name ?? '-', configAddr });
    if (!dev) {
      this.eehEvents.unknown++;
      return;
    }
    this.eehEvents.handled++;
    yield* this.eehDevCheckFailure(dev, 'event');
  }

  *readl(addr: number): Task<number> {
    return yield* this.eehRead(addr, 4);
  }

  *readw(addr: number): Task<number> {
    return yield* this.eehRead(addr, 2);
  }

  *readb(addr: number): Task<number> {
    return yield* this.eehRead(addr, 1);
  }

  *writel(addr: number, value: number): Task<void> {
    yield* this.mmioStore(addr, 4, value);
  }

  *writew(addr: number, value: number): Task<void> {
    yield* this.mmioStore(addr, 2, value);
  }

  *writeb(addr: number, value: number): Task<void> {
    yield* this.mmioStore(addr, 1, value);
  }

  /** __raw_readl(): a load without the EEH check. */
  *rawReadl(addr: number): Task<number> {
    return yield* this.mmioLoad(addr, 4);
  }

  *rawWritel(addr: number, value: number): Task<void> {
    yield* this.mmioStore(addr, 4, value);
  }

  // ---- config space -------------------------------------------------------

  /**
   * pci_read_config_*() over rtas_pci_read_config(): an all-1s value runs
   * eeh_dev_check_failure() (counted as a check of the device).
   */
  *pciReadConfig(pdev: PciDev, where: number, size: 1 | 2 | 4): Task<number> {
    const edev = pdev.edev;
    if (!edev) return allOnes(size);
    const [, v] = yield* this.ops.dnReadConfig(edev, where, size);
    if (v === allOnes(size) && this.eeh.enabled) {
      const dev = this.byPdev.get(pdev);
      if (dev) yield* this.eehDevCheckFailure(dev);
      else yield* this.eeh.devCheckFailure(edev);
    }
    return v;
  }

  /**
   * eeh_dev_check_failure() on behalf of a device (a driver's error path, an
   * all-1s config read), counted as a check of the device. 1 when the PE is
   * (now) known frozen.
   */
  *eehDevCheckFailure(dev: GuestDevice, via: GuestDetection['via'] = 'check'): Task<number> {
    const was = this.pciChannelOffline(dev.pdev);
    const rc = yield* this.eeh.devCheckFailure(dev.edev);
    if (!was) this.detected(dev, via);
    dev.checks++;
    if (rc === 0 && dev.edev.pe && this.eeh.enabled) dev.falsePositives++;
    return rc;
  }

  /** pci_write_config_*(): a PCIBIOS code. */
  *pciWriteConfig(pdev: PciDev, where: number, size: 1 | 2 | 4, value: number): Task<number> {
    const edev = pdev.edev;
    if (!edev) return 0x86;
    return yield* this.ops.dnWriteConfig(edev, where, size, value);
  }

  // ---- DMA ----------------------------------------------------------------

  /**
   * dma_alloc_coherent(): guest pages mapped read/write in the device's
   * DMA window, one H_PUT_TCE per 4 KiB page. Undefined when the window is
   * full or the hypervisor refuses a TCE.
   *
   * MODEL: Linux batches with H_PUT_TCE_INDIRECT when the hypervisor offers
   * multi-TCE; one H_PUT_TCE per page here.
   */
  *dmaAllocCoherent(dev: GuestDevice, size: number): Task<DmaBuffer | undefined> {
    const pages = Math.max(1, Math.ceil(size / TCE_PAGE_SIZE));
    const iova = dev.phb.iommu.alloc(pages);
    if (iova === undefined) return undefined;
    const pool = this.dmaPool.get(pages);
    const gpa = pool?.pop() ?? this.platform.ram.alloc(pages * TCE_PAGE_SIZE, TCE_PAGE_SIZE);
    const liobn = BigInt(dev.phb.node.dmaWindow.liobn);
    for (let p = 0; p < pages; p++) {
      const tce = BigInt(gpa + p * TCE_PAGE_SIZE) | BigInt(TCE_PCI_READ | TCE_PCI_WRITE);
      const r3 = yield* this.platform.hcall(H_PUT_TCE, [
        liobn,
        BigInt(iova + p * TCE_PAGE_SIZE),
        tce,
      ]);
      if (r3 !== BigInt(H_SUCCESS)) {
        yield* this.unmapTces(dev, iova, p);
        dev.phb.iommu.release(iova, pages);
        this.poolPut(pages, gpa);
        return undefined;
      }
    }
    return { gpa, iova, size: pages * TCE_PAGE_SIZE };
  }

  /** dma_free_coherent(): clears the TCEs and gives the pages back. */
  *dmaFreeCoherent(dev: GuestDevice, buf: DmaBuffer): Task<void> {
    const pages = buf.size / TCE_PAGE_SIZE;
    yield* this.unmapTces(dev, buf.iova, pages);
    dev.phb.iommu.release(buf.iova, pages);
    this.poolPut(pages, buf.gpa);
  }

  private *unmapTces(dev: GuestDevice, iova: number, pages: number): Task<void> {
    const liobn = BigInt(dev.phb.node.dmaWindow.liobn);
    for (let p = 0; p < pages; p++) {
      yield* this.platform.hcall(H_PUT_TCE, [liobn, BigInt(iova + p * TCE_PAGE_SIZE), 0n]);
    }
  }

  private poolPut(pages: number, gpa: Gpa): void {
    // MODEL: GuestRam has no free(); freed coherent buffers are reused by size.
    let pool = this.dmaPool.get(pages);
    if (!pool) {
      pool = [];
      this.dmaPool.set(pages, pool);
    }
    pool.push(gpa);
  }

  // ---- inspection and results ---------------------------------------------

  /** Recoveries of the PE a device belongs to, in order. */
  recoveriesOf(dev: GuestDevice): RecoveryRecord[] {
    const pe = dev.edev.pe;
    return pe ? this.eeh.recoveries.filter((r) => r.pe === pe.label) : [];
  }

  /** The result summary of one device (see integrity.ts). */
  result(dev: GuestDevice): GuestDeviceResult {
    const pe = dev.edev.pe;
    const recs = this.recoveriesOf(dev);
    return summarize({
      name: dev.name,
      owner: this.name,
      driver: dev.pdev.driver?.name ?? dev.lastDriver,
      checks: dev.checks,
      falsePositives: dev.falsePositives,
      inError: !!pe && (pe.state & (EEH_PE_ISOLATED | EEH_PE_RECOVERING)) !== 0,
      removed: !!pe && (pe.state & EEH_PE_REMOVED) !== 0,
      recoveries: recs,
      freezeLimitHit: recs.some(
        (r) => r.outcome === 'failed' && r.freezeCount > this.eeh.maxFreezes,
      ),
      integrity: dev.integrity.counts,
    });
  }

  results(): GuestDeviceResult[] {
    return this.devices.map((d) => this.result(d));
  }

  /** A JSON-serialisable picture of the kernel's state. */
  snapshot(): GuestKernelSnapshot {
    return {
      name: this.name,
      booted: this.booted,
      eehEnabled: this.eeh.enabled,
      eehStats: { ...this.eeh.stats },
      pseries: { ...this.ops.stats },
      rtas: Object.fromEntries([...this.rtas.stats].map(([k, v]) => [k, { ...v }])),
      events: { handled: this.eeh.events.handled, pending: this.eeh.events.pending },
      pes: this.eeh.allPes().map((pe) => ({
        label: pe.label,
        state: formatPeState(pe.state),
        freezeCount: pe.freezeCount,
        checkCount: pe.checkCount,
        falsePositives: pe.falsePositives,
        devices: pe.edevs.map((e) => e.name),
      })),
      devices: this.devices.map((d) => ({
        name: d.name,
        vendor: d.pdev.vendor,
        device: d.pdev.device,
        pe: d.edev.pe?.label ?? null,
        peAddr: d.peAddr,
        driver: d.pdev.driver?.name ?? null,
        errorState: d.pdev.errorState,
        removed: d.pdev.removed,
        checks: d.checks,
        falsePositives: d.falsePositives,
        integrity: { ...d.integrity.counts },
      })),
      recoveries: this.eeh.recoveries.map((r) => ({ ...r })),
      hotplug: { removes: this.pci.hotplugRemoves, adds: this.pci.hotplugAdds },
    };
  }
}

export interface GuestKernelSnapshot {
  name: string;
  booted: boolean;
  eehEnabled: boolean;
  eehStats: EehStats;
  pseries: PseriesStats;
  rtas: Record<string, RtasCallStats>;
  events: { handled: number; pending: number };
  pes: Array<{
    label: string;
    state: string;
    freezeCount: number;
    checkCount: number;
    falsePositives: number;
    devices: string[];
  }>;
  devices: Array<{
    name: string;
    vendor: number;
    device: number;
    pe: string | null;
    peAddr: number;
    driver: string | null;
    errorState: string;
    removed: boolean;
    checks: number;
    falsePositives: number;
    integrity: Record<string, number>;
  }>;
  recoveries: RecoveryRecord[];
  hotplug: { removes: number; adds: number };
}
