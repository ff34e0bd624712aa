/**
 * A sleeping lock for kernel code that must not interleave across
 * processes (vCPUs, the EEH thread): the model's stand-in for the
 * kernel's spinlocks around RTAS (rtas_lock) and EEH (eeh_serialize_lock).
 * MODEL: a waiter blocks instead of spinning, so it burns no virtual time.
 */

import { type Task, WaitQueue, waitOn } from './scheduler.js';
import type { Sim } from './sim.js';

export class SleepLock {
  private locked = false;
  private readonly wq = new WaitQueue();
  /** Times a caller had to wait for the lock. */
  contended = 0;

  *lock(): Task<void> {
    if (this.locked) this.contended++;
    while (this.locked) yield* waitOn(this.wq);
    this.locked = true;
  }

  unlock(sim: Sim): void {
    this.locked = false;
    this.wq.wakeOne(sim.sched);
  }

  /** Runs `task` with the lock held. */
  *with<T>(sim: Sim, task: Task<T>): Task<T> {
    yield* this.lock();
    try {
      return yield* task;
    } finally {
      this.unlock(sim);
    }
  }
}
