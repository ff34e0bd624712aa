/**
 * The EEH event queue and its kernel thread (arch/powerpc/kernel/eeh_event.c):
 * check_failure and the platform's error interrupt queue events; one thread
 * ("eehd") handles them in order. An event for a PE runs the normal recovery;
 * an event without a PE asks the platform for the next error (special event).
 */
import { type Task, WaitQueue, waitOn } from '../sim/scheduler.js';
import type { EehCore } from './eeh.js';
import type { EehPe } from './eeh_dev.js';
import { handleEvent } from './eeh_driver.js';

export class EehEventQueue {
  private readonly queue: Array<EehPe | undefined> = [];
  private readonly wq = new WaitQueue();
  private started = false;
  /** Events handled so far. */
  handled = 0;

  constructor(private readonly core: EehCore) {}

  get pending(): number {
    return this.queue.length;
  }

  /** eeh_send_failure_event(pe); `undefined` = a platform error interrupt. */
  send(pe: EehPe | undefined): void {
    if (pe) this.core.emit('eeh.event', { pe: pe.label });
    this.queue.push(pe);
    this.wq.wakeOne(this.core.sim.sched);
  }

  /** eeh_remove_event(): drop queued events of a PE subtree (or all with `force`). */
  remove(pe: EehPe | undefined): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const q = this.queue[i];
      if (pe === undefined || (q !== undefined && [...pe.subtree()].includes(q))) {
        this.queue.splice(i, 1);
      }
    }
  }

  /** Starts the event thread (eeh_event_init); idempotent. */
  start(owner: string): void {
    if (this.started) return;
    this.started = true;
    this.core.sim.spawn(`${this.core.side}:eehd`, this.thread(), owner);
  }

  private *thread(): Task<void> {
    for (;;) {
      while (this.queue.length === 0) yield* waitOn(this.wq);
      const pe = this.queue.shift();
      yield* handleEvent(this.core, pe);
      this.handled++;
    }
  }
}
