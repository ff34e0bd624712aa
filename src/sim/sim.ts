/**
 * One simulation run: the clock and scheduler, the seeded RNG, the cost
 * table in force, the trace and the accounting. Every layer receives the
 * `Sim` of its machine; nothing in the model reads real time or randomness.
 */
import { Accounting } from './accounting.js';
import { CostModel, type CostName, DEFAULT_COSTS } from './costs.js';
import type { Layer } from './layers.js';
import { Rng } from './rng.js';
import { type Process, Scheduler, sleep, type Task } from './scheduler.js';
import type { Ns } from './time.js';
import { Trace } from './trace.js';

const COST_LAYER = new Map<string, Layer>(DEFAULT_COSTS.map((c) => [c.name, c.layer]));

export interface SimOptions {
  seed?: number;
  costs?: CostModel;
  trace?: boolean;
}

export class Sim {
  readonly sched = new Scheduler();
  readonly rng: Rng;
  readonly costs: CostModel;
  readonly trace: Trace;
  readonly accounting = new Accounting();

  constructor(opts: SimOptions = {}) {
    this.costs = opts.costs ?? new CostModel();
    this.rng = new Rng(opts.seed ?? 1);
    this.trace = new Trace(
      () => this.sched.now,
      () => this.owner,
    );
    this.trace.enabled = opts.trace ?? true;
  }

  get now(): Ns {
    return this.sched.now;
  }

  /** Owner of the running process, `host` outside of processes. */
  get owner(): string {
    return this.sched.current?.owner ?? 'host';
  }

  spawn<T>(name: string, task: Task<T>, owner?: string): Process<T> {
    return this.sched.spawn(name, task, owner ?? this.owner);
  }

  /**
   * Charges `times` occurrences of a cost to the running process: accounts it
   * (owner, layer, cost) and advances that process's virtual time.
   */
  *charge(cost: CostName, times = 1): Task<void> {
    const ns = this.costs.ns(cost) * times;
    this.accounting.add(
      this.owner,
      COST_LAYER.get(cost) as Layer,
      cost,
      this.costs.ns(cost),
      times,
    );
    yield* sleep(ns);
  }

  /** Runs until idle or until virtual time `until`. */
  run(until?: Ns): number {
    return this.sched.run(until);
  }
}
