/**
 * Trace events of the VMM (the QEMU-like sPAPR machine): one span per RTAS
 * call it handles, instants for other hypercalls, the VFIO EEH operations
 * it issues, MSI-X handling around resets and set-up steps.
 */
declare module '../sim/trace.js' {
  interface TraceEvents {
    /** span: spapr_rtas_call(); end fields: status (rets[0], signed) and r3. */
    'vmm.rtas': { vm: string; token: number; name: string; nargs: number; nret: number };
    /** A hypercall other than H_RTAS answered by the VMM (H_PUT_TCE, ...). */
    'vmm.hcall': { vm: string; nr: number; name: string; ret: number };
    /** VFIO_EEH_PE_OP issued on a PHB's container: op name and the ioctl's return. */
    'vmm.eeh_op': { vm: string; phb: number; op: string; rc: number };
    /** MSI-X of a passed-through device: enable / disable (VFIO_DEVICE_SET_IRQS), cache reset. */
    'vmm.msix': { vm: string; dev: string; op: string; rc: number };
    /** vm_stop(): the VM's vCPUs are paused (state: QEMU RunState), with the VMM's message. */
    'vmm.vm_stop': { vm: string; state: string; reason: string };
    /** A machine set-up step (realize); rc < 0 stops the machine. */
    'vmm.setup': { vm: string; step: string; rc: number };
  }
}

export {};
