/** MMIO read loop: reads testnic's ID register (never legitimately all 1s). */
import { TESTNIC_ID_VALUE } from '../../hw/devices/testnic.js';
import type { Task } from '../../sim/scheduler.js';
import type { IoResult, TestnicSlot } from '../drivers/testnic.js';
import type { WorkloadStats } from './common.js';

export function* mmioReadOp(
  slot: TestnicSlot,
  _i: number,
  stats: WorkloadStats,
): Task<IoResult<number>> {
  const r = yield* slot.readId();
  if (r.ok) {
    if (r.value === 0xffff_ffff) stats.allOnes++;
    if (r.value !== TESTNIC_ID_VALUE) stats.badValues++;
  }
  return r;
}
