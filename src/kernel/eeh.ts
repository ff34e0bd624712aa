/**
 * The generic EEH core of one Linux kernel (arch/powerpc/kernel/eeh.c).
 * The host kernel runs it over the powernv platform (OPAL), each guest
 * kernel over pseries (RTAS) - as in Linux, one code base, two eeh_ops.
 *
 * Entry points: checkFailure() from the MMIO accessors on an all-1s read,
 * the pe*() calls VFIO makes for a guest (eeh_pe_get_state / set_option /
 * reset / configure / inject_err), devOpen/devRelease (eeh_dev_open), and
 * the recovery thread (eeh_event.ts + eeh_driver.ts).
 */

import { SleepLock } from '../sim/lock.js';
import { sleep, type Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import { ms, NS_PER_S } from '../sim/time.js';
import { EINVAL, EIO, ENODEV, ENOTRECOVERABLE } from '../uapi/errno.js';
import type { PeNumber } from '../uapi/ids.js';
import { eehRestoreOneDeviceBars, eehSaveBars } from './eeh_bars.js';
import {
  EEH_FREEZE_WINDOW_S,
  EEH_MAX_FREEZES_DEFAULT,
  EEH_OPT_DISABLE,
  EEH_OPT_ENABLE,
  EEH_OPT_FREEZE_PE,
  EEH_OPT_THAW_DMA,
  EEH_OPT_THAW_MMIO,
  EEH_PE_CFG_BLOCKED,
  EEH_PE_CFG_RESTRICTED,
  EEH_PE_ISOLATED,
  EEH_PE_PHB,
  EEH_PE_RECOVERING,
  EEH_PE_REMOVED,
  EEH_PE_RESET,
  EEH_PE_STATE_NORMAL,
  EEH_PE_STATE_RESET,
  EEH_PE_STATE_STOPPED_DMA,
  EEH_PE_STATE_STOPPED_IO_DMA,
  EEH_PE_STATE_UNAVAIL,
  EEH_RESET_DEACTIVATE,
  EEH_RESET_FUNDAMENTAL,
  EEH_RESET_HOT,
  EEH_STATE_DMA_ACTIVE,
  EEH_STATE_DMA_ENABLED,
  EEH_STATE_MAX_WAIT_TIME,
  EEH_STATE_MIN_WAIT_TIME,
  EEH_STATE_MMIO_ACTIVE,
  EEH_STATE_MMIO_ENABLED,
  EEH_STATE_NOT_SUPPORT,
  EEH_STATE_RESET_ACTIVE,
  EEH_STATE_UNAVAILABLE,
  eehStateActive,
  PCI_BUS_RESET_WAIT_MSEC,
} from './eeh_consts.js';
import { type EehDev, EehPe, type PeType } from './eeh_dev.js';
import type { RecoveryRecord } from './eeh_driver.js';
import { EehEventQueue } from './eeh_event.js';
import type { EehOps } from './eeh_ops.js';
import type { PciSubsystem } from './pci_core.js';
import type { KernelEehEvents } from './trace_events.js';

/** PCI error functions accepted by eeh_pe_inject_err (EEH_ERR_FUNC_MIN..MAX). */
export const EEH_ERR_FUNC_MIN = 0;
export const EEH_ERR_FUNC_MAX = 19;

/** struct eeh_stats plus the per-kernel counters reports use. */
export interface EehStats {
  /** eeh_readl() and friends that saw all 1s. */
  totalMmioFfs: number;
  /** All-1s reads at an address no device owns. */
  noDevice: number;
  /** Checks while EEH is disabled or the device has no PE. */
  ignoredCheck: number;
  falsePositives: number;
  /** Frozen PEs detected (eeh_stats.slot_resets). */
  slotResets: number;
  /** Recoveries completed / failed permanently. */
  recovered: number;
  permFailures: number;
}

export interface EehCoreOptions {
  side: 'host' | 'guest';
  /** eeh_max_freezes (debugfs); default 5. */
  maxFreezes?: number;
  enabled?: boolean;
}

export class EehCore {
  readonly side: 'host' | 'guest';
  enabled: boolean;
  maxFreezes: number;
  readonly stats: EehStats = {
    totalMmioFfs: 0,
    noDevice: 0,
    ignoredCheck: 0,
    falsePositives: 0,
    slotResets: 0,
    recovered: 0,
    permFailures: 0,
  };
  /** PHB PEs, indexed by PHB (domain) number. */
  readonly phbPes: EehPe[] = [];
  readonly events: EehEventQueue;
  /** eeh_serialize_lock */
  readonly serialize = new SleepLock();
  /** One record per recovery event handled, in order. */
  readonly recoveries: RecoveryRecord[] = [];

  constructor(
    readonly sim: Sim,
    readonly ops: EehOps,
    readonly pci: PciSubsystem,
    opts: EehCoreOptions,
  ) {
    this.side = opts.side;
    this.enabled = opts.enabled ?? true;
    this.maxFreezes = opts.maxFreezes ?? EEH_MAX_FREEZES_DEFAULT;
    this.events = new EehEventQueue(this);
  }

  // ---- trace -------------------------------------------------------------

  emit<K extends keyof KernelEehEvents>(name: K, fields: KernelEehEvents[K]): void {
    this.sim.trace.emit(`${this.side}.${name}` as `host.${K}`, fields as never);
  }

  begin<K extends keyof KernelEehEvents>(name: K, fields: KernelEehEvents[K]) {
    return this.sim.trace.begin(`${this.side}.${name}` as `host.${K}`, fields as never);
  }

  // ---- PE tree (eeh_pe.c) -------------------------------------------------

  /** eeh_phb_pe_create() */
  addPhbPe(phb: number): EehPe {
    const pe = new EehPe(EEH_PE_PHB, phb, 0 as PeNumber, undefined);
    this.phbPes[phb] = pe;
    return pe;
  }

  /** eeh_pe_tree_insert(): a bus or device PE under `parent` (default: the PHB PE). */
  addPe(type: PeType, phb: number, addr: PeNumber, parent?: EehPe): EehPe {
    const root = this.phbPes[phb];
    if (!root) throw new Error(`no PHB PE for PHB ${phb}`);
    return new EehPe(type, phb, addr, parent ?? root);
  }

  findPe(phb: number, addr: number): EehPe | undefined {
    const root = this.phbPes[phb];
    if (!root) return undefined;
    for (const pe of root.subtree()) if (!pe.isPhb && pe.addr === addr) return pe;
    return undefined;
  }

  /** Attaches a device to its PE (eeh_add_to_parent_pe). */
  attach(edev: EehDev, pe: EehPe): void {
    edev.pe = pe;
    pe.edevs.push(edev);
    if (edev.pdev) edev.pdev.edev = edev;
  }

  allPes(): EehPe[] {
    return this.phbPes.flatMap((root) => (root ? [...root.subtree()] : []));
  }

  /** eeh_pe_state_mark() */
  stateMark(root: EehPe, state: number): void {
    for (const pe of root.subtree()) pe.state |= state;
  }

  /** eeh_pe_mark_isolated(): ISOLATED (and CFG_BLOCKED where config is restricted). */
  markIsolated(root: EehPe): void {
    for (const pe of root.subtree()) {
      pe.state |= EEH_PE_ISOLATED;
      if (pe.state & EEH_PE_CFG_RESTRICTED) pe.state |= EEH_PE_CFG_BLOCKED;
      for (const edev of pe.edevs) if (edev.pdev) edev.pdev.errorState = 'frozen';
    }
  }

  /** eeh_pe_state_clear(): passed-through PEs are skipped unless include_passed. */
  stateClear(root: EehPe, state: number, includePassed: boolean): void {
    for (const pe of root.subtree()) {
      if (!includePassed && pe.passed) continue;
      pe.state &= ~state;
      if (state & EEH_PE_ISOLATED) {
        pe.checkCount = 0;
        for (const edev of pe.edevs) if (edev.pdev) edev.pdev.errorState = 'normal';
      }
    }
  }

  // ---- detection (eeh.c) ---------------------------------------------------

  /** eeh_check_failure(token): an accessor saw all 1s at CPU address `addr`. */
  *checkFailureAt(addr: number): Task<number> {
    this.stats.totalMmioFfs++;
    const pdev = this.pci.deviceAt(addr);
    if (!pdev?.edev) {
      this.stats.noDevice++;
      return 0;
    }
    return yield* this.devCheckFailure(pdev.edev, false);
  }

  /**
   * eeh_dev_check_failure(): 1 when the device's PE is (now) known frozen
   * and an event is queued, 0 otherwise (false positive, not ours, ...).
   */
  *devCheckFailure(edev: EehDev, countFfs = true): Task<number> {
    if (countFfs) this.stats.totalMmioFfs++;
    const pe = edev.pe;
    const dev = edev.name;
    if (!this.enabled || !pe) {
      this.stats.ignoredCheck++;
      this.emit('eeh.check_failure', { dev, pe: pe?.label ?? '-', rc: 0, why: 'ignored' });
      return 0;
    }
    if (this.ops.probeModeDev) {
      const fenced = yield* this.phbCheckFailure(pe);
      if (fenced > 0) {
        this.emit('eeh.check_failure', { dev, pe: pe.label, rc: 1, why: 'phb_fenced' });
        return fenced;
      }
    }
    // If the PE isn't owned by us, let the owner handle it.
    if (pe.passed) {
      this.emit('eeh.check_failure', { dev, pe: pe.label, rc: 0, why: 'passed_through' });
      return 0;
    }
    // eeh_serialize_lock: from the isolated test to marking the PE isolated,
    // so that several CPUs reading all 1s at once queue one event.
    return yield* this.serialize.with(this.sim, this.checkPeLocked(edev, pe));
  }

  private *checkPeLocked(edev: EehDev, pe: EehPe): Task<number> {
    const dev = edev.name;
    if (pe.isolated) {
      pe.checkCount++;
      this.emit('eeh.check_failure', { dev, pe: pe.label, rc: 1, why: 'already_isolated' });
      return 1;
    }
    const { state } = yield* this.ops.getState(pe);
    if (state < 0 || state === EEH_STATE_NOT_SUPPORT || eehStateActive(state)) {
      this.stats.falsePositives++;
      pe.falsePositives++;
      this.emit('eeh.check_failure', { dev, pe: pe.label, rc: 0, why: 'false_positive' });
      return 0;
    }
    // A frozen parent handles the failure (highest frozen PE below the PHB).
    for (let parent = pe.parent; parent && !parent.isPhb; parent = parent.parent) {
      const ps = (yield* this.ops.getState(parent)).state;
      if (ps > 0 && !eehStateActive(ps)) pe = parent;
    }
    this.stats.slotResets++;
    this.markIsolated(pe);
    this.emit('eeh.check_failure', { dev, pe: pe.label, rc: 1, why: 'frozen' });
    this.emit('eeh.isolate', { pe: pe.label, cause: 'check_failure' });
    this.events.send(pe);
    return 1;
  }

  /** eeh_phb_check_failure(): a fenced or dead PHB is handled first. */
  private *phbCheckFailure(pe: EehPe): Task<number> {
    const phbPe = this.phbPes[pe.phb];
    if (!phbPe || phbPe.isolated) return 0;
    const { state } = yield* this.ops.getState(phbPe);
    if (state < 0 || state === EEH_STATE_NOT_SUPPORT || eehStateActive(state)) return 0;
    this.markIsolated(phbPe);
    this.emit('eeh.isolate', { pe: phbPe.label, cause: 'phb_fence' });
    this.events.send(phbPe);
    return 1;
  }

  // ---- state helpers -------------------------------------------------------

  /** eeh_wait_state(): polls while the PE is temporarily unavailable. */
  *waitState(pe: EehPe, maxWaitMs: number): Task<number> {
    for (;;) {
      const { state, delayMs } = yield* this.ops.getState(pe);
      if (state !== EEH_STATE_UNAVAILABLE) return state;
      if (maxWaitMs <= 0) return EEH_STATE_NOT_SUPPORT;
      const wait = Math.min(Math.max(delayMs, EEH_STATE_MIN_WAIT_TIME), EEH_STATE_MAX_WAIT_TIME);
      yield* sleep(ms(Math.min(wait, maxWaitMs)));
      maxWaitMs -= wait;
    }
  }

  /** eeh_pci_enable(): set an option and, for thaws, wait until it took. */
  *pciEnable(pe: EehPe, option: number): Task<number> {
    let activeFlag: number;
    switch (option) {
      case EEH_OPT_THAW_MMIO:
        activeFlag = EEH_STATE_MMIO_ACTIVE | EEH_STATE_MMIO_ENABLED;
        break;
      case EEH_OPT_THAW_DMA:
        activeFlag = EEH_STATE_DMA_ACTIVE;
        break;
      case EEH_OPT_DISABLE:
      case EEH_OPT_ENABLE:
      case EEH_OPT_FREEZE_PE:
        activeFlag = 0;
        break;
      default:
        return -EINVAL;
    }
    if (activeFlag) {
      const { state } = yield* this.ops.getState(pe);
      if (state < 0) return state;
      if (state === EEH_STATE_NOT_SUPPORT) return 0;
      if (state & activeFlag) return 0;
    }
    let rc = yield* this.ops.setOption(pe, option);
    this.emit('eeh.set_option', { pe: pe.label, option, rc });
    if (activeFlag) {
      rc = yield* this.waitState(pe, PCI_BUS_RESET_WAIT_MSEC);
      if (rc < 0) return rc;
      return rc & activeFlag ? 0 : -EIO;
    }
    return rc;
  }

  /** eeh_unfreeze_pe(): thaw MMIO, then DMA. */
  *unfreezePe(pe: EehPe): Task<number> {
    const rc = yield* this.pciEnable(pe, EEH_OPT_THAW_MMIO);
    if (rc) return rc;
    return yield* this.pciEnable(pe, EEH_OPT_THAW_DMA);
  }

  /** eeh_clear_pe_frozen_state(): thaw every PE of the subtree, then clear ISOLATED. */
  *clearPeFrozenState(root: EehPe, includePassed: boolean): Task<number> {
    for (const pe of root.subtree()) {
      if (!includePassed && pe.passed) continue;
      const rc = yield* this.unfreezePe(pe);
      if (rc) return rc;
    }
    this.stateClear(root, EEH_PE_ISOLATED, includePassed);
    return 0;
  }

  /** eeh_pe_change_owner(): a frozen PE changing hands is thawed first. */
  *changeOwner(pe: EehPe): Task<number> {
    const { state } = yield* this.ops.getState(pe);
    if (state < 0 || state === EEH_STATE_NOT_SUPPORT) return 0;
    if (eehStateActive(state)) return 0;
    // MODEL: eeh_reset_ids (Emulex BE/Lancer, BCM5719 need a PE reset to
    // change owner) matches none of the modelled devices.
    const rc = yield* this.unfreezePe(pe);
    if (!rc) this.stateClear(pe, EEH_PE_ISOLATED, true);
    return rc;
  }

  // ---- ownership by VFIO (eeh.c eeh_dev_open / eeh_dev_release) ------------

  *devOpen(edev: EehDev | undefined): Task<number> {
    const pe = edev?.pe;
    if (!edev || !pe) return -ENODEV;
    const rc = yield* this.changeOwner(pe);
    if (rc) return rc;
    pe.passDevCnt++;
    this.emit('eeh.owner', {
      pe: pe.label,
      dev: edev.name,
      op: 'open',
      pass_dev_cnt: pe.passDevCnt,
    });
    return 0;
  }

  *devRelease(edev: EehDev | undefined): Task<void> {
    const pe = edev?.pe;
    if (!edev || !pe?.passed) return;
    pe.passDevCnt--;
    yield* this.changeOwner(pe);
    this.emit('eeh.owner', {
      pe: pe.label,
      dev: edev.name,
      op: 'release',
      pass_dev_cnt: pe.passDevCnt,
    });
  }

  // ---- the PE API VFIO uses (eeh.c, EXPORT_SYMBOL_GPL section) -------------

  /** eeh_pe_get_state(): the VFIO / RTAS PE state number, or -errno. */
  *peGetState(pe: EehPe | undefined): Task<number> {
    if (!pe) return -ENODEV;
    // The host recovering a parent PE makes the guest wait (state 5).
    if (
      pe.parent &&
      !(pe.state & EEH_PE_REMOVED) &&
      pe.parent.state & (EEH_PE_ISOLATED | EEH_PE_RECOVERING)
    ) {
      return EEH_PE_STATE_UNAVAIL;
    }
    const { state } = yield* this.ops.getState(pe);
    const rst = (state & EEH_STATE_RESET_ACTIVE) !== 0;
    const dma = (state & EEH_STATE_DMA_ENABLED) !== 0;
    const mmio = (state & EEH_STATE_MMIO_ENABLED) !== 0;
    if (rst) return EEH_PE_STATE_RESET;
    if (dma && mmio) return EEH_PE_STATE_NORMAL;
    if (!dma && !mmio) return EEH_PE_STATE_STOPPED_IO_DMA;
    if (mmio && !dma) return EEH_PE_STATE_STOPPED_DMA;
    return EEH_PE_STATE_UNAVAIL;
  }

  /** eeh_pe_set_option() */
  *peSetOption(pe: EehPe | undefined, option: number): Task<number> {
    if (!pe) return -ENODEV;
    switch (option) {
      case EEH_OPT_ENABLE:
        return this.enabled ? yield* this.changeOwner(pe) : -EIO;
      case EEH_OPT_DISABLE:
        return 0;
      case EEH_OPT_THAW_MMIO:
      case EEH_OPT_THAW_DMA:
      case EEH_OPT_FREEZE_PE:
        return yield* this.pciEnable(pe, option);
      default:
        return -EINVAL;
    }
  }

  /** eeh_pe_reset() */
  *peReset(pe: EehPe | undefined, option: number, includePassed: boolean): Task<number> {
    if (!pe) return -ENODEV;
    switch (option) {
      case EEH_RESET_DEACTIVATE: {
        const tok = this.begin('eeh.reset', { pe: pe.label, option });
        const rc = yield* this.ops.reset(pe, option);
        this.stateClear(pe, EEH_PE_CFG_BLOCKED, includePassed);
        const out = rc ? rc : yield* this.reenableDevices(pe, includePassed);
        this.sim.trace.end(tok, { rc: out });
        return out;
      }
      case EEH_RESET_HOT:
      case EEH_RESET_FUNDAMENTAL: {
        const tok = this.begin('eeh.reset', { pe: pe.label, option });
        // Freeze first so MMIO during the reset cannot cause recursive errors.
        yield* this.ops.setOption(pe, EEH_OPT_FREEZE_PE);
        this.stateMark(pe, EEH_PE_CFG_BLOCKED);
        const rc = yield* this.ops.reset(pe, option);
        this.sim.trace.end(tok, { rc });
        return rc;
      }
      default:
        return -EINVAL;
    }
  }

  /** eeh_pe_reenable_devices(): restore config, thaw (passed PEs only if asked). */
  private *reenableDevices(pe: EehPe, includePassed: boolean): Task<number> {
    yield* this.restoreBars(pe);
    if (includePassed || !pe.passed) {
      const rc = yield* this.unfreezePe(pe);
      if (rc) return rc;
    }
    this.stateClear(pe, EEH_PE_ISOLATED, includePassed);
    return 0;
  }

  /** eeh_save_bars() for one device (at probe time). */
  *saveBars(edev: EehDev): Task<void> {
    yield* eehSaveBars(this.ops, edev);
  }

  /** eeh_pe_restore_bars(): restore the saved config space of every device. */
  *restoreBars(pe: EehPe): Task<void> {
    for (const edev of pe.devices()) {
      if (edev.pdev && !edev.pdev.removed) yield* eehRestoreOneDeviceBars(this.ops, edev);
    }
  }

  /** eeh_pe_configure(): nothing to do before Linux 6.15 (2025). */
  *peConfigure(pe: EehPe | undefined): Task<number> {
    return pe ? 0 : -ENODEV;
  }

  /** eeh_pe_inject_err() */
  *peInjectErr(
    pe: EehPe | undefined,
    type: number,
    func: number,
    addr: bigint,
    mask: bigint,
  ): Task<number> {
    if (!pe) return -ENODEV;
    if (func < EEH_ERR_FUNC_MIN || func > EEH_ERR_FUNC_MAX) return -EINVAL;
    return yield* this.ops.errInject(pe, type, func, addr, mask);
  }

  /**
   * eeh_pe_reset_full(): hot (or fundamental) reset, deassert, wait for the
   * PE to come back; three attempts.
   */
  *peResetFull(pe: EehPe, includePassed: boolean): Task<number> {
    const active = EEH_STATE_MMIO_ACTIVE | EEH_STATE_DMA_ACTIVE;
    this.stateMark(pe, EEH_PE_RESET | EEH_PE_CFG_BLOCKED);
    let ret = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      ret = yield* this.peReset(pe, EEH_RESET_HOT, includePassed);
      if (!ret) ret = yield* this.peReset(pe, EEH_RESET_DEACTIVATE, includePassed);
      if (ret) {
        ret = -EIO;
        continue;
      }
      const state = yield* this.waitState(pe, PCI_BUS_RESET_WAIT_MSEC);
      if (state < 0) {
        ret = -ENOTRECOVERABLE;
        break;
      }
      if ((state & active) === active) break;
      ret = -EIO;
    }
    // Resetting the PE may have thawed passed-through child PEs: re-freeze them.
    if (!includePassed) yield* this.refreezePassed(pe);
    this.stateClear(pe, EEH_PE_RESET | EEH_PE_CFG_BLOCKED, true);
    return ret;
  }

  /** eeh_pe_refreeze_passed() */
  private *refreezePassed(root: EehPe): Task<void> {
    for (const pe of root.subtree()) {
      if (!pe.passed) continue;
      const { state } = yield* this.ops.getState(pe);
      if (state & (EEH_STATE_MMIO_ACTIVE | EEH_STATE_MMIO_ENABLED)) {
        yield* this.peSetOption(pe, EEH_OPT_FREEZE_PE);
      }
    }
  }

  /**
   * eeh_pe_update_time_stamp() + the freeze count: restarts the one-hour
   * window when it is empty or expired, then counts this freeze.
   */
  countFreeze(pe: EehPe): number {
    const nowS = Math.floor(this.sim.now / NS_PER_S);
    if (pe.freezeCount <= 0 || nowS - pe.tstampS > EEH_FREEZE_WINDOW_S) {
      pe.freezeCount = 0;
      pe.tstampS = nowS;
    }
    pe.freezeCount++;
    return pe.freezeCount;
  }
}
