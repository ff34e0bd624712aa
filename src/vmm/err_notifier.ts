/**
 * QEMU's vfio_register_err_notifier() (hw/vfio/pci.c), shared by the
 * wirings that use the device's error eventfd (`aer`: src/vmm/aer_wiring.ts,
 * `+notify`: src/vmm/notify_wiring.ts): an event notifier (an eventfd) set
 * as the device's error trigger with VFIO_DEVICE_SET_IRQS (ACTION_TRIGGER |
 * DATA_EVENTFD on VFIO_PCI_ERR_IRQ_INDEX), then watched from the main loop.
 */
import type { Task } from '../sim/scheduler.js';
import {
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_PCI_ERR_IRQ_INDEX,
  vfio_irq_set,
} from '../uapi/vfio.js';
import type { EehWiringContext } from './eeh_wiring.js';

/**
 * Registers an error eventfd on device fd `fd` and watches it as VMM
 * thread `name`, running `onSignal` per wake-up. False when SET_IRQS fails
 * (QEMU only warns: the device has no error notification).
 */
export function* registerErrNotifier(
  ctx: EehWiringContext,
  fd: number,
  name: string,
  onSignal: () => Task<void>,
): Task<boolean> {
  const efd = ctx.eventfd();
  const arg = new ArrayBuffer(vfio_irq_set.size + 4);
  vfio_irq_set.encodeInto(arg, 0, {
    argsz: arg.byteLength,
    flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
    index: VFIO_PCI_ERR_IRQ_INDEX,
    start: 0,
    count: 1,
  });
  new DataView(arg).setInt32(vfio_irq_set.size, efd, true);
  if ((yield* ctx.ioctl(fd, VFIO_DEVICE_SET_IRQS, arg)) !== 0) return false;
  ctx.watch(efd, name, onSignal);
  return true;
}
