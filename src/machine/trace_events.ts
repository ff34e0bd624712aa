/**
 * Trace events of the machine builder: what the scenario did to the machine
 * (faults, raw steps). They carry the `scenario.` prefix, the layer of the
 * scenario in the trace (src/sim/layers.ts).
 */
export {};

declare module '../sim/trace.js' {
  interface TraceEvents {
    /** A fault of the scenario hit the hardware: kind, target device, how it was made. */
    'scenario.fault': { kind: string; target: string; n: number; how: string };
    /** A fault could not be applied (e.g. a link-down on a device without a link). */
    'scenario.fault_skipped': { kind: string; target: string; why: string };
    /** span: one raw step of the scenario (RTAS call, VFIO ioctl, host knob); end: rc. */
    'scenario.step': { index: number; id: string; kind: string; what: string };
  }
}
