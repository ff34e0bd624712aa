/**
 * EEH recovery: walking the drivers of a frozen PE through
 * error_detected -> (mmio_enabled) -> slot_reset -> resume, resetting the
 * PE, removing and re-adding EEH-unaware devices, and the permanent-failure
 * path (cf. arch/powerpc/kernel/eeh_driver.c, Documentation/PCI/pci-error-recovery.rst).
 */
import { sleep, type Task } from '../sim/scheduler.js';
import { ms } from '../sim/time.js';
import type { EehCore } from './eeh.js';
import {
  EEH_DEV_NO_HANDLER,
  EEH_HOTPLUG_SLEEP_MS,
  EEH_LOG_PERM,
  EEH_LOG_TEMP,
  EEH_OPT_THAW_DMA,
  EEH_OPT_THAW_MMIO,
  EEH_PE_ISOLATED,
  EEH_PE_KEEP,
  EEH_PE_RECOVERING,
  EEH_PE_REMOVED,
  EEH_STATE_NOT_SUPPORT,
  MAX_WAIT_FOR_RECOVERY,
  PCI_ERS_RESULT_CAN_RECOVER,
  PCI_ERS_RESULT_DISCONNECT,
  PCI_ERS_RESULT_NAMES,
  PCI_ERS_RESULT_NEED_RESET,
  PCI_ERS_RESULT_NO_AER_DRIVER,
  PCI_ERS_RESULT_NONE,
  PCI_ERS_RESULT_RECOVERED,
  type PciChannelState,
  type PciErsResult,
} from './eeh_consts.js';
import type { EehDev, EehPe } from './eeh_dev.js';
import type { PciDev, PciDriver } from './pci.js';
import { pciErsMergeResult } from './pci_ers.js';

export interface RecoveryRecord {
  readonly pe: string;
  readonly startNs: number;
  endNs: number;
  outcome: 'recovered' | 'failed';
  /** Freeze count of the PE when the event was handled. */
  readonly freezeCount: number;
  /** Final merged driver result. */
  result: string;
  /** Whether a PE reset was done; whether devices were removed and re-added. */
  reset: boolean;
  hotplug: boolean;
}

type Report = (edev: EehDev, pdev: PciDev, drv: PciDriver) => Task<PciErsResult>;

/**
 * eeh_edev_actionable(): the host acts on a device only if it is present,
 * not failed for good, and its PE is not passed through (its user handles it).
 */
function edevActionable(edev: EehDev): boolean {
  const pdev = edev.pdev;
  if (!pdev || pdev.removed || pdev.errorState === 'perm_failure') return false;
  return !edev.pe?.passed;
}

/** eeh_handle_event(): a PE event runs the normal recovery, none the special one. */
export function* handleEvent(core: EehCore, pe: EehPe | undefined): Task<void> {
  if (pe) yield* handleNormalEvent(core, pe);
  else yield* handleSpecialEvent(core);
}

/**
 * eeh_pe_report(): calls `fn` for every device of the PE tree whose driver
 * is EEH aware, merging the results.
 */
function* peReport(
  core: EehCore,
  phase: string,
  root: EehPe,
  fn: Report,
  result: PciErsResult,
): Task<PciErsResult> {
  for (const edev of root.devices()) {
    const pdev = edev.pdev;
    if (!pdev || !edevActionable(edev)) continue;
    const drv = pdev.driver;
    if (!drv?.errHandler || edev.mode & EEH_DEV_NO_HANDLER) continue;
    const r = yield* fn(edev, pdev, drv);
    core.emit('eeh.report', { phase, dev: edev.name, result: PCI_ERS_RESULT_NAMES[r] });
    result = pciErsMergeResult(result, r);
  }
  return result;
}

const reportError: Report = function* (edev, pdev, drv) {
  const h = drv.errHandler?.errorDetected;
  if (!h) return PCI_ERS_RESULT_NONE;
  const rc = yield* h.call(drv.errHandler, pdev, 'frozen');
  edev.inError = true;
  return rc;
};

const reportMmioEnabled: Report = function* (_edev, pdev, drv) {
  const h = drv.errHandler?.mmioEnabled;
  if (!h) return PCI_ERS_RESULT_NO_AER_DRIVER;
  return yield* h.call(drv.errHandler, pdev);
};

const reportReset: Report = function* (edev, pdev, drv) {
  const h = drv.errHandler?.slotReset;
  if (!h || !edev.inError) return PCI_ERS_RESULT_NONE;
  return yield* h.call(drv.errHandler, pdev);
};

const reportResume: Report = function* (edev, pdev, drv) {
  const h = drv.errHandler?.resume;
  if (!h || !edev.inError) return PCI_ERS_RESULT_NONE;
  yield* h.call(drv.errHandler, pdev);
  edev.inError = false;
  return PCI_ERS_RESULT_NONE;
};

const reportFailure: Report = function* (_edev, pdev, drv) {
  const h = drv.errHandler?.errorDetected;
  if (h) yield* h.call(drv.errHandler, pdev, 'perm_failure');
  return PCI_ERS_RESULT_NONE;
};

function setChannelState(pe: EehPe, state: PciChannelState): void {
  for (const edev of pe.devices())
    if (edev.pdev && edevActionable(edev)) edev.pdev.errorState = state;
}

/** A driver that can be kept across a reset (eeh_rmv_device). */
function driverSurvivesReset(drv: PciDriver | undefined): boolean {
  return !!drv?.errHandler?.errorDetected && !!drv.errHandler.slotReset;
}

/**
 * eeh_reset_device(): remove what cannot survive the reset, reset the PE,
 * restore it, thaw it, and re-add the removed devices after the 5 s
 * hotplug delay.
 */
function* resetDevice(
  core: EehCore,
  pe: EehPe,
  driverEehAware: boolean,
  rec: RecoveryRecord,
): Task<number> {
  const cnt = pe.freezeCount;
  const tstamp = pe.tstampS;
  core.stateMark(pe, EEH_PE_KEEP);
  const removed: PciDev[] = [];
  for (const edev of pe.devices()) {
    const pdev = edev.pdev;
    if (!pdev || pdev.removed) continue;
    if (driverEehAware) {
      // eeh_rmv_device(): passed-through devices and bridges stay; so do
      // devices whose driver can recover. (Without an EEH-aware driver the
      // whole bus goes: pci_hp_remove_devices.)
      if (!edevActionable(edev) || pdev.isBridge) continue;
      if (driverSurvivesReset(pdev.driver)) continue;
    }
    yield* core.pci.hotRemove(pdev);
    removed.push(pdev);
  }
  if (removed.length)
    core.emit('eeh.hotplug', { pe: pe.label, op: 'remove', devices: removed.length });
  rec.reset = true;
  let rc = yield* core.peResetFull(pe, false);
  if (rc) return rc;
  yield* core.ops.configureBridge(pe);
  yield* core.restoreBars(pe);
  rc = yield* core.clearPeFrozenState(pe, false);
  if (rc) return rc;
  if (!driverEehAware || removed.length) {
    yield* sleep(ms(EEH_HOTPLUG_SLEEP_MS));
    for (const pdev of removed) yield* core.pci.hotAdd(pdev);
    core.emit('eeh.hotplug', { pe: pe.label, op: 'add', devices: removed.length });
    rec.hotplug = true;
  }
  core.stateClear(pe, EEH_PE_KEEP, true);
  pe.tstampS = tstamp;
  pe.freezeCount = cnt;
  return 0;
}

/** eeh_handle_normal_event() */
export function* handleNormalEvent(core: EehCore, pe: EehPe): Task<void> {
  core.stateMark(pe, EEH_PE_RECOVERING);
  const count = core.countFreeze(pe);
  const rec: RecoveryRecord = {
    pe: pe.label,
    startNs: core.sim.now,
    endNs: core.sim.now,
    outcome: 'failed',
    freezeCount: count,
    result: '',
    reset: false,
    hotplug: false,
  };
  core.recoveries.push(rec);
  const span = core.begin('eeh.recovery', { pe: pe.label, freeze_count: count });
  let result: PciErsResult = PCI_ERS_RESULT_NONE;
  if (count > core.maxFreezes) {
    core.emit('eeh.freeze_limit', { pe: pe.label, count, max: core.maxFreezes });
    result = PCI_ERS_RESULT_DISCONNECT;
  }
  for (const edev of pe.devices()) edev.mode &= ~EEH_DEV_NO_HANDLER;

  if (result !== PCI_ERS_RESULT_DISCONNECT) {
    setChannelState(pe, 'frozen');
    result = yield* peReport(core, 'error_detected', pe, reportError, result);
  }
  if (result !== PCI_ERS_RESULT_DISCONNECT) {
    const st = yield* core.waitState(pe, MAX_WAIT_FOR_RECOVERY * 1000);
    if (st < 0 || st === EEH_STATE_NOT_SUPPORT) result = PCI_ERS_RESULT_DISCONNECT;
  }
  if (result !== PCI_ERS_RESULT_DISCONNECT) yield* core.ops.getLog(pe, EEH_LOG_TEMP);
  // All drivers EEH-unaware: remove everything, reset, rescan.
  if (result === PCI_ERS_RESULT_NONE) {
    const rc = yield* resetDevice(core, pe, false, rec);
    if (rc) result = PCI_ERS_RESULT_DISCONNECT;
  }
  if (result === PCI_ERS_RESULT_CAN_RECOVER) {
    const rc = yield* core.pciEnable(pe, EEH_OPT_THAW_MMIO);
    if (rc < 0) result = PCI_ERS_RESULT_DISCONNECT;
    else if (rc) result = PCI_ERS_RESULT_NEED_RESET;
    else result = yield* peReport(core, 'mmio_enabled', pe, reportMmioEnabled, result);
  }
  if (result === PCI_ERS_RESULT_CAN_RECOVER) {
    const rc = yield* core.pciEnable(pe, EEH_OPT_THAW_DMA);
    if (rc < 0) result = PCI_ERS_RESULT_DISCONNECT;
    else if (rc) result = PCI_ERS_RESULT_NEED_RESET;
    else {
      core.stateClear(pe, EEH_PE_ISOLATED, true);
      result = PCI_ERS_RESULT_RECOVERED;
    }
  }
  if (result === PCI_ERS_RESULT_NEED_RESET) {
    const rc = yield* resetDevice(core, pe, true, rec);
    if (rc) result = PCI_ERS_RESULT_DISCONNECT;
    else {
      result = PCI_ERS_RESULT_NONE;
      setChannelState(pe, 'normal');
      result = yield* peReport(core, 'slot_reset', pe, reportReset, result);
    }
  }
  rec.result = PCI_ERS_RESULT_NAMES[result];
  if (result === PCI_ERS_RESULT_RECOVERED || result === PCI_ERS_RESULT_NONE) {
    setChannelState(pe, 'normal');
    yield* peReport(core, 'resume', pe, reportResume, PCI_ERS_RESULT_NONE);
    for (const edev of pe.devices()) {
      edev.mode &= ~EEH_DEV_NO_HANDLER;
      edev.inError = false;
    }
    rec.outcome = 'recovered';
    core.stats.recovered++;
  } else {
    yield* permanentFailure(core, pe);
  }
  core.stateClear(pe, EEH_PE_RECOVERING, true);
  rec.endNs = core.sim.now;
  core.sim.trace.end(span, { outcome: rec.outcome, result: rec.result });
}

/** The recover_failed path: log, tell the drivers, remove the devices for good. */
function* permanentFailure(core: EehCore, pe: EehPe): Task<void> {
  yield* core.ops.getLog(pe, EEH_LOG_PERM);
  // Tell the drivers first, then mark the channel dead (eeh_handle_normal_event
  // recover_failed: eeh_pe_report, then eeh_set_channel_state).
  yield* peReport(core, 'error_detected(permanent)', pe, reportFailure, PCI_ERS_RESULT_NONE);
  setChannelState(pe, 'perm_failure');
  core.stateMark(pe, EEH_PE_REMOVED);
  let n = 0;
  for (const edev of pe.devices()) {
    if (edev.pdev && !edev.pdev.removed) {
      yield* core.pci.hotRemove(edev.pdev);
      n++;
    }
  }
  core.emit('eeh.perm_failure', { pe: pe.label });
  if (n) core.emit('eeh.hotplug', { pe: pe.label, op: 'remove', devices: n });
  core.stats.permFailures++;
}

/**
 * eeh_handle_special_event(): the platform reported errors (powernv error
 * interrupt); ask it for each one and recover the frozen PEs we own.
 */
export function* handleSpecialEvent(core: EehCore): Task<void> {
  const next = core.ops.nextError;
  if (!next) return;
  for (;;) {
    const err = yield* next.call(core.ops);
    switch (err.kind) {
      case 'none':
        return;
      case 'frozen_pe':
        // Passed-through PEs belong to their user. The platform may already
        // have marked the PE isolated (pnv_eeh_next_error does, and reports
        // an already-isolated PE as no error); marking again is harmless.
        if (err.pe.passed) continue;
        core.markIsolated(err.pe);
        core.stats.slotResets++;
        core.emit('eeh.isolate', { pe: err.pe.label, cause: 'error_interrupt' });
        yield* handleNormalEvent(core, err.pe);
        continue;
      case 'fenced_phb': {
        const phbPe = core.phbPes[err.phb];
        if (!phbPe) continue;
        core.markIsolated(phbPe);
        core.emit('eeh.isolate', { pe: phbPe.label, cause: 'phb_fence' });
        yield* handleNormalEvent(core, phbPe);
        continue;
      }
      case 'dead_phb':
      case 'dead_ioc': {
        // MODEL: a dead PHB/IOC is not recoverable; its devices are removed.
        const roots = err.kind === 'dead_phb' ? [core.phbPes[err.phb]] : core.phbPes;
        for (const root of roots) if (root) yield* permanentFailure(core, root);
        return;
      }
      default: {
        const never: never = err;
        throw new Error(`unknown next_error ${JSON.stringify(never)}`);
      }
    }
  }
}
