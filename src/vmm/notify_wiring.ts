/**
 * PROPOSAL, not upstream: the `+notify` designs - the seed's "notification
 * mechanism when a PHB is frozen". `withNotify(base)` is `base` (any
 * design's wiring, src/vmm/eeh_wiring.ts) plus, per passed-through device,
 * an eventfd registered as the device's error trigger
 * (VFIO_DEVICE_SET_IRQS, ACTION_TRIGGER | DATA_EVENTFD on
 * VFIO_PCI_ERR_IRQ_INDEX - as QEMU's vfio_register_err_notifier does for
 * AER on x86). The host signals it when its error interrupt finds the
 * device's PE frozen (HostConfig.notifyPassedFreeze); on each wake-up the
 * VMM raises the guest EEH event for that device (EXPERIMENTAL
 * KVM_PPC_EEH_EVENT, src/kvm/eeh_event.ts), and the device tree tells the
 * guest the event exists (`eehNotify`). Whether the guest then skips the
 * state query on all-1s reads is the guest's accessor policy, not the
 * wiring's.
 */
import { KVM_PPC_EEH_EVENT, kvm_ppc_eeh_event } from '../kvm/eeh_event.js';
import type { Task } from '../sim/scheduler.js';
import type { GuestDeviceTree } from '../uapi/device_tree.js';
import type { EehWiring, EehWiringContext, WiringPhb } from './eeh_wiring.js';
import { registerErrNotifier } from './err_notifier.js';

/** The wiring `base` with asynchronous freeze notification. */
export function withNotify(base: EehWiring): EehWiring & { readonly notify: true } {
  return Object.freeze({
    name: `${base.name}+notify`,
    notify: true as const,
    kernelRtasServices: base.kernelRtasServices,
    *phbRealized(ctx: EehWiringContext, phb: WiringPhb): Task<number> {
      if (base.phbRealized) {
        const rc = yield* base.phbRealized(ctx, phb);
        if (rc !== 0) return rc;
      }
      for (const d of phb.devices) {
        const event = kvm_ppc_eeh_event.encode({
          buid: phb.buid,
          config_addr: d.configAddr,
          flags: 0,
        });
        // vfio_register_err_notifier(): a failure only warns (no notification for the device).
        yield* registerErrNotifier(ctx, d.fd, `err-notify:${d.host}`, function* () {
          yield* ctx.ioctl(ctx.vmFd, KVM_PPC_EEH_EVENT, event.slice(0));
        });
      }
      return 0;
    },
    deviceTree(tree: GuestDeviceTree): GuestDeviceTree {
      const t = base.deviceTree ? base.deviceTree(tree) : tree;
      return { ...t, eehNotify: true };
    },
  });
}
