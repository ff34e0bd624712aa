/**
 * PROPOSAL, not PAPR and not upstream KVM (the `+notify` designs): a
 * hypervisor-to-guest "EEH freeze" event. PAPR has no such event - a
 * pseries guest learns of a frozen PE only by asking
 * (ibm,read-slot-reset-state2). The model's proposal is shaped like the
 * sPAPR event sources QEMU already has (EPOW / hot-plug: an interrupt,
 * then the guest fetches the event log with RTAS check-exception): the VMM
 * raises it with an EXPERIMENTAL ioctl on the VM fd naming the virtual
 * PHB's BUID and the device's config address, and KVM injects it into the
 * guest `msi_delivery` later.
 *
 * MODEL: the event's (BUID, config address) arrive with the interrupt; a
 * PAPR-style design would have the guest fetch them with check-exception
 * (one more exit to the VMM per event).
 */
import { defineStruct } from '../uapi/codec.js';
import { _IOW } from '../uapi/ioctl.js';
import { KVMIO } from '../uapi/kvm.js';

/** EXPERIMENTAL, VM fd: struct kvm_ppc_eeh_event. // MODEL: layout is the model's own. */
export const kvm_ppc_eeh_event = defineStruct({
  name: 'kvm_ppc_eeh_event',
  size: 16,
  fields: {
    /** BUID of the guest's virtual PHB (as in the device tree). */
    buid: { offset: 0, type: 'u64' },
    /** PAPR config address of the device ((bus << 16) | (devfn << 8)). */
    config_addr: { offset: 8, type: 'u32' },
    /** must be 0 */
    flags: { offset: 12, type: 'u32' },
  },
});

/**
 * EXPERIMENTAL, never merged: nr 0xfe, at the top of the KVMIO range, far
 * from the real VM ioctls (numbered upwards, below 0xe4 for VM/device fds).
 */
export const KVM_PPC_EEH_EVENT = _IOW(KVMIO, 0xfe, kvm_ppc_eeh_event.size);

/** What the guest's handler receives. */
export interface GuestEehEvent {
  readonly buid: bigint;
  readonly configAddr: number;
}
