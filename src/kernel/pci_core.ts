/**
 * The PCI subsystem of one kernel: its devices, the registered drivers,
 * binding (drivers/pci/pci-driver.c), hot remove / rescan as EEH recovery
 * uses them (pci_hp_remove_devices / pci_hp_add_devices in eeh_driver.c).
 * Config space around a reset is saved and restored by the EEH core
 * (eeh_bars.ts), through the platform's config accessors.
 */
import type { Task } from '../sim/scheduler.js';
import { ENODEV } from '../uapi/errno.js';
import type { MmioOps, PciDev, PciDriver } from './pci.js';

export class PciSubsystem {
  readonly devices: PciDev[] = [];
  readonly drivers: PciDriver[] = [];
  /** Probe / remove events, for reports (remove+rescan counts as a hotplug). */
  hotplugRemoves = 0;
  hotplugAdds = 0;

  /**
   * deviceAt()'s address index (Linux: eeh_addr_cache, an rb-tree of the
   * BAR ranges filled at pcibios_bus_add_device): every BAR with a size,
   * sorted by start, with the running maximum of the ends. Built lazily from
   * `devices` and rebuilt when the list grows. Resources are final when a
   * device is added (the host assigns BARs before addDevice, the guest takes
   * them from the device tree), as the kernel's cache assumes.
   */
  private addrIndex:
    | { starts: number[]; ends: number[]; maxEnd: number[]; pos: number[]; length: number }
    | undefined;

  constructor(readonly mmio: MmioOps) {}

  addDevice(pdev: PciDev): void {
    this.devices.push(pdev);
  }

  registerDriver(driver: PciDriver): void {
    this.drivers.push(driver);
  }

  /**
   * Binds the first matching driver (device_attach -> driver_probe_device).
   * Returns the probe's result; -ENODEV when no driver matches.
   */
  *bind(pdev: PciDev): Task<number> {
    if (pdev.driver || pdev.removed) return 0;
    const drv = this.matchDriver(pdev);
    if (!drv) return -ENODEV;
    pdev.driver = drv;
    this.probing(pdev, drv);
    const rc = yield* drv.probe(pdev);
    if (rc !== 0) pdev.driver = undefined;
    this.probed(pdev, drv, rc);
    return rc;
  }

  /** pci_match_device(): the driver for `pdev` (by vendor / device id here). */
  protected matchDriver(pdev: PciDev): PciDriver | undefined {
    return this.drivers.find((d) => d.matches(pdev.vendor, pdev.device));
  }

  /** Hook: `drv` is about to probe `pdev`. */
  protected probing(_pdev: PciDev, _drv: PciDriver): void {}

  /** Hook: `drv`'s probe of `pdev` returned `rc` (pdev.driver is unset again on failure). */
  protected probed(_pdev: PciDev, _drv: PciDriver, _rc: number): void {}

  *unbind(pdev: PciDev): Task<void> {
    const drv = pdev.driver;
    if (!drv) return;
    yield* drv.remove(pdev);
    pdev.driver = undefined;
  }

  /** pci_stop_and_remove_bus_device(): unbind and forget the device. */
  *hotRemove(pdev: PciDev): Task<void> {
    yield* this.unbind(pdev);
    pdev.removed = true;
    this.hotplugRemoves++;
  }

  /** pci_hp_add_devices() for one device: bring it back and bind a driver. */
  *hotAdd(pdev: PciDev): Task<number> {
    pdev.removed = false;
    pdev.errorState = 'normal';
    this.hotplugAdds++;
    return yield* this.bind(pdev);
  }

  /**
   * The device whose BAR contains the CPU address `addr`
   * (eeh_addr_cache_get_dev): the first in `devices` that is not removed
   * and has a resource containing `addr` - the same answer as a linear
   * scan (`deviceAtLinear`), found by binary search in the address index.
   */
  deviceAt(addr: number): PciDev | undefined {
    const ix = this.index();
    const { starts, ends, maxEnd, pos } = ix;
    // Last range starting at or below addr; walk down while a range that
    // starts earlier can still reach addr (only overlapping ranges, e.g.
    // unassigned BARs at 0, make this walk longer than one step).
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((starts[mid] as number) <= addr) lo = mid + 1;
      else hi = mid;
    }
    let best = -1;
    for (let i = lo - 1; i >= 0 && (maxEnd[i] as number) > addr; i--) {
      if ((ends[i] as number) <= addr) continue;
      const p = pos[i] as number;
      if ((best < 0 || p < best) && !(this.devices[p] as PciDev).removed) best = p;
    }
    return best < 0 ? undefined : this.devices[best];
  }

  /** deviceAt() as a linear scan (the reference the index must agree with; tests). */
  deviceAtLinear(addr: number): PciDev | undefined {
    return this.devices.find((d) => !d.removed && d.resourceAt(addr) !== undefined);
  }

  private index(): NonNullable<PciSubsystem['addrIndex']> {
    const cur = this.addrIndex;
    if (cur && cur.length === this.devices.length) return cur;
    const ranges: { start: number; end: number; pos: number }[] = [];
    this.devices.forEach((d, pos) => {
      for (const r of d.resources) {
        if (r.size > 0) ranges.push({ start: r.start, end: r.start + r.size, pos });
      }
    });
    ranges.sort((a, b) => a.start - b.start || a.pos - b.pos);
    const maxEnd: number[] = [];
    let m = Number.NEGATIVE_INFINITY;
    for (const r of ranges) {
      m = Math.max(m, r.end);
      maxEnd.push(m);
    }
    const ix = {
      starts: ranges.map((r) => r.start),
      ends: ranges.map((r) => r.end),
      maxEnd,
      pos: ranges.map((r) => r.pos),
      length: this.devices.length,
    };
    this.addrIndex = ix;
    return ix;
  }
}
