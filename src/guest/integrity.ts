/**
 * Data-integrity accounting of one guest device: what happened to the I/O
 * its driver did while the device's PE was frozen or recovering, and a
 * result summary per device (recovered or failed, recovery time, checks,
 * false positives).
 *
 * This is a measuring instrument, not part of the modelled guest: it may
 * ask a `FreezeOracle` (wired by the machine to the real PHB) whether the
 * PE behind an address is frozen at the time of an access - the ground
 * truth no guest has. Without an oracle it falls back to what can be known
 * without one: an all-1s value in a register that cannot legitimately hold
 * all 1s is taken as frozen, and a store counts as dropped when the guest
 * kernel already knows the device is offline.
 *
 * The counter names of the scenario result's `Integrity` (silentReads,
 * dmaMismatches, droppedWrites, retriedIos, lostIos) are used as is, so an
 * `IntegrityCounts` can be passed where an `Integrity` is expected.
 */
import type { RecoveryRecord } from '../kernel/eeh_driver.js';
import type { Sim } from '../sim/sim.js';
import type { Ns } from '../sim/time.js';
import './trace_events.js';

/** Ground truth about the PE behind a guest-physical MMIO address. */
export interface FreezeOracle {
  /** True while MMIO to `gpa` would be blocked (its PE is MMIO-frozen or in reset). */
  mmioFrozen(gpa: number): boolean;
}

export interface IntegrityCounts {
  /** All-1s reads consumed as data while the PE was frozen (silent corruption). */
  silentReads: number;
  /** DMA ping-pong buffers whose end-to-end comparison failed. */
  dmaMismatches: number;
  /** DMA ping-pong buffers verified end to end. */
  dmaOk: number;
  /** MMIO stores issued while the PE was frozen (dropped by the PHB). */
  droppedWrites: number;
  /** I/Os that were held during an error and completed after recovery. */
  retriedIos: number;
  /** I/Os given up (device permanently failed or removed). */
  lostIos: number;
  /** I/Os completed (first attempt or retried). */
  completedIos: number;
  /** All-1s values consumed as data that were legitimate (e.g. link down). */
  legitAllOnes: number;
}

export const emptyIntegrity = (): IntegrityCounts => ({
  silentReads: 0,
  dmaMismatches: 0,
  dmaOk: 0,
  droppedWrites: 0,
  retriedIos: 0,
  lostIos: 0,
  completedIos: 0,
  legitAllOnes: 0,
});

const isAllOnes = (v: number, size: 1 | 2 | 4): boolean =>
  v >>> 0 === (size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff);

/** The integrity ledger of one device, fed by its driver and workloads. */
export class DeviceIntegrity {
  readonly counts = emptyIntegrity();

  constructor(
    readonly sim: Sim,
    /** Device name for the trace. */
    readonly dev: string,
    readonly oracle: FreezeOracle | undefined,
  ) {}

  /**
   * A value the driver used as data. An all-1s value is silent corruption
   * when the PE was frozen (oracle) or, without an oracle, when the register
   * cannot legitimately read all 1s; otherwise it is legitimate data.
   */
  consumedRead(
    reg: string,
    addr: number,
    value: number,
    size: 1 | 2 | 4,
    mayBeAllOnes: boolean,
  ): void {
    if (!isAllOnes(value, size)) return;
    const frozen = this.oracle ? this.oracle.mmioFrozen(addr) : !mayBeAllOnes;
    if (frozen) {
      this.counts.silentReads++;
      this.sim.trace.emit('guest.io.silent', { dev: this.dev, reg, addr: hex(addr) });
    } else {
      this.counts.legitAllOnes++;
    }
  }

  /**
   * A store the driver issued; dropped if the PE is frozen (oracle), or,
   * without one, if the guest kernel already knew the device was offline.
   */
  store(reg: string, addr: number, knownOffline: boolean): void {
    const frozen = this.oracle ? this.oracle.mmioFrozen(addr) : knownOffline;
    if (!frozen) return;
    this.counts.droppedWrites++;
    this.sim.trace.emit('guest.io.dropped_store', { dev: this.dev, reg, addr: hex(addr) });
  }

  dmaChecked(ok: boolean, bytes: number, bad: number): void {
    if (ok) this.counts.dmaOk++;
    else this.counts.dmaMismatches++;
    this.sim.trace.emit('guest.dma.check', { dev: this.dev, ok, bytes, bad });
  }

  held(op: string, why: string): void {
    this.sim.trace.emit('guest.io.held', { dev: this.dev, op, why });
  }

  completed(op: string, retried: boolean): void {
    this.counts.completedIos++;
    if (retried) {
      this.counts.retriedIos++;
      this.sim.trace.emit('guest.io.retried', { dev: this.dev, op });
    }
  }

  lost(op: string, why: string): void {
    this.counts.lostIos++;
    this.sim.trace.emit('guest.io.lost', { dev: this.dev, op, why });
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

// ---------------------------------------------------------------------------
// Result summary per device

/**
 * - `unaffected`: never frozen;
 * - `recovered`: frozen, recovered, working at the end;
 * - `failed`: recovery gave up (driver refused, reset failed...);
 * - `disabled`: the PE was disabled for good by the freeze limit;
 * - `frozen`: frozen or recovering at the end of the run.
 * (Same names as the scenario result's DeviceStatus.)
 */
export type GuestDeviceStatus = 'unaffected' | 'recovered' | 'failed' | 'disabled' | 'frozen';

export interface GuestDeviceResult {
  /** `DDDD:BB:DD.F` inside the guest. */
  device: string;
  /** The VM (trace owner). */
  owner: string;
  /** Driver bound at the end (or last bound), with its behaviour. */
  driver: string;
  status: GuestDeviceStatus;
  cause?: string;
  /** From the start of the first recovery of the device's PE to the end of the last one (ns). */
  recoveryNs?: Ns;
  /** Recoveries of the device's PE (each a freeze the guest detected and handled). */
  freezes: number;
  /** eeh_check_failure() runs on all-1s reads of this device (each one RTAS state query at most). */
  checks: number;
  /** Checks that found the PE healthy. */
  falsePositives: number;
  recoveries: RecoveryRecord[];
  integrity: IntegrityCounts;
}

/** What `summarize` needs to know about a device (kept by the guest kernel). */
export interface DeviceSummaryInput {
  name: string;
  owner: string;
  driver: string;
  checks: number;
  falsePositives: number;
  /** The device's PE is isolated or recovering right now. */
  inError: boolean;
  /** The device's PE was marked REMOVED (permanent failure). */
  removed: boolean;
  recoveries: readonly RecoveryRecord[];
  /** Freeze-limit events seen for the PE. */
  freezeLimitHit: boolean;
  integrity: IntegrityCounts;
}

export function summarize(d: DeviceSummaryInput): GuestDeviceResult {
  const recs = d.recoveries.map((r) => ({ ...r }));
  const last = recs[recs.length - 1];
  const first = recs[0];
  let status: GuestDeviceStatus;
  let cause: string | undefined;
  if (d.inError && !(last && last.outcome === 'failed')) status = 'frozen';
  else if (!last) status = 'unaffected';
  else if (last.outcome === 'recovered' && !d.removed) status = 'recovered';
  else if (d.freezeLimitHit) {
    status = 'disabled';
    cause = 'freeze limit';
  } else {
    status = 'failed';
    cause = last.result ? `driver result ${last.result}` : 'recovery failed';
  }
  const out: GuestDeviceResult = {
    device: d.name,
    owner: d.owner,
    driver: d.driver,
    status,
    freezes: recs.length,
    checks: d.checks,
    falsePositives: d.falsePositives,
    recoveries: recs,
    integrity: { ...d.integrity },
  };
  if (cause !== undefined) out.cause = cause;
  if (first && last && status !== 'frozen') out.recoveryNs = last.endNs - first.startNs;
  return out;
}
