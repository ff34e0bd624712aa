/**
 * Trace events of the KVM layer. Spans: one per hypercall (`kvm.hcall`) and
 * one per RTAS call answered in the kernel (`kvm.rtas`); instants for exits
 * to the VMM, ioctls and VM-fatal errors.
 */
declare module '../sim/trace.js' {
  interface TraceEvents {
    /** span: a hypercall from a vCPU; end fields: r3, path ('kernel' | 'exit' | 'fatal'). */
    'kvm.hcall': { vm: string; vcpu: number; nr: number; name: string };
    /** span: an RTAS call run by an in-kernel service; end fields: status. */
    'kvm.rtas': { vm: string; token: number; name: string; path: string };
    /** KVM_RUN returned to the VMM (kvm_run.exit_reason). */
    'kvm.exit': { vm: string; vcpu: number; reason: string; nr: number; token: number };
    /** KVM_RUN failed: the VM cannot continue (the VMM stops it). */
    'kvm.vm_fatal': { vm: string; vcpu: number; rc: number; reason: string };
    /** An ioctl on a KVM fd (system, vm, vcpu, device). */
    'kvm.ioctl': { vm: string; fd: string; ioctl: string; rc: number };
    /** KVM_PPC_RTAS_DEFINE_TOKEN. */
    'kvm.rtas_token': { vm: string; name: string; token: number; rc: number };
    /** kvm-vfio device attribute (GROUP_ADD / GROUP_DEL / SET_SPAPR_TCE / SET_EEH_MAPPING). */
    'kvm.vfio': { vm: string; op: string; rc: number };
    /** PROPOSAL (+notify): an EEH freeze event reached the guest (delivered: a handler ran). */
    'kvm.eeh_event': { vm: string; buid: string; configAddr: number; delivered: boolean };
    /** A memory slot created, moved or deleted. */
    'kvm.memslot': { vm: string; slot: number; kind: string; gpa: number; size: number };
  }
}

export {};
