/**
 * Trace events of the VFIO layer. One span per ioctl (`vfio.ioctl`, closed
 * with its rc) plus instants for the few state changes worth seeing in a
 * golden trace. Fields are plain strings / numbers, computed cheaply.
 */
export {};

declare module '../sim/trace.js' {
  interface TraceEvents {
    /** An ioctl on a VFIO fd; the span end carries `rc`. `fd` is the fd kind. */
    'vfio.ioctl': { fd: string; ioctl: string };
    /** open() of /dev/vfio/*: `rc` is 0 or -errno. */
    'vfio.open': { path: string; rc: number };
    /** The last reference to a VFIO file went away. */
    'vfio.release': { fd: string; id: string };
    /** VFIO_EEH_PE_OP reached one group's PE (vfio_spapr_ioctl_eeh_pe_op). */
    'vfio.eeh.pe_op': { group: number; pe: string; op: number; rc: number };
    /** A device got its first / lost its last open (eeh_dev_open / eeh_dev_release). */
    'vfio.device.open': { dev: string; group: number; opens: number };
    'vfio.device.close': { dev: string; group: number; opens: number };
    /** vfio-pci signalled the error eventfd (VFIO_PCI_ERR_IRQ_INDEX, the x86 AER path). */
    'vfio.err_signal': { dev: string; eventfd: number };
    /** EXPERIMENTAL (never merged): a guest address was mapped to this device's PE. */
    'vfio.experimental.addr_mapping': {
      dev: string;
      buid: string;
      config_addr: string;
      pe: string;
    };
  }
}
