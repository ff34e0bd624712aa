/** Mixed: MMIO reads and DMA ping-pongs interleaved (even ops read, odd ops DMA). */
import type { Task } from '../../sim/scheduler.js';
import type { IoResult, TestnicSlot } from '../drivers/testnic.js';
import type { GuestKernel } from '../kernel.js';
import {
  DEFAULT_DMA_BYTES,
  runWorkload,
  type WorkloadHandle,
  type WorkloadSpec,
  type WorkloadStats,
} from './common.js';
import { dmaPingPongOp } from './dma_pingpong.js';
import { mmioReadOp } from './mmio_read.js';

export function mixedOp(bytes: number) {
  const dma = dmaPingPongOp(bytes);
  return function* (slot: TestnicSlot, i: number, stats: WorkloadStats): Task<IoResult<unknown>> {
    return i % 2 === 0 ? yield* mmioReadOp(slot, i, stats) : yield* dma(slot, i, stats);
  };
}

export function startMixed(kernel: GuestKernel, spec: Omit<WorkloadSpec, 'kind'>): WorkloadHandle {
  return runWorkload(kernel, { ...spec, kind: 'mixed' }, mixedOp(spec.bytes ?? DEFAULT_DMA_BYTES));
}
