/**
 * DMA ping-pong with data checks: a pattern written to a guest buffer is
 * DMAed into the device and back into a second buffer, and compared.
 */
import type { Task } from '../../sim/scheduler.js';
import type { DmaCheck, IoResult, TestnicSlot } from '../drivers/testnic.js';
import type { WorkloadStats } from './common.js';

export function dmaPingPongOp(bytes: number) {
  return function* (slot: TestnicSlot, _i: number, stats: WorkloadStats): Task<IoResult<DmaCheck>> {
    const r = yield* slot.dmaPingPong(bytes);
    if (r.ok) {
      if (r.value.ok) stats.dmaOk++;
      else stats.dmaMismatches++;
    }
    return r;
  };
}
