/**
 * The PCI subsystem of one kernel: its devices, the registered drivers,
 * binding (drivers/pci/pci-driver.c), hot remove / rescan as EEH recovery
 * uses them (pci_hp_remove_devices / pci_hp_add_devices in eeh_driver.c).
 * Config space around a reset is saved and restored by the EEH core
 * (eeh_bars.ts), through the platform's config accessors.
 */
import type { Task } from '../sim/scheduler.js';
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

  /** Binds the first matching driver (device_attach). Returns the probe's result. */
  *bind(pdev: PciDev): Task<number> {
    if (pdev.driver || pdev.removed) return 0;
    const drv = this.drivers.find((d) => d.matches(pdev.vendor, pdev.device));
    if (!drv) return -19; // -ENODEV: no driver
    pdev.driver = drv;
    const rc = yield* drv.probe(pdev);
    if (rc !== 0) pdev.driver = undefined;
    return rc;
  }

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
