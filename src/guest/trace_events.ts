/**
 * Trace events of the guest layer (besides `guest.eeh.*`, which the shared
 * EEH core emits: src/kernel/trace_events.ts). The owner of each record is
 * the VM (`vm0`, ...). Healthy I/O emits nothing; events mark RTAS calls,
 * driver state changes and every I/O that was held, retried, lost or
 * silently corrupted.
 */
export {};

declare module '../sim/trace.js' {
  interface TraceEvents {
    /** One guest rtas_call() (span; the end carries `status`). */
    'guest.rtas': { call: string; token: number; nargs: number; nret: number };
    /** The guest kernel finished enumerating its PHBs and devices. */
    'guest.boot': { phbs: number; devices: number; eeh: boolean };
    /** A device got (or did not get) an EEH PE at boot. */
    'guest.pseries.probe': { dev: string; pe: string; rc: number };
    /** The pseries platform refused to initialise (a missing RTAS service). */
    'guest.pseries.init_failed': { missing: string };
    /** Driver events: probe, remove, error_detected, slot_reset, resume, dead... */
    'guest.drv': { dev: string; drv: string; event: string; detail: string };
    /** An I/O the driver could not complete and will retry after recovery. */
    'guest.io.held': { dev: string; op: string; why: string };
    'guest.io.retried': { dev: string; op: string };
    'guest.io.lost': { dev: string; op: string; why: string };
    /** An all-1s read consumed as data while the PE was frozen. */
    'guest.io.silent': { dev: string; reg: string; addr: string };
    /** A store issued while the PE was frozen (dropped by the PHB). */
    'guest.io.dropped_store': { dev: string; reg: string; addr: string };
    /** PROPOSAL (+notify): the hypervisor's EEH freeze event reached the guest kernel. */
    'guest.eeh_event': { dev: string; configAddr: number };
    /** End-to-end check of one DMA ping-pong buffer. */
    'guest.dma.check': { dev: string; ok: boolean; bytes: number; bad: number };
  }
}
