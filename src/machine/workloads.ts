/**
 * The scenario's workloads: guest ones run by the guest kernel's driver
 * (src/guest/workloads), host ones by the host's testnic driver for devices
 * that are not passed through. Every operation a device serves is counted
 * (`OpCounter`) so that faults can fire `after_ops` operations.
 */
import type { TestnicSlot } from '../guest/drivers/testnic.js';
import type { GuestKernel } from '../guest/kernel.js';
import {
  DEFAULT_DMA_BYTES,
  DEFAULT_INTERVAL_NS,
  runWorkload,
  type WorkloadHandle,
  type WorkloadKind,
  type WorkloadSpec,
  workloadOp,
} from '../guest/workloads/index.js';
import { TESTNIC_WORKLOAD_LEN, type TestnicDevice } from '../host/drivers/testnic.js';
import type { HostKernel } from '../host/host_kernel.js';
import type { HostPciDev } from '../host/pci_dev.js';
import { TESTNIC_BUFFER_SIZE, TESTNIC_ID, TESTNIC_ID_VALUE } from '../hw/devices/testnic.js';
import { type Process, sleep, type Task, WaitQueue, waitOn } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import { type Ns, sec } from '../sim/time.js';

/** Operations a device has served, with a queue to wait for a count. */
export class OpCounter {
  served = 0;
  private readonly wq = new WaitQueue();

  constructor(private readonly sim: Sim) {}

  tick(): void {
    this.served++;
    this.wq.wakeAll(this.sim.sched);
  }

  /** Waits until the device has served `n` operations. */
  *waitFor(n: number): Task<void> {
    while (this.served < n) yield* waitOn(this.wq);
  }
}

/** A guest workload (as src/guest/workloads startWorkload) whose served operations are counted. */
export function startGuestWorkload(
  kernel: GuestKernel,
  spec: WorkloadSpec,
  counter: OpCounter,
): WorkloadHandle {
  const op = workloadOp(spec.kind, spec.bytes ?? DEFAULT_DMA_BYTES);
  return runWorkload(kernel, spec, function* (slot: TestnicSlot, i, stats) {
    const r = yield* op(slot, i, stats);
    if (r.ok) counter.tick();
    return r;
  });
}

// ---------------------------------------------------------------------------
// Host workloads (the host's testnic driver, src/host/drivers/testnic.ts)

export interface HostWorkloadSpec {
  readonly kind: WorkloadKind;
  readonly device: HostPciDev;
  /** Absolute virtual time of the first operation. */
  readonly startNs: Ns;
  readonly intervalNs?: Ns;
  readonly ops?: number;
  readonly durationNs?: Ns;
  readonly bytes?: number;
}

/** Per-workload counters, named as the guest's WorkloadStats where they mean the same. */
export interface HostWorkloadStats {
  readonly name: string;
  readonly kind: WorkloadKind;
  readonly device: string;
  issued: number;
  completed: number;
  retried: number;
  lost: number;
  /** LINK_STATUS values that were all 1s (legitimate while the link is down). */
  allOnes: number;
  dmaOk: number;
  dmaMismatches: number;
  done: boolean;
}

export interface HostWorkloadHandle {
  readonly process: Process<HostWorkloadStats>;
  readonly stats: HostWorkloadStats;
}

const ALL_ONES = 0xffff_ffff;
/** Longest wait for the host's recovery before an I/O is given up. */
const RECOVERY_TIMEOUT = sec(30);

type Attempt = 'ok' | 'mismatch' | 'error';

/** One attempt of operation `i` on the device (driver bound and up). */
function* attempt(
  host: HostKernel,
  pdev: HostPciDev,
  d: TestnicDevice,
  kind: WorkloadKind,
  i: number,
  bytes: number,
  stats: HostWorkloadStats,
): Task<Attempt> {
  const drv = host.testnic;
  const mmio = function* (): Task<Attempt> {
    const v = yield* host.readl(d.regs + TESTNIC_ID);
    return v === TESTNIC_ID_VALUE ? 'ok' : 'error';
  };
  const dma = function* (): Task<Attempt> {
    const len = Math.min(bytes, TESTNIC_WORKLOAD_LEN);
    const pattern = new Uint8Array(len);
    for (let k = 0; k < len; k++) pattern[k] = (i * 31 + k * 7 + 1) & 0xff;
    host.memWrite(d.dma.hpa, pattern);
    host.memWrite(d.dma.hpa + TESTNIC_WORKLOAD_LEN, new Uint8Array(len));
    const devOff = (i * len) % (TESTNIC_BUFFER_SIZE - len + 1);
    if (!(yield* drv.dma(pdev, true, d.dma.iova, len, devOff))) return 'error';
    if (!(yield* drv.dma(pdev, false, d.dma.iova + TESTNIC_WORKLOAD_LEN, len, devOff)))
      return 'error';
    const back = new Uint8Array(len);
    host.memRead(d.dma.hpa + TESTNIC_WORKLOAD_LEN, back);
    return back.every((v, k) => v === pattern[k]) ? 'ok' : 'mismatch';
  };
  switch (kind) {
    case 'mmio-read':
      return yield* mmio();
    case 'dma-pingpong':
      return yield* dma();
    case 'mixed':
      return i % 2 === 0 ? yield* mmio() : yield* dma();
    case 'link-status':
      // All 1s is legitimate data here (the link is down): the EEH accessor
      // already ran check_failure (a false positive).
      if ((yield* drv.readLinkStatus(pdev)) === ALL_ONES) stats.allOnes++;
      return 'ok';
    default: {
      const never: never = kind;
      throw new Error(`unknown workload kind ${String(never)}`);
    }
  }
}

/**
 * One operation through the host driver: held while the device is in error
 * (until resume), retried after recovery, lost when the device failed for
 * good or recovery takes too long.
 */
function* hostOp(
  host: HostKernel,
  spec: HostWorkloadSpec,
  i: number,
  stats: HostWorkloadStats,
): Task<'ok' | 'retried' | 'lost'> {
  let retried = false;
  for (;;) {
    const d = host.testnic.dev(spec.device);
    if (!d || d.state === 'failed') return 'lost';
    if (d.state !== 'up') {
      // in error until resume, or removed until the rescan probes it again
      retried = true;
      if (!(yield* waitOn(d.changed, RECOVERY_TIMEOUT))) return 'lost';
      continue;
    }
    const bytes = spec.bytes ?? DEFAULT_DMA_BYTES;
    const r = yield* attempt(host, spec.device, d, spec.kind, i, bytes, stats);
    if (r === 'ok' || r === 'mismatch') {
      if (r === 'mismatch') stats.dmaMismatches++;
      else if (spec.kind === 'dma-pingpong' || (spec.kind === 'mixed' && i % 2 === 1))
        stats.dmaOk++;
      return retried ? 'retried' : 'ok';
    }
    // The failed access ran check_failure, which queued the recovery if
    // the PE is frozen: give the EEH thread a chance (as dmaLoop does).
    yield* sleep(spec.intervalNs ?? DEFAULT_INTERVAL_NS);
    if (d.state === 'up') return 'lost'; // a plain I/O error, not a freeze
    retried = true;
  }
}

/** Starts a host workload as a host process. */
export function startHostWorkload(
  host: HostKernel,
  spec: HostWorkloadSpec,
  counter: OpCounter,
): HostWorkloadHandle {
  const stats: HostWorkloadStats = {
    name: `host:${spec.kind}:${spec.device.name}`,
    kind: spec.kind,
    device: spec.device.name,
    issued: 0,
    completed: 0,
    retried: 0,
    lost: 0,
    allOnes: 0,
    dmaOk: 0,
    dmaMismatches: 0,
    done: false,
  };
  const sim = host.sim;
  const loop = function* (): Task<HostWorkloadStats> {
    if (sim.now < spec.startNs) yield* sleep(spec.startNs - sim.now);
    const interval = spec.intervalNs ?? DEFAULT_INTERVAL_NS;
    const end =
      spec.durationNs !== undefined ? sim.now + spec.durationNs : Number.POSITIVE_INFINITY;
    for (let i = 0; (spec.ops === undefined || i < spec.ops) && sim.now < end; i++) {
      stats.issued++;
      const r = yield* hostOp(host, spec, i, stats);
      if (r === 'lost') stats.lost++;
      else {
        stats.completed++;
        if (r === 'retried') stats.retried++;
        counter.tick();
      }
      yield* sleep(interval);
    }
    stats.done = true;
    return stats;
  };
  const process = sim.spawn(stats.name, loop(), 'host');
  return { process, stats };
}
