/**
 * Workloads: processes of a VM that keep a guest driver busy with one kind
 * of I/O, so a freeze has something to hit. Each operation goes through the
 * device's TestnicSlot (drivers/testnic.ts), which holds it while the device
 * is in error, retries it after recovery and loses it when the device is
 * gone for good. The names of the kinds are the scenario schema's
 * (src/scenario/schema/workloads.ts).
 */
import { type Process, sleep, type Task } from '../../sim/scheduler.js';
import type { Ns } from '../../sim/time.js';
import { us } from '../../sim/time.js';
import { type IoResult, type TestnicSlot, testnicSlot } from '../drivers/testnic.js';
import type { GuestKernel } from '../kernel.js';

export type WorkloadKind = 'mmio-read' | 'dma-pingpong' | 'mixed' | 'link-status';
export const WORKLOAD_KINDS: readonly WorkloadKind[] = [
  'mmio-read',
  'dma-pingpong',
  'mixed',
  'link-status',
];

export interface WorkloadSpec {
  readonly kind: WorkloadKind;
  /** Guest device: `DDDD:BB:DD.F`, `BB:DD.F` or index in GuestKernel.devices. */
  readonly device: string | number;
  /** Absolute virtual time of the first operation (default: as soon as the kernel booted). */
  readonly startNs?: Ns;
  /** Time between the end of one operation and the start of the next (default 10 us). */
  readonly intervalNs?: Ns;
  /** Stop after this many operations ... */
  readonly ops?: number;
  /** ... or after this long (from the first operation). Neither: run until the simulation stops. */
  readonly durationNs?: Ns;
  /** DMA transfer size (default 4096). */
  readonly bytes?: number;
  /** Process name (default `<vm>:<kind>:<device>`). */
  readonly name?: string;
}

export interface WorkloadStats {
  readonly name: string;
  readonly kind: WorkloadKind;
  device: string;
  /** Operations started / completed (possibly after retries) / retried / lost. */
  issued: number;
  completed: number;
  retried: number;
  lost: number;
  /** Values returned to the application that were all 1s. */
  allOnes: number;
  /** Register values that were not what the device holds (ID reads): corruption the app sees. */
  badValues: number;
  dmaOk: number;
  dmaMismatches: number;
  startedNs: Ns | undefined;
  finishedNs: Ns | undefined;
  done: boolean;
  /** Why the workload could not run at all (no such device). */
  error: string | undefined;
}

/** One operation of a workload (the i-th), through the device's slot. */
export type WorkloadOp = (
  slot: TestnicSlot,
  i: number,
  stats: WorkloadStats,
) => Task<IoResult<unknown>>;

export interface WorkloadHandle {
  readonly process: Process<WorkloadStats>;
  readonly stats: WorkloadStats;
}

export const DEFAULT_INTERVAL_NS = us(10);
export const DEFAULT_DMA_BYTES = 4096;

/** Starts a workload as a process owned by the VM. */
export function runWorkload(
  kernel: GuestKernel,
  spec: WorkloadSpec,
  op: WorkloadOp,
): WorkloadHandle {
  const name = spec.name ?? `${kernel.name}:${spec.kind}:${spec.device}`;
  const stats: WorkloadStats = {
    name,
    kind: spec.kind,
    device: String(spec.device),
    issued: 0,
    completed: 0,
    retried: 0,
    lost: 0,
    allOnes: 0,
    badValues: 0,
    dmaOk: 0,
    dmaMismatches: 0,
    startedNs: undefined,
    finishedNs: undefined,
    done: false,
    error: undefined,
  };
  const process = kernel.sim.spawn(name, loop(kernel, spec, op, stats), kernel.name);
  return { process, stats };
}

function* loop(
  kernel: GuestKernel,
  spec: WorkloadSpec,
  op: WorkloadOp,
  stats: WorkloadStats,
): Task<WorkloadStats> {
  const sim = kernel.sim;
  yield* kernel.waitBooted();
  if (spec.startNs !== undefined && sim.now < spec.startNs) yield* sleep(spec.startNs - sim.now);
  const dev = kernel.device(spec.device);
  if (!dev) {
    stats.error = `no device ${spec.device}`;
    stats.done = true;
    return stats;
  }
  stats.device = dev.name;
  const slot = testnicSlot(kernel, dev);
  const interval = spec.intervalNs ?? DEFAULT_INTERVAL_NS;
  stats.startedNs = sim.now;
  const end = spec.durationNs !== undefined ? sim.now + spec.durationNs : Number.POSITIVE_INFINITY;
  for (let i = 0; (spec.ops === undefined || i < spec.ops) && sim.now < end; i++) {
    stats.issued++;
    const r = yield* op(slot, i, stats);
    if (r.ok) {
      stats.completed++;
      if (r.retried) stats.retried++;
    } else {
      stats.lost++;
    }
    yield* sleep(interval);
  }
  stats.finishedNs = sim.now;
  stats.done = true;
  return stats;
}
