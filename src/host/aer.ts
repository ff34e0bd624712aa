/**
 * The host's PCIe AER core on an x86-like host (design `aer`, the non-EEH
 * baseline): cf. drivers/pci/pcie/aer.c (aer_irq / aer_isr ->
 * aer_process_err_devices) and drivers/pci/pcie/err.c (pcie_do_recovery ->
 * report_error_detected). The PHB's `aer` error reporting (src/hw/phb.ts)
 * hands every detected error here instead of freezing a PE; the root
 * port's AER interrupt reaches the host, the handler reads the error
 * status and calls the driver's error_detected for the reported device.
 * For vfio-pci that is vfio_pci_core_aer_err_detected()
 * (drivers/vfio/pci/vfio_pci_core.c): signal the user's error eventfd
 * (VFIO_PCI_ERR_IRQ_INDEX) and return PCI_ERS_RESULT_CAN_RECOVER.
 *
 * MODEL:
 * - the interrupt reaches the host `msi_delivery` after the error (latency,
 *   charged to no process); the handler runs as a host process and is
 *   charged two `config_access` (the root port's PCI_ERR_ROOT_STATUS /
 *   error source and the device's PCI_ERR_UNCOR_STATUS; the model's
 *   functions have no AER capability to read, so only the cost is kept);
 * - every error is reported as uncorrectable non-fatal
 *   (pci_channel_io_normal): no link or slot reset follows;
 * - only error_detected of the device's driver is modelled; the rest of
 *   pcie_do_recovery (mmio_enabled, resume, clearing the status) has no
 *   effect here. A device whose driver is not vfio-pci is counted as
 *   `unhandled` (the host's own drivers are not told; the design's
 *   scenarios pass their devices through).
 */
import type { PhbErrorRecord } from '../hw/phb.js';
import {
  PCI_ERS_RESULT_CAN_RECOVER,
  PCI_ERS_RESULT_NONE,
  type PciErsResult,
} from '../kernel/eeh_consts.js';
import type { Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import type { Ns } from '../sim/time.js';
import type { HostPciDev } from './pci_dev.js';

declare module '../sim/trace.js' {
  interface TraceEvents {
    /** The AER core reported an error to the device's driver (error_detected's result, eventfd signalled). */
    'host.aer.error': {
      phb: number;
      dev: string;
      driver: string;
      kind: string;
      result: number;
      signalled: boolean;
    };
  }
}

/** What the AER core needs from the host kernel. */
export interface AerHost {
  /** The host function with requester ID `bdf` below PHB `phb`. */
  aerDevice(phb: number, bdf: number): HostPciDev | undefined;
  /**
   * vfio-pci's error_detected for `pdev` (vfio_pci_core_aer_err_detected):
   * true when the device is open and its error eventfd was signalled;
   * undefined when the device is not bound to vfio-pci.
   */
  vfioErrDetected(pdev: HostPciDev): boolean | undefined;
}

/** One AER report the host handled. */
export interface AerReport {
  /** Virtual time the handler ran. */
  readonly t: Ns;
  readonly device: string;
  readonly driver: string;
  readonly kind: string;
  /** error_detected's result (PCI_ERS_RESULT_*), or NONE when no driver handled it. */
  readonly result: PciErsResult;
  /** The error eventfd was signalled. */
  readonly signalled: boolean;
}

export class HostAer {
  readonly stats = { interrupts: 0, reported: 0, unhandled: 0 };
  readonly reports: AerReport[] = [];

  constructor(
    private readonly sim: Sim,
    private readonly host: AerHost,
  ) {}

  /** The root port's AER interrupt for a logged error (aer_irq). */
  interrupt(r: PhbErrorRecord): void {
    this.stats.interrupts++;
    const sim = this.sim;
    sim.sched.after(sim.costs.ns('msi_delivery'), () => {
      sim.spawn('aerdrv', this.handle(r), 'host');
    });
  }

  /** aer_isr(): read the error source and status, report to the device's driver. */
  private *handle(r: PhbErrorRecord): Task<void> {
    yield* this.sim.charge('config_access', 2);
    const pdev = r.bdf === undefined ? undefined : this.host.aerDevice(r.phb, r.bdf);
    const signalled = pdev ? this.host.vfioErrDetected(pdev) : undefined;
    const handled = signalled !== undefined;
    const result = handled ? PCI_ERS_RESULT_CAN_RECOVER : PCI_ERS_RESULT_NONE;
    if (handled) this.stats.reported++;
    else this.stats.unhandled++;
    const report: AerReport = {
      t: this.sim.now,
      device: pdev?.name ?? '-',
      driver: pdev?.driver?.name ?? '-',
      kind: r.kind,
      result,
      signalled: signalled === true,
    };
    this.reports.push(report);
    this.sim.trace.emit('host.aer.error', {
      phb: r.phb,
      dev: report.device,
      driver: report.driver,
      kind: r.kind,
      result,
      signalled: report.signalled,
    });
  }
}
