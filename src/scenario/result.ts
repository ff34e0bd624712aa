/**
 * The result of one scenario run, as the CLI, the expectations and the
 * campaigns read it. A runner (the end-to-end machine) returns this shape;
 * anything more it knows (exits, time per layer, per-RTAS-call latencies...)
 * goes in `details`, which is printed with `--json` and kept as is.
 */
import type { Ns } from '../sim/time.js';

/** Data-integrity counts (issue 5 item 4). */
export interface Integrity {
  /** All-1s reads consumed as data while frozen (silent corruption). */
  silentReads: number;
  /** DMA buffers whose end-to-end check failed. */
  dmaMismatches: number;
  /** MMIO writes dropped while frozen. */
  droppedWrites: number;
  /** I/Os retried after recovery. */
  retriedIos: number;
  /** I/Os lost. */
  lostIos: number;
}

export const NO_INTEGRITY_ISSUES: Integrity = {
  silentReads: 0,
  dmaMismatches: 0,
  droppedWrites: 0,
  retriedIos: 0,
  lostIos: 0,
};

/**
 * What happened to one device:
 * - `unaffected`: never frozen;
 * - `recovered`: frozen, then recovered and working at the end;
 * - `failed`: frozen, recovery gave up (driver failed, reset failed...);
 * - `disabled`: the PE was permanently disabled (freeze limit);
 * - `frozen`: still frozen or recovering at the end of the run.
 */
export type DeviceStatus = 'unaffected' | 'recovered' | 'failed' | 'disabled' | 'frozen';

export interface DeviceOutcome {
  /** Device name from the topology. */
  device: string;
  /** `host` or the guest it is passed through to. */
  owner: string;
  status: DeviceStatus;
  /** Why it failed / was disabled (a short, stable phrase: campaigns group by it). */
  cause?: string;
  /** From the first freeze to the end of the recovery (ns). */
  recoveryNs?: Ns;
  freezes: number;
  /** check_failure runs (guest: read-slot-reset-state2 calls on all-1s reads). */
  checks: number;
  falsePositives: number;
  integrity: Integrity;
}

export interface StepOutcome {
  /** Index in `steps`. */
  index: number;
  id?: string;
  /** RTAS status or ioctl return value (>= 0 or -errno). */
  rc: number;
  /** RTAS return words after the status. */
  rets?: number[];
}

/** PE state at the end (RTAS numbering), or `disabled`. */
export type FinalPeState = 0 | 1 | 2 | 4 | 5 | 'disabled';

export interface StoppedGuest {
  guest: string;
  /** Scenario time of the stop (ns). */
  atNs: Ns;
  reason: string;
}

export interface RunResult {
  scenario: string;
  seed: number;
  design: string;
  /** Virtual time at the end of the run (ns). */
  endNs: Ns;
  devices: DeviceOutcome[];
  steps: StepOutcome[];
  /** Final PE state per device name. */
  peStates: Record<string, FinalPeState>;
  /**
   * Guests their VMM stopped (QEMU vm_stop, e.g. on an unrecoverable error
   * under design `aer`): scenario time and the VMM's message. Absent when none.
   */
  stoppedGuests?: StoppedGuest[];
  /** Runner-specific details (JSON-serialisable). */
  details?: unknown;
}

export function totalIntegrity(devices: readonly DeviceOutcome[]): Integrity {
  const t = { ...NO_INTEGRITY_ISSUES };
  for (const d of devices) {
    for (const k of Object.keys(t) as (keyof Integrity)[]) t[k] += d.integrity[k];
  }
  return t;
}
