/**
 * Trace events of the host Linux model (besides the generic `host.eeh.*`
 * events of src/kernel): PCI enumeration and resources, the powernv
 * platform's calls into OPAL, IOMMU groups, drivers and debugfs knobs.
 * Healthy MMIO emits nothing (hot path).
 */
export {};

declare module '../sim/trace.js' {
  interface TraceEvents {
    /** A function found while scanning a PHB (pci_scan_single_device). */
    'host.pci.found': { dev: string; vendor: string; device: string; bridge: boolean };
    /** A BAR assigned from the PHB's MMIO window (pci_assign_resource). */
    'host.pci.bar': { dev: string; bar: number; start: string; size: string };
    /** A bridge's bus numbers and memory window as programmed. */
    'host.pci.bridge': {
      dev: string;
      secondary: number;
      subordinate: number;
      mem: string;
    };
    /** A driver bound to a device (or failed to). */
    'host.pci.bind': { dev: string; driver: string; rc: number };
    /** The PE a device was attached to, from the platform's RID -> PE table. */
    'host.pnv.pe': { dev: string; pe: string; type: string };
    /** pnv_eeh_get_state found a PE newly frozen: isolated + diag data fetched. */
    'host.pnv.frozen': { pe: string; fstate: number; passed: boolean };
    /** pnv_eeh_reset: which reset method and phase. */
    'host.pnv.reset': { pe: string; method: string; option: number; rc: number };
    /** An OPAL call failed (pr_warn in eeh-powernv.c). */
    'host.pnv.opal_error': { call: string; phb: number; pe: number; rc: number };
    /** The OPAL PCI error interrupt (OPAL_EVENT_PCI_ERROR) reached the host. */
    'host.pnv.irq': { masked: boolean };
    /** eventfd_signal() on an eventfd (src/host/eventfd.ts). */
    'host.eventfd.signal': { owner: string; count: number };
    /**
     * PROPOSAL (+notify, not upstream): next_error found a passed-through PE
     * frozen and told VFIO (error eventfds signalled: `signalled`).
     */
    'host.pnv.notify_passed': { pe: string; signalled: number };
    /** pnv_eeh_next_error reported something to the core. */
    'host.pnv.next_error': { phb: number; kind: string; pe: string };
    /** Diag data fetched (OPAL_PCI_GET_PHB_DIAG_DATA2) and kept on the PE. */
    'host.pnv.diag': { pe: string; records: number; severity: number };
    /** TCEs installed or cleared for an IOMMU group. */
    'host.iommu.map': { group: number; iova: string; size: string; perm: number; rc: number };
    'host.iommu.unmap': { group: number; iova: string; size: string; rc: number };
    /** The host testnic driver (probe, recovery callbacks, workload). */
    'host.testnic': { dev: string; what: string };
    /** A debugfs knob was used. */
    'host.debugfs': { knob: string; arg: string; rc: number };
  }
}
