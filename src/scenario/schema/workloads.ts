/**
 * Workloads: what drivers do with their devices while the scenario runs.
 *
 * ALIGNED with src/guest/workloads (WorkloadSpec: kind, startNs, intervalNs,
 * ops, durationNs, bytes).
 */
import { z } from 'zod';
import type { WorkloadKind as GuestWorkloadKind } from '../../guest/workloads/common.js';
import { Count, DeviceRef, Duration, Ident } from './common.js';

export const WORKLOAD_KINDS = {
  'mmio-read': 'MMIO read loop on BAR0',
  'dma-pingpong': 'DMA ping-pong with data checks',
  mixed: 'MMIO reads and DMA interleaved',
  'link-status': 'reads the link_status register (legitimately all 1s while the link is down)',
} as const satisfies Record<GuestWorkloadKind, string>;
export type WorkloadKind = keyof typeof WORKLOAD_KINDS;
export const WORKLOAD_KIND_NAMES = Object.keys(WORKLOAD_KINDS) as [WorkloadKind, ...WorkloadKind[]];

export const Workload = z.strictObject({
  kind: z.enum(WORKLOAD_KIND_NAMES, {
    error: (iss) =>
      `unknown workload '${String(iss.input)}' (known: ${WORKLOAD_KIND_NAMES.join(', ')})`,
  }),
  guest: Ident.optional().meta({
    description: 'Guest whose driver runs it; omitted: the host driver (device not passed through)',
  }),
  device: DeviceRef,
  start: Duration.default(0),
  interval: Duration.default(10_000).meta({ description: 'Time between operations' }),
  ops: Count.min(1).optional().meta({ description: 'Stop after this many operations' }),
  duration: Duration.optional().meta({
    description: 'Or stop after this long (from the first operation); neither: run to the end',
  }),
  bytes: Count.min(1).default(4096).meta({ description: 'DMA transfer size' }),
});
export type Workload = z.output<typeof Workload>;
