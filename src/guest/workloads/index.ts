/** Starting a workload from its spec (what a scenario's `workloads:` entry becomes). */
import type { GuestKernel } from '../kernel.js';
import {
  DEFAULT_DMA_BYTES,
  runWorkload,
  type WorkloadHandle,
  type WorkloadKind,
  type WorkloadOp,
  type WorkloadSpec,
} from './common.js';
import { dmaPingPongOp } from './dma_pingpong.js';
import { linkStatusOp } from './link_status.js';
import { mixedOp } from './mixed.js';
import { mmioReadOp } from './mmio_read.js';

export * from './common.js';

/** The op of a workload kind (`bytes`: DMA size of the DMA kinds). */
export function workloadOp(kind: WorkloadKind, bytes: number): WorkloadOp {
  switch (kind) {
    case 'mmio-read':
      return mmioReadOp;
    case 'dma-pingpong':
      return dmaPingPongOp(bytes);
    case 'mixed':
      return mixedOp(bytes);
    case 'link-status':
      return linkStatusOp;
    default: {
      const never: never = kind;
      throw new Error(`unknown workload kind ${String(never)}`);
    }
  }
}

export function startWorkload(kernel: GuestKernel, spec: WorkloadSpec): WorkloadHandle {
  return runWorkload(kernel, spec, workloadOp(spec.kind, spec.bytes ?? DEFAULT_DMA_BYTES));
}
