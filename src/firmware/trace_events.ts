/**
 * Trace events of the firmware layer: one per OPAL call that matters for
 * EEH (config accesses are not traced: enumeration makes thousands).
 * `rc` is the OPAL return code by name.
 */
export {};

declare module '../sim/trace.js' {
  interface TraceEvents {
    'fw.freeze_status': {
      phb: number;
      pe: number;
      rc: string;
      state: number;
      type: number;
      severity: number;
      call: string;
    };
    'fw.freeze_clear': { phb: number; pe: number; action: number; rc: string };
    'fw.freeze_set': { phb: number; pe: number; action: number; rc: string };
    'fw.pci_reset': { phb: number; pe: number; scope: number; assert: number; rc: string };
    'fw.next_error': { phb: number; rc: string; pe: number; type: number; severity: number };
    'fw.diag_data': { phb: number; rc: string; records: number };
    'fw.err_inject': {
      phb: number;
      pe: number;
      type: number;
      func: number;
      addr: string;
      mask: string;
      rc: string;
    };
    'fw.config_error': { phb: number; bdf: number; offset: number; write: boolean; rc: string };
  }
}
