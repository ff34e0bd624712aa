/**
 * struct eeh_ops "powernv": the host's EEH platform over OPAL
 * (cf. arch/powerpc/platforms/powernv/eeh-powernv.c, and pci-ioda.c for
 * pnv_ioda_get_pe_state / pnv_ioda_freeze_pe / pnv_ioda_unfreeze_pe, which
 * the IODA PHBs plug in as phb->get_pe_state / freeze_pe / unfreeze_pe).
 *
 * Also the OPAL PCI error interrupt (pnv_eeh_event): when the PHB logs an
 * error the host gets OPAL_EVENT_PCI_ERROR, masks the interrupt and queues
 * a special EEH event; pnv_eeh_next_error unmasks it once firmware reports
 * no more errors to handle.
 */
import type { Opal } from '../../firmware/opal.js';
import type { EehCore } from '../../kernel/eeh.js';
import {
  EEH_OPT_DISABLE,
  EEH_OPT_ENABLE,
  EEH_OPT_FREEZE_PE,
  EEH_OPT_THAW_DMA,
  EEH_OPT_THAW_MMIO,
  EEH_PE_CFG_BLOCKED,
  EEH_PE_ISOLATED,
  EEH_PE_RESET,
  EEH_RESET_DEACTIVATE,
  EEH_RESET_FUNDAMENTAL,
  EEH_RESET_HOT,
  EEH_STATE_ACTIVE_ALL,
  EEH_STATE_DMA_ACTIVE,
  EEH_STATE_DMA_ENABLED,
  EEH_STATE_MMIO_ACTIVE,
  EEH_STATE_MMIO_ENABLED,
  EEH_STATE_NOT_SUPPORT,
  EEH_STATE_RESET_ACTIVE,
  EEH_STATE_UNAVAILABLE,
  eehStateActive,
} from '../../kernel/eeh_consts.js';
import type { EehDev, EehPe } from '../../kernel/eeh_dev.js';
import type { EehGetState, EehNextError, EehOps } from '../../kernel/eeh_ops.js';
import type { Task } from '../../sim/scheduler.js';
import type { Sim } from '../../sim/sim.js';
import { EINVAL, EIO, EPERM, ERANGE } from '../../uapi/errno.js';
import {
  decodePhbDiag,
  EEHSIM_DIAG_SIZE,
  OPAL_ASSERT_RESET,
  OPAL_DEASSERT_RESET,
  OPAL_EEH_ACTION_CLEAR_FREEZE_ALL,
  OPAL_EEH_ACTION_CLEAR_FREEZE_DMA,
  OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO,
  OPAL_EEH_ACTION_SET_FREEZE_ALL,
  OPAL_EEH_IOC_ERROR,
  OPAL_EEH_NO_ERROR,
  OPAL_EEH_PE_ERROR,
  OPAL_EEH_PHB_ERROR,
  OPAL_EEH_SEV_INF,
  OPAL_EEH_SEV_IOC_DEAD,
  OPAL_EEH_SEV_NO_ERROR,
  OPAL_EEH_SEV_PHB_DEAD,
  OPAL_EEH_SEV_PHB_FENCED,
  OPAL_EEH_STOPPED_DMA_FREEZE,
  OPAL_EEH_STOPPED_MMIO_DMA_FREEZE,
  OPAL_EEH_STOPPED_MMIO_FREEZE,
  OPAL_EEH_STOPPED_NOT_FROZEN,
  OPAL_EEH_STOPPED_PERM_UNAVAIL,
  OPAL_EEH_STOPPED_RESET,
  OPAL_EEH_STOPPED_TEMP_UNAVAIL,
  OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_TARGET,
  OPAL_ERR_INJECT_FUNC_IOA_LD_MEM_ADDR,
  OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR,
  OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR64,
  OPAL_RESET_PCI_FUNDAMENTAL,
  OPAL_RESET_PCI_HOT,
  OPAL_RESET_PHB_COMPLETE,
  OPAL_SUCCESS,
  type OpalRc,
  type PhbDiagData,
} from '../../uapi/opal.js';
import {
  PCI_BRIDGE_CONTROL,
  PCI_BRIDGE_CTL_BUS_RESET,
  PCI_ERR_UNC_SURPDN,
  PCI_ERR_UNCOR_MASK,
} from '../../uapi/pci_regs.js';
import type { HostPciDev } from '../pci_dev.js';
import {
  allOnes,
  type CfgSize,
  PCIBIOS_DEVICE_NOT_FOUND,
  PCIBIOS_SET_FAILED,
  pnvPciCfgRead,
  pnvPciCfgWrite,
} from './pci.js';
import '../trace_events.js';

/** eeh_pe_bus_get() for powernv: the PE's primary bus, named by the bridge above it. */
export interface PnvPeBus {
  /** The bus is the PHB's root bus (pci_is_root_bus). */
  readonly root: boolean;
  /** bus->self: the bridge leading to the bus (undefined on the root bus). */
  readonly bridge: HostPciDev | undefined;
}

/** What the powernv platform needs from the rest of the host kernel. */
export interface PnvHost {
  readonly sim: Sim;
  readonly opal: Opal;
  /** OPAL ids of the PHBs (= PCI domains), in hose_list order. */
  phbIds(): readonly number[];
  /** phb->ioda.total_pe_num. */
  totalPes(phbId: number): number;
  /** eeh_pe_bus_get(); undefined when the PE has no bus (no device left). */
  peBus(pe: EehPe): PnvPeBus | undefined;
  /**
   * PROPOSAL (+notify, not upstream): next_error found `pe` frozen and
   * passed through - the host may tell its user (VFIO's error eventfds).
   * Upstream leaves such a PE alone; so does a host without this hook.
   */
  passedPeFrozen?(pe: EehPe): void;
}

/** One error log as eeh_slot_error_detail / pnv_eeh_get_log would print it. */
export interface PnvErrorLog {
  readonly t: number;
  readonly pe: string;
  readonly severity: number;
  readonly diag: PhbDiagData | undefined;
}

export class PnvEehOps implements EehOps {
  readonly name = 'powernv' as const;
  readonly probeModeDev = true;
  /** The EEH core using these ops (set by attach: the core is built with the ops). */
  private coreRef: EehCore | undefined;
  /** pe->data: the last PHB diag data fetched for a PE. */
  readonly diag = new Map<EehPe, PhbDiagData>();
  /** Error logs dumped by get_log, oldest first. */
  readonly logs: PnvErrorLog[] = [];
  /** Bridges this platform holds in secondary bus reset (see reset()). */
  private readonly sbrHeld = new Set<HostPciDev>();
  /** PEs held in a root (slot) fundamental reset from a bridge on the root bus. */
  private readonly rootHeld = new Set<EehPe>();

  // The OPAL PCI error interrupt (eeh_event_irq).
  private irqEnabled = true;
  private irqPending = false;
  /** OPAL PCI error interrupts taken / special events sent. */
  readonly irqStats = { raised: 0, delivered: 0, whileMasked: 0 };

  constructor(private readonly host: PnvHost) {}

  attach(core: EehCore): void {
    this.coreRef = core;
  }

  private get core(): EehCore {
    if (!this.coreRef) throw new Error('PnvEehOps used before attach(core)');
    return this.coreRef;
  }

  private get opal(): Opal {
    return this.host.opal;
  }

  private get sim(): Sim {
    return this.host.sim;
  }

  private opalError(call: string, phb: number, pe: number, rc: OpalRc): void {
    this.sim.trace.emit('host.pnv.opal_error', { call, phb, pe, rc });
  }

  // ---- diag data ------------------------------------------------------------

  /** pnv_eeh_get_phb_diag(): OPAL_PCI_GET_PHB_DIAG_DATA2 into pe->data. */
  private *getPhbDiag(pe: EehPe): Task<void> {
    const buf = new DataView(new ArrayBuffer(EEHSIM_DIAG_SIZE));
    const rc = yield* this.opal.pciGetPhbDiagData2(pe.phb, buf);
    if (rc !== OPAL_SUCCESS) {
      this.opalError('get_phb_diag_data2', pe.phb, pe.addr, rc);
      return;
    }
    this.diag.set(pe, decodePhbDiag(buf));
  }

  // ---- get_state ------------------------------------------------------------

  *getState(pe: EehPe): Task<EehGetState> {
    const state = pe.isPhb ? yield* this.getPhbState(pe) : yield* this.getPeState(pe);
    // If the PE state is temporarily unavailable, tell the core to wait 1 s.
    return { state, delayMs: state & EEH_STATE_UNAVAILABLE ? 1000 : 0 };
  }

  /** pnv_eeh_get_phb_state(): only a PHB error (fence, dead PHB) counts. */
  private *getPhbState(pe: EehPe): Task<number> {
    const s = yield* this.opal.pciEehFreezeStatus(pe.phb, pe.addr);
    if (s.rc !== OPAL_SUCCESS) {
      this.opalError('eeh_freeze_status', pe.phb, pe.addr, s.rc);
      return EEH_STATE_NOT_SUPPORT;
    }
    if (s.pciErrorType !== OPAL_EEH_PHB_ERROR) return EEH_STATE_ACTIVE_ALL;
    // The PHB is frozen for the first time: isolate it and dump the diag data.
    if (!(pe.state & EEH_PE_ISOLATED)) {
      this.core.markIsolated(pe);
      this.sim.trace.emit('host.pnv.frozen', {
        pe: pe.label,
        fstate: s.freezeState,
        passed: false,
      });
      yield* this.getPhbDiag(pe);
    }
    return 0;
  }

  /** pnv_ioda_get_pe_state() (non-compound PEs): the OPAL freeze state. */
  private *iodaGetPeState(pe: EehPe): Task<number> {
    if (pe.addr < 0 || pe.addr >= this.host.totalPes(pe.phb)) return OPAL_EEH_STOPPED_PERM_UNAVAIL;
    const s = yield* this.opal.pciEehFreezeStatus(pe.phb, pe.addr);
    if (s.rc !== OPAL_SUCCESS) {
      this.opalError('eeh_freeze_status', pe.phb, pe.addr, s.rc);
      return OPAL_EEH_STOPPED_TEMP_UNAVAIL;
    }
    return s.freezeState;
  }

  /** pnv_eeh_get_pe_state() */
  private *getPeState(pe: EehPe): Task<number> {
    // Hardware frozen state is kept until the PE reset completes; report
    // the PE as operational meanwhile so the core keeps moving.
    if (pe.state & EEH_PE_RESET) return EEH_STATE_ACTIVE_ALL;
    const fstate = yield* this.iodaGetPeState(pe);
    let result: number;
    switch (fstate) {
      case OPAL_EEH_STOPPED_NOT_FROZEN:
        result = EEH_STATE_ACTIVE_ALL;
        break;
      case OPAL_EEH_STOPPED_MMIO_FREEZE:
        result = EEH_STATE_DMA_ACTIVE | EEH_STATE_DMA_ENABLED;
        break;
      case OPAL_EEH_STOPPED_DMA_FREEZE:
        result = EEH_STATE_MMIO_ACTIVE | EEH_STATE_MMIO_ENABLED;
        break;
      case OPAL_EEH_STOPPED_MMIO_DMA_FREEZE:
        result = 0;
        break;
      case OPAL_EEH_STOPPED_RESET:
        result = EEH_STATE_RESET_ACTIVE;
        break;
      case OPAL_EEH_STOPPED_TEMP_UNAVAIL:
        result = EEH_STATE_UNAVAILABLE;
        break;
      default:
        result = EEH_STATE_NOT_SUPPORT;
    }
    // Switching to frozen for the first time: isolate the PE and fetch the
    // PHB diag data - also for a passed-through PE (the host learns of the
    // freeze whoever asked).
    if (
      !(result & (EEH_STATE_NOT_SUPPORT | EEH_STATE_UNAVAILABLE)) &&
      !(result & EEH_STATE_MMIO_ACTIVE) &&
      !(result & EEH_STATE_DMA_ACTIVE) &&
      !(pe.state & EEH_PE_ISOLATED)
    ) {
      yield* this.iodaFreezePe(pe);
      this.core.markIsolated(pe);
      this.sim.trace.emit('host.pnv.frozen', { pe: pe.label, fstate, passed: pe.passed });
      yield* this.getPhbDiag(pe);
    }
    return result;
  }

  // ---- set_option -----------------------------------------------------------

  /** pnv_ioda_freeze_pe(): freeze set ALL; a failure is only logged. */
  private *iodaFreezePe(pe: EehPe): Task<void> {
    const rc = yield* this.opal.pciEehFreezeSet(pe.phb, pe.addr, OPAL_EEH_ACTION_SET_FREEZE_ALL);
    if (rc !== OPAL_SUCCESS) this.opalError('eeh_freeze_set', pe.phb, pe.addr, rc);
  }

  /** pnv_ioda_unfreeze_pe() */
  private *iodaUnfreezePe(pe: EehPe, opt: number): Task<number> {
    const rc = yield* this.opal.pciEehFreezeClear(pe.phb, pe.addr, opt);
    if (rc !== OPAL_SUCCESS) {
      this.opalError('eeh_freeze_clear', pe.phb, pe.addr, rc);
      return -EIO;
    }
    return 0;
  }

  /** pnv_eeh_set_option() */
  *setOption(pe: EehPe, option: number): Task<number> {
    switch (option) {
      case EEH_OPT_DISABLE:
        return -EPERM;
      case EEH_OPT_ENABLE:
        return 0;
      case EEH_OPT_THAW_MMIO:
        return yield* this.iodaUnfreezePe(pe, OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO);
      case EEH_OPT_THAW_DMA:
        return yield* this.iodaUnfreezePe(pe, OPAL_EEH_ACTION_CLEAR_FREEZE_DMA);
      case EEH_OPT_FREEZE_PE:
        yield* this.iodaFreezePe(pe);
        return 0;
      default:
        return -EINVAL;
    }
  }

  // ---- reset ----------------------------------------------------------------

  /** msleep(EEH_PE_RST_HOLD_TIME) / msleep(EEH_PE_RST_SETTLE_TIME), from the cost table. */
  private *hold(): Task<void> {
    yield* this.sim.charge('pe_reset_hold');
  }

  private *settle(): Task<void> {
    yield* this.sim.charge('pe_reset_settle');
  }

  private traceReset(pe: EehPe, method: string, option: number, rc: number): number {
    this.sim.trace.emit('host.pnv.reset', { pe: pe.label, method, option, rc });
    return rc;
  }

  /**
   * pnv_eeh_phb_reset(): complete PHB reset. MODEL: OPAL's positive "poll
   * again in n ms" return is folded into the firmware call (it sleeps).
   */
  private *phbReset(pe: EehPe, option: number): Task<number> {
    const assert = option === EEH_RESET_FUNDAMENTAL || option === EEH_RESET_HOT;
    return yield* this.opalReset(
      pe,
      'phb',
      option,
      OPAL_RESET_PHB_COMPLETE,
      assert ? OPAL_ASSERT_RESET : OPAL_DEASSERT_RESET,
    );
  }

  /**
   * pnv_eeh_root_reset(): reset of the root port's link. On deassert the
   * scope does not matter (firmware does nothing scope-specific then).
   * MODEL: the devices sit on the PHB's root bus (no root port in the
   * hardware model) and the firmware resets just the PE named, so the PE
   * number goes along with the PHB id.
   */
  private *rootReset(pe: EehPe, option: number): Task<number> {
    if (option === EEH_RESET_FUNDAMENTAL) {
      return yield* this.opalReset(
        pe,
        'root',
        option,
        OPAL_RESET_PCI_FUNDAMENTAL,
        OPAL_ASSERT_RESET,
      );
    }
    if (option === EEH_RESET_HOT) {
      return yield* this.opalReset(pe, 'root', option, OPAL_RESET_PCI_HOT, OPAL_ASSERT_RESET);
    }
    return yield* this.opalReset(pe, 'root', option, OPAL_RESET_PCI_HOT, OPAL_DEASSERT_RESET);
  }

  /**
   * One opal_pci_reset() as pnv_eeh_phb_reset() and pnv_eeh_root_reset()
   * issue it: the settle delay after a deassert, a firmware error logged
   * and returned as -EIO.
   */
  private *opalReset(
    pe: EehPe,
    method: string,
    option: number,
    scope: number,
    state: number,
  ): Task<number> {
    const rc = yield* this.opal.pciReset(pe.phb, pe.addr, scope, state);
    if (state === OPAL_DEASSERT_RESET && rc >= 0) yield* this.settle();
    if (rc !== OPAL_SUCCESS) this.opalError('pci_reset', pe.phb, pe.addr, rc);
    return this.traceReset(pe, method, option, rc === OPAL_SUCCESS ? 0 : -EIO);
  }

  /**
   * __pnv_eeh_bridge_reset(): secondary bus reset of `bridge` through the
   * EEH config accessors, with AER surprise-down masked meanwhile.
   */
  private *bridgeReset(pe: EehPe, bridge: HostPciDev, option: number): Task<number> {
    const edev = bridge.edev;
    if (!edev) return this.traceReset(pe, 'bridge', option, -EIO);
    const aer = bridge.aerCap;
    switch (option) {
      case EEH_RESET_FUNDAMENTAL:
      case EEH_RESET_HOT: {
        if (aer) {
          const m = yield* this.readConfig(edev, aer + PCI_ERR_UNCOR_MASK, 4);
          yield* this.writeConfig(
            edev,
            aer + PCI_ERR_UNCOR_MASK,
            4,
            (m | PCI_ERR_UNC_SURPDN) >>> 0,
          );
        }
        const ctl = yield* this.readConfig(edev, PCI_BRIDGE_CONTROL, 2);
        yield* this.writeConfig(edev, PCI_BRIDGE_CONTROL, 2, ctl | PCI_BRIDGE_CTL_BUS_RESET);
        this.sbrHeld.add(bridge);
        yield* this.hold();
        break;
      }
      case EEH_RESET_DEACTIVATE: {
        const ctl = yield* this.readConfig(edev, PCI_BRIDGE_CONTROL, 2);
        yield* this.writeConfig(edev, PCI_BRIDGE_CONTROL, 2, ctl & ~PCI_BRIDGE_CTL_BUS_RESET);
        this.sbrHeld.delete(bridge);
        yield* this.settle();
        if (aer) {
          const m = yield* this.readConfig(edev, aer + PCI_ERR_UNCOR_MASK, 4);
          yield* this.writeConfig(
            edev,
            aer + PCI_ERR_UNCOR_MASK,
            4,
            (m & ~PCI_ERR_UNC_SURPDN) >>> 0,
          );
        }
        break;
      }
    }
    return this.traceReset(pe, `bridge ${bridge.name}`, option, 0);
  }

  /**
   * pnv_eeh_reset(): the PHB PE gets a complete reset; a PE on the root bus
   * a root-port (slot) reset through OPAL; any other PE a secondary bus
   * reset of the bridge above its primary bus. A hot reset there is the
   * whole cycle (pci_bus_error_reset -> pnv_pci_reset_secondary_bus: assert,
   * hold, deassert, settle) and the deactivate step is a no-op, as upstream.
   *
   * MODEL: upstream also no-ops deactivate after a *fundamental* reset of
   * such a PE, which would leave a firmware-less bridge in secondary bus
   * reset; the model deasserts what it asserted (with the settle time).
   */
  *reset(pe: EehPe, option: number): Task<number> {
    if (
      option !== EEH_RESET_HOT &&
      option !== EEH_RESET_FUNDAMENTAL &&
      option !== EEH_RESET_DEACTIVATE
    ) {
      return -EINVAL;
    }
    if (pe.isPhb) return yield* this.phbReset(pe, option);
    const bus = this.host.peBus(pe);
    if (!bus) return this.traceReset(pe, 'no bus', option, -EIO);
    if (bus.root || !bus.bridge) return yield* this.rootReset(pe, option);
    const bridge = bus.bridge;
    if (option !== EEH_RESET_FUNDAMENTAL) {
      if (option === EEH_RESET_DEACTIVATE) {
        if (this.sbrHeld.has(bridge)) return yield* this.bridgeReset(pe, bridge, option);
        if (this.rootHeld.delete(pe)) return yield* this.rootReset(pe, option);
        return this.traceReset(pe, 'noop', option, 0);
      }
      const rc = yield* this.bridgeReset(pe, bridge, EEH_RESET_HOT);
      if (rc) return rc;
      return yield* this.bridgeReset(pe, bridge, EEH_RESET_DEACTIVATE);
    }
    if (!bridge.parent) {
      // pci_is_root_bus(bus->parent): the root port's fundamental reset
      // (the firmware resets the PE, see rootReset).
      this.rootHeld.add(pe);
      return yield* this.rootReset(pe, option);
    }
    return yield* this.bridgeReset(pe, bridge, option);
  }

  *configureBridge(_pe: EehPe): Task<number> {
    // pnv_eeh_configure_bridge(): nothing to do on powernv.
    return 0;
  }

  /**
   * pnv_eeh_get_log(): dump the diag data fetched when the PE was found
   * frozen (EEH_EARLY_DUMP_LOG is off, so this is where it gets printed).
   */
  *getLog(pe: EehPe, severity: number): Task<void> {
    const diag = this.diag.get(pe);
    this.logs.push({ t: this.sim.now, pe: pe.label, severity, diag });
    this.sim.trace.emit('host.pnv.diag', {
      pe: pe.label,
      records: diag?.records.length ?? 0,
      severity,
    });
  }

  /** pnv_eeh_err_inject() */
  *errInject(pe: EehPe, type: number, func: number, addr: bigint, mask: bigint): Task<number> {
    if (type !== OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR && type !== OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR64) {
      return -ERANGE;
    }
    if (
      func < OPAL_ERR_INJECT_FUNC_IOA_LD_MEM_ADDR ||
      func > OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_TARGET
    ) {
      return -ERANGE;
    }
    const rc = yield* this.opal.pciErrInject(pe.phb, pe.addr, type, func, addr, mask);
    if (rc !== OPAL_SUCCESS) {
      this.opalError('pci_err_inject', pe.phb, pe.addr, rc);
      return -EIO;
    }
    return 0;
  }

  // ---- config accessors -----------------------------------------------------

  /** pnv_eeh_cfg_blocked() */
  cfgBlocked(edev: EehDev): boolean {
    return ((edev.pe?.state ?? 0) & EEH_PE_CFG_BLOCKED) !== 0;
  }

  /** pnv_eeh_read_config(): all 1s while the PE's config space is blocked. */
  *readConfig(edev: EehDev, where: number, size: CfgSize): Task<number> {
    const pdev = edev.pdev;
    if (!pdev) return allOnes(size);
    if (this.cfgBlocked(edev)) return allOnes(size);
    const r = yield* pnvPciCfgRead(this.opal, pdev.domain, edev.bdf, where, size);
    return r.value;
  }

  /** pnv_eeh_write_config(): PCIBIOS_SET_FAILED while blocked. */
  *writeConfig(edev: EehDev, where: number, size: CfgSize, value: number): Task<number> {
    const pdev = edev.pdev;
    if (!pdev) return PCIBIOS_DEVICE_NOT_FOUND;
    if (this.cfgBlocked(edev)) return PCIBIOS_SET_FAILED;
    return yield* pnvPciCfgWrite(this.opal, pdev.domain, edev.bdf, where, size, value);
  }

  // ---- next_error -----------------------------------------------------------

  private findPe(phb: number, peNo: number): EehPe | undefined {
    return this.core.findPe(phb, peNo);
  }

  /**
   * pnv_eeh_get_pe(): the EEH PE of a frozen PE number (frozen if it was
   * not yet), then the highest frozen parent below the PHB.
   */
  private *getPeForError(phb: number, peNo: number): Task<EehPe | undefined> {
    let pe = this.findPe(phb, peNo);
    if (!pe) return undefined;
    if (!(pe.state & EEH_PE_ISOLATED)) yield* this.iodaFreezePe(pe);
    for (let p = pe.parent; p && !p.isPhb; p = p.parent) {
      const { state } = yield* this.getState(p);
      if (state <= 0 || eehStateActive(state)) continue;
      pe = p;
      if (!(p.state & EEH_PE_ISOLATED)) yield* this.iodaFreezePe(p);
    }
    return pe;
  }

  /**
   * pnv_eeh_next_error(): asks OPAL_PCI_NEXT_ERROR of every PHB whose PHB PE
   * is not isolated, and reports the first error the core must act on.
   * Frozen PEs that are passed through or already isolated are left alone
   * (their owner / the running recovery handles them).
   *
   * MODEL: eeh_remove_event(NULL, false) (purging queued special events)
   * is not done: an extra special event just finds no error.
   */
  *nextError(): Task<EehNextError> {
    let ret: EehNextError = { kind: 'none' };
    for (const phbId of this.host.phbIds()) {
      const phbPe = this.core.phbPes[phbId];
      if (!phbPe || phbPe.state & EEH_PE_ISOLATED) continue;
      const r = yield* this.opal.pciNextError(phbId);
      if (r.rc !== OPAL_SUCCESS) continue;
      if (r.pciErrorType === OPAL_EEH_NO_ERROR || r.severity === OPAL_EEH_SEV_NO_ERROR) continue;
      let pe: EehPe | undefined;
      switch (r.pciErrorType) {
        case OPAL_EEH_IOC_ERROR:
          if (r.severity === OPAL_EEH_SEV_IOC_DEAD) ret = { kind: 'dead_ioc' };
          break;
        case OPAL_EEH_PHB_ERROR:
          if (r.severity === OPAL_EEH_SEV_PHB_DEAD) ret = { kind: 'dead_phb', phb: phbId };
          else if (r.severity === OPAL_EEH_SEV_PHB_FENCED) {
            pe = phbPe;
            ret = { kind: 'fenced_phb', phb: phbId };
          } else if (r.severity === OPAL_EEH_SEV_INF) yield* this.getPhbDiag(phbPe);
          break;
        case OPAL_EEH_PE_ERROR: {
          pe = yield* this.getPeForError(phbId, r.firstFrozenPe);
          if (!pe) {
            // Not a PE we know: dump the diag data and try to clear it.
            yield* this.getPhbDiag(phbPe);
            yield* this.opal.pciEehFreezeClear(
              phbId,
              r.firstFrozenPe,
              OPAL_EEH_ACTION_CLEAR_FREEZE_ALL,
            );
          } else if (!(pe.state & EEH_PE_ISOLATED) && !pe.passed) {
            ret = { kind: 'frozen_pe', pe };
          } else if (pe.passed && !(pe.state & EEH_PE_ISOLATED)) {
            this.host.passedPeFrozen?.(pe);
          }
          break;
        }
      }
      // Dump the log before the core touches the PE (it enables I/O first).
      if ((ret.kind === 'frozen_pe' || ret.kind === 'fenced_phb') && pe) {
        if (!(pe.state & EEH_PE_ISOLATED)) {
          this.core.markIsolated(pe);
          yield* this.getPhbDiag(pe);
        }
      }
      if (ret.kind === 'frozen_pe') {
        // A frozen parent PE is handled first.
        let target: EehPe = ret.pe;
        for (let p = target.parent; p && !p.isPhb; p = p.parent) {
          const { state } = yield* this.getState(p);
          if (state > 0 && !eehStateActive(state)) target = p;
        }
        this.core.markIsolated(target);
        ret = { kind: 'frozen_pe', pe: target };
      }
      this.sim.trace.emit('host.pnv.next_error', {
        phb: phbId,
        kind: ret.kind,
        pe: ret.kind === 'frozen_pe' ? ret.pe.label : (pe?.label ?? `PE#${r.firstFrozenPe}`),
      });
      if (ret.kind !== 'none') break;
    }
    // Unmask the error interrupt once there is nothing left to handle.
    if (ret.kind === 'none' && this.core.enabled) this.enableIrq();
    return ret;
  }

  // ---- the OPAL PCI error interrupt (pnv_eeh_event) --------------------------

  /**
   * Called for every error the PHB logs: firmware raises OPAL_EVENT_PCI_ERROR.
   * MODEL: the event reaches the host after `msi_delivery` of virtual time
   * (interrupt latency; not charged to any process). Real skiboot keeps the
   * event asserted while errors are pending (level); the model raises it
   * per logged error and remembers errors logged while it was masked.
   */
  raiseIrq(): void {
    this.irqStats.raised++;
    if (!this.irqEnabled) {
      this.irqPending = true;
      this.irqStats.whileMasked++;
      return;
    }
    this.deliverIrq();
  }

  private deliverIrq(): void {
    // disable_irq_nosync(): masked until next_error finds nothing to do.
    this.irqEnabled = false;
    this.irqPending = false;
    const sim = this.sim;
    sim.sched.after(sim.costs.ns('msi_delivery'), () => {
      const enabled = this.core.enabled;
      sim.trace.emit('host.pnv.irq', { masked: !enabled });
      if (enabled) {
        this.irqStats.delivered++;
        this.core.events.send(undefined);
      }
    });
  }

  /** enable_irq(eeh_event_irq) */
  enableIrq(): void {
    if (this.irqEnabled) return;
    this.irqEnabled = true;
    if (this.irqPending) this.deliverIrq();
  }

  get irqMasked(): boolean {
    return !this.irqEnabled;
  }
}
