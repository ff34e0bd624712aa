/**
 * Reads testnic's LINK_STATUS register, which legitimately reads all 1s
 * while the link is down: each such read costs the EEH-aware driver an
 * eeh_check_failure() (an RTAS state query) that finds the PE healthy -
 * the false-positive case.
 */
import type { Task } from '../../sim/scheduler.js';
import type { IoResult, TestnicSlot } from '../drivers/testnic.js';
import type { WorkloadStats } from './common.js';

export function* linkStatusOp(
  slot: TestnicSlot,
  _i: number,
  stats: WorkloadStats,
): Task<IoResult<number>> {
  const r = yield* slot.readLinkStatus();
  if (r.ok && r.value === 0xffff_ffff) stats.allOnes++;
  return r;
}
