/** Mixed: MMIO reads and DMA ping-pongs interleaved (even ops read, odd ops DMA). */
import type { Task } from '../../sim/scheduler.js';
import type { IoResult, TestnicSlot } from '../drivers/testnic.js';
import type { WorkloadStats } from './common.js';
import { dmaPingPongOp } from './dma_pingpong.js';
import { mmioReadOp } from './mmio_read.js';

export function mixedOp(bytes: number) {
  const dma = dmaPingPongOp(bytes);
  return function* (slot: TestnicSlot, i: number, stats: WorkloadStats): Task<IoResult<unknown>> {
    return i % 2 === 0 ? yield* mmioReadOp(slot, i, stats) : yield* dma(slot, i, stats);
  };
}
