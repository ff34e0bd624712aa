/**
 * Faults: errors that freeze a PE (or look like one), at a virtual time or
 * after the target device has served N workload operations.
 *
 * ALIGN: translated by the machine to hw error injection / natural faults.
 */
import { z } from 'zod';
import { Count, DeviceRef, Duration } from './common.js';

export const FAULT_KINDS = {
  dma: 'device DMA to an IOVA without a valid TCE (PE frozen)',
  'dma-permission': 'device DMA write through a read-only TCE (PE frozen)',
  mmio: 'MMIO access error, e.g. completion timeout (PE frozen)',
  config: 'config-space access error (PE frozen)',
  'poisoned-tlp': 'poisoned data from the device (PE frozen)',
  'phb-fence': 'PHB fence: every PE of the PHB reads as frozen',
  'link-down': 'link goes down: link_status legitimately reads all 1s (no freeze)',
} as const;
export type FaultKind = keyof typeof FAULT_KINDS;
export const FAULT_KIND_NAMES = Object.keys(FAULT_KINDS) as [FaultKind, ...FaultKind[]];

export const Fault = z
  .strictObject({
    kind: z.enum(FAULT_KIND_NAMES, {
      error: (iss) =>
        `unknown fault kind '${String(iss.input)}' (known: ${FAULT_KIND_NAMES.join(', ')})`,
    }),
    target: DeviceRef.meta({ description: 'Device whose PE is hit (name or DDDD:BB:DD.F)' }),
    at: Duration.optional().meta({ description: 'Virtual time of the (first) fault' }),
    after_ops: Count.min(1).optional().meta({
      description: 'Or: after the target served this many workload operations',
    }),
    count: Count.min(1).default(1).meta({ description: 'How many times the fault happens' }),
    every: Duration.optional().meta({
      description: 'Time between repeated faults (count > 1); default: after each recovery',
    }),
  })
  .superRefine((f, ctx) => {
    if ((f.at === undefined) === (f.after_ops === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: f.at === undefined ? [] : ['after_ops'],
        message: 'give exactly one of at (a time) or after_ops (a count)',
      });
    }
  });
export type Fault = z.output<typeof Fault>;
