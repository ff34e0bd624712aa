/**
 * The `aer` baseline's VMM wiring: what QEMU does for a vfio-pci device on
 * an x86 host (hw/vfio/pci.c). vfio_populate_device() enables error
 * reporting when VFIO_DEVICE_GET_IRQ_INFO(VFIO_PCI_ERR_IRQ_INDEX) reports
 * one vector (`pci_aer`); vfio_register_err_notifier() then creates an
 * event notifier (an eventfd), sets it as the device's error trigger
 * (VFIO_DEVICE_SET_IRQS, ACTION_TRIGGER | DATA_EVENTFD) and watches it
 * from the main loop (qemu_set_fd_handler). vfio_err_notifier_handler():
 *
 *   if (!event_notifier_test_and_clear(&vdev->err_notifier)) return;
 *   error_report("%s(%s) Unrecoverable error detected. Please collect any
 *                 data possible and then kill the guest", ...);
 *   vm_stop(RUN_STATE_INTERNAL_ERROR);
 *
 * No EEH RTAS service is bound in KVM; the guest's EEH calls would exit to
 * the VMM as under `d`, but nothing freezes, so the guest has no reason to
 * make them.
 *
 * MODEL: upstream QEMU registers the error notifier for every PCIe vfio
 * device on every host, sPAPR included; on a powernv host it is never
 * signalled for a passed-through PE (the host EEH core skips the PE's
 * driver callbacks). The model registers it only under this wiring, so the
 * other designs' set-up (and traces) stay as they were.
 */
import type { Task } from '../sim/scheduler.js';
import { VFIO_DEVICE_GET_IRQ_INFO, VFIO_PCI_ERR_IRQ_INDEX, vfio_irq_info } from '../uapi/vfio.js';
import type { EehWiring, EehWiringContext, WiringPhb } from './eeh_wiring.js';
import { registerErrNotifier } from './err_notifier.js';

/** QEMU's message (vfio_err_notifier_handler), with the device's name. */
export function unrecoverableErrorMessage(dev: string): string {
  return `vfio_err_notifier_handler(${dev}) Unrecoverable error detected. Please collect any data possible and then kill the guest`;
}

/** VFIO_DEVICE_GET_IRQ_INFO of the ERR index: its count, or -errno. */
function* errIrqCount(ctx: EehWiringContext, fd: number): Task<number> {
  const arg = vfio_irq_info.encode({
    argsz: vfio_irq_info.size,
    flags: 0,
    index: VFIO_PCI_ERR_IRQ_INDEX,
    count: 0,
  });
  const rc = yield* ctx.ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, arg);
  if (rc !== 0) return rc;
  return vfio_irq_info.get(arg, 0, 'count') as number;
}

/** The x86 baseline: per device an error eventfd whose signal stops the VM. */
export const VFIO_ERR_STOPS_VM: EehWiring = Object.freeze({
  name: 'vfio-err-stops-vm',
  kernelRtasServices: Object.freeze([]),
  *phbRealized(ctx: EehWiringContext, phb: WiringPhb): Task<number> {
    for (const d of phb.devices) {
      // vfio_populate_device(): "Could not enable error recovery for the device".
      if ((yield* errIrqCount(ctx, d.fd)) !== 1) continue;
      // vfio_register_err_notifier(): a failure only warns (pci_aer = false).
      yield* registerErrNotifier(ctx, d.fd, `err-notifier:${d.host}`, function* () {
        ctx.vmStop('internal-error', unrecoverableErrorMessage(d.host));
      });
    }
    return 0;
  },
});
