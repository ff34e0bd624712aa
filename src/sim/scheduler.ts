/**
 * Discrete-event scheduler with cooperative processes.
 *
 * Events are callbacks at a virtual time; events at the same time run in the
 * order they were scheduled. A *process* is a generator (`Task`) that yields
 * `Wait` requests: it models a thread of execution (a vCPU, the host EEH
 * recovery thread, a QEMU thread) that sleeps or blocks on a wait queue while
 * other processes run. Code that may block is written as `function*` and
 * called with `yield*`; code that never blocks (the hardware) is plain.
 */
import { Heap } from './heap.js';
import type { Ns } from './time.js';

export interface Sleep {
  readonly kind: 'sleep';
  readonly ns: Ns;
}
export interface WaitOn {
  readonly kind: 'wait';
  readonly queue: WaitQueue;
  readonly timeout: Ns | undefined;
}
export type Wait = Sleep | WaitOn;

/** A blocking computation returning T. Call with `yield*` from another Task. */
export type Task<T = void> = Generator<Wait, T, unknown>;

interface Entry {
  readonly t: Ns;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

export interface Timer {
  cancel(): void;
}

export class Process<T = unknown> {
  done = false;
  result: T | undefined;
  readonly exited = new WaitQueue();
  /** @internal */ pendingTimer: Timer | undefined;
  /** @internal */ waitingOn: WaitQueue | undefined;
  constructor(
    readonly id: number,
    readonly name: string,
    /** Who the process works for (`host`, `vm0`, ...): trace tracks and accounting. */
    readonly owner: string,
    /** @internal */ readonly gen: Task<T>,
  ) {}
}

export class Scheduler {
  private readonly queue = new Heap<Entry>((a, b) => a.t < b.t || (a.t === b.t && a.seq < b.seq));
  private seq = 0;
  private nextPid = 1;
  private time: Ns = 0;
  /** The process whose code is running now, if any. */
  current: Process | undefined;
  /** Number of events executed so far (progress / benchmarks). */
  executed = 0;

  get now(): Ns {
    return this.time;
  }

  /** Runs `fn` at absolute virtual time `t` (not before now). */
  at(t: Ns, fn: () => void): Timer {
    if (!Number.isInteger(t)) throw new RangeError(`Scheduler.at: non-integer time ${t}`);
    const e: Entry = { t: Math.max(t, this.time), seq: this.seq++, fn, cancelled: false };
    this.queue.push(e);
    return {
      cancel: () => {
        e.cancelled = true;
      },
    };
  }

  /** Runs `fn` after `dt` nanoseconds. */
  after(dt: Ns, fn: () => void): Timer {
    return this.at(this.time + dt, fn);
  }

  /** Starts a process; its first step runs as an event at the current time. */
  spawn<T>(name: string, task: Task<T>, owner = 'host'): Process<T> {
    const p = new Process<T>(this.nextPid++, name, owner, task);
    this.at(this.time, () => this.step(p, undefined));
    return p;
  }

  /** Time of the next pending event, or undefined when idle. */
  nextEventTime(): Ns | undefined {
    this.dropCancelled();
    return this.queue.peek()?.t;
  }

  get idle(): boolean {
    return this.nextEventTime() === undefined;
  }

  /**
   * Runs events up to and including time `until` (default: until idle), then
   * sets the clock to `until` if it was given. Returns the number of events run.
   */
  run(until?: Ns): number {
    let n = 0;
    for (;;) {
      this.dropCancelled();
      const top = this.queue.peek();
      if (top === undefined || (until !== undefined && top.t > until)) break;
      this.queue.pop();
      this.time = top.t;
      this.executed++;
      n++;
      top.fn();
    }
    if (until !== undefined && until > this.time) this.time = until;
    return n;
  }

  private dropCancelled(): void {
    while (this.queue.peek()?.cancelled) this.queue.pop();
  }

  /** @internal resumes a process with `value` as the result of its last yield. */
  step(p: Process, value: unknown): void {
    if (p.done) return;
    const prev = this.current;
    this.current = p;
    let r: IteratorResult<Wait, unknown>;
    try {
      r = p.gen.next(value);
    } finally {
      this.current = prev;
    }
    if (r.done) {
      p.done = true;
      p.result = r.value;
      p.exited.wakeAll(this);
      return;
    }
    const w = r.value;
    switch (w.kind) {
      case 'sleep':
        if (!Number.isInteger(w.ns) || w.ns < 0)
          throw new RangeError(`sleep(${w.ns}) in ${p.name}`);
        this.at(this.time + w.ns, () => this.step(p, undefined));
        return;
      case 'wait':
        w.queue.enqueue(this, p, w.timeout);
        return;
      default: {
        const never: never = w;
        throw new Error(`unknown wait ${JSON.stringify(never)}`);
      }
    }
  }
}

/**
 * A queue of blocked processes (the kernel's wait_queue_head_t). A waiter is
 * resumed with `true` when woken and `false` when its timeout expired.
 */
export class WaitQueue {
  private waiters: Process[] = [];

  get length(): number {
    return this.waiters.length;
  }

  /** @internal */
  enqueue(s: Scheduler, p: Process, timeout: Ns | undefined): void {
    this.waiters.push(p);
    p.waitingOn = this;
    if (timeout !== undefined) {
      p.pendingTimer = s.after(timeout, () => {
        this.remove(p);
        s.step(p, false);
      });
    }
  }

  private remove(p: Process): void {
    this.waiters = this.waiters.filter((w) => w !== p);
    p.waitingOn = undefined;
    p.pendingTimer = undefined;
  }

  /** Wakes every waiter (each resumes as its own event, in wait order). */
  wakeAll(s: Scheduler): number {
    const ws = this.waiters;
    this.waiters = [];
    for (const p of ws) this.resume(s, p);
    return ws.length;
  }

  /** Wakes the longest-waiting process, if any. */
  wakeOne(s: Scheduler): boolean {
    const p = this.waiters.shift();
    if (p === undefined) return false;
    this.resume(s, p);
    return true;
  }

  private resume(s: Scheduler, p: Process): void {
    p.pendingTimer?.cancel();
    p.pendingTimer = undefined;
    p.waitingOn = undefined;
    s.at(s.now, () => s.step(p, true));
  }
}

/** Blocks the calling process for `ns` nanoseconds (msleep / udelay). */
export function* sleep(ns: Ns): Task<void> {
  if (ns > 0) yield { kind: 'sleep', ns };
}

/** Blocks on `queue` until woken (true) or until `timeout` elapses (false). */
export function* waitOn(queue: WaitQueue, timeout?: Ns): Task<boolean> {
  return (yield { kind: 'wait', queue, timeout }) === true;
}

/** Waits for a process to finish and returns its result. */
export function* join<T>(p: Process<T>): Task<T> {
  while (!p.done) yield* waitOn(p.exited);
  return p.result as T;
}

/** Runs a Task to completion outside of any process (it must not block). */
export function runSync<T>(task: Task<T>): T {
  const r = task.next();
  if (!r.done) throw new Error('runSync: task blocked; spawn it as a process instead');
  return r.value;
}
