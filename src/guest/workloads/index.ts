/** Starting a workload from its spec (what a scenario's `workloads:` entry becomes). */
import type { GuestKernel } from '../kernel.js';
import {
  DEFAULT_DMA_BYTES,
  runWorkload,
  type WorkloadHandle,
  type WorkloadSpec,
} from './common.js';
import { dmaPingPongOp } from './dma_pingpong.js';
import { linkStatusOp } from './link_status.js';
import { mixedOp } from './mixed.js';
import { mmioReadOp } from './mmio_read.js';

export * from './common.js';

export function startWorkload(kernel: GuestKernel, spec: WorkloadSpec): WorkloadHandle {
  const bytes = spec.bytes ?? DEFAULT_DMA_BYTES;
  switch (spec.kind) {
    case 'mmio-read':
      return runWorkload(kernel, spec, mmioReadOp);
    case 'dma-pingpong':
      return runWorkload(kernel, spec, dmaPingPongOp(bytes));
    case 'mixed':
      return runWorkload(kernel, spec, mixedOp(bytes));
    case 'link-status':
      return runWorkload(kernel, spec, linkStatusOp);
    default: {
      const never: never = spec.kind;
      throw new Error(`unknown workload kind ${String(never)}`);
    }
  }
}
