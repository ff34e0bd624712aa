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

  /** The device whose BAR contains the CPU address `addr` (eeh_addr_cache_get_dev). */
  deviceAt(addr: number): PciDev | undefined {
    return this.devices.find((d) => !d.removed && d.resourceAt(addr) !== undefined);
  }
}
