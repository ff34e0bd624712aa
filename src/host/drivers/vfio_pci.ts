/**
 * The `vfio-pci` driver as the host PCI core sees it: devices the host
 * configuration names get driver_override = "vfio-pci" and bind here
 * instead of to their host driver; VFIO (src/vfio) then offers them to
 * userspace through their IOMMU group (cf. drivers/vfio/pci/vfio_pci.c,
 * vfio_pci_core.c).
 *
 * MODEL: no pci_error_handlers. Real vfio-pci has error_detected
 * (vfio_pci_core_aer_err_detected), which only signals the user's error
 * eventfd and returns CAN_RECOVER; while a user has the device open the
 * host EEH core never calls it (the PE is passed through). For a bound but
 * unopened device the model's host therefore treats vfio-pci as an
 * EEH-unaware driver (remove + rescan on recovery). VFIO may install its
 * own handlers with `setErrorHandlers`.
 */
import type { PciDev, PciDriver, PciErrorHandlers } from '../../kernel/pci.js';
import type { Task } from '../../sim/scheduler.js';

export const VFIO_PCI_DRIVER_NAME = 'vfio-pci';

export class VfioPciDriver implements PciDriver {
  readonly name = VFIO_PCI_DRIVER_NAME;
  errHandler: PciErrorHandlers | undefined = undefined;
  /** Devices bound now. */
  readonly bound = new Set<PciDev>();
  probes = 0;
  removes = 0;

  /**
   * No id table: vfio-pci binds only through driver_override (pci_match_device
   * returns pci_device_id_any for the overriding driver, see HostPciSubsystem.bind).
   */
  matches(_vendor: number, _device: number): boolean {
    return false;
  }

  setErrorHandlers(h: PciErrorHandlers | undefined): void {
    this.errHandler = h;
  }

  *probe(pdev: PciDev): Task<number> {
    // vfio_pci_probe(): the device joins its IOMMU group's VFIO group. It is
    // enabled only when userspace opens it (vfio_pci_core_enable).
    this.bound.add(pdev);
    this.probes++;
    return 0;
  }

  *remove(pdev: PciDev): Task<void> {
    this.bound.delete(pdev);
    this.removes++;
  }
}
