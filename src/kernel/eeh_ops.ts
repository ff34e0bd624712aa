/**
 * struct eeh_ops: what the generic EEH core asks of the platform
 * (arch/powerpc/include/asm/eeh.h). powernv implements it over OPAL on the
 * host (src/host/powernv), pseries over RTAS in the guest (src/guest).
 */
import type { Task } from '../sim/scheduler.js';
import type { EehDev, EehPe } from './eeh_dev.js';

export interface EehGetState {
  /** EEH_STATE_* bits, or a negative errno. */
  readonly state: number;
  /** Suggested wait in ms when the state is EEH_STATE_UNAVAILABLE. */
  readonly delayMs: number;
}

/** Result of eeh_ops->next_error() (EEH_NEXT_ERR_* in asm/eeh.h). */
export type EehNextError =
  | { readonly kind: 'none' }
  | { readonly kind: 'fenced_phb' | 'dead_phb'; readonly phb: number }
  | { readonly kind: 'frozen_pe'; readonly pe: EehPe }
  | { readonly kind: 'dead_ioc' };

export interface EehOps {
  readonly name: 'powernv' | 'pseries';
  /**
   * EEH_PROBE_MODE_DEV: powernv probes by device and checks the PHB for a
   * fence on every failure check; pseries does not (eeh_phb_check_failure).
   */
  readonly probeModeDev: boolean;
  getState(pe: EehPe): Task<EehGetState>;
  /** EEH_OPT_* ; 0 or negative errno. */
  setOption(pe: EehPe, option: number): Task<number>;
  /** EEH_RESET_*; includes the hold / settle waits, as the platforms do. */
  reset(pe: EehPe, option: number): Task<number>;
  configureBridge(pe: EehPe): Task<number>;
  /** eeh_slot_error_detail(): fetch and log the error data. */
  getLog(pe: EehPe, severity: number): Task<void>;
  errInject(pe: EehPe, type: number, func: number, addr: bigint, mask: bigint): Task<number>;
  /** Config access used by the core to restore a device after reset. */
  readConfig(edev: EehDev, where: number, size: 1 | 2 | 4): Task<number>;
  writeConfig(edev: EehDev, where: number, size: 1 | 2 | 4, value: number): Task<number>;
  /** Polls the platform for the next error (powernv only). */
  nextError?(): Task<EehNextError>;
}
