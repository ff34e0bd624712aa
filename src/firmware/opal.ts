/**
 * OPAL, the skiboot firmware interface the powernv host kernel calls for
 * PCI and EEH: one method per OPAL call, each a Task that charges the call
 * (opal_call_null, plus phb_reg_read where skiboot reads PHB registers and
 * config_access for a config cycle) and returns OPAL codes and out-values.
 * Nothing throws across this boundary: a bad PHB id or PE number is
 * OPAL_PARAMETER and changes nothing.
 *
 * cf. skiboot core/pci-opal.c (argument checks common to all PHBs) and
 * hw/phb3.c / hw/phb4.c (phb3_eeh_freeze_status, phb3_eeh_freeze_clear,
 * phb3_eeh_freeze_set, phb3_eeh_next_error, phb3_pcicfg_check,
 * phb3_get_diag_data, phb3_err_inject).
 */
import type { ResetKind } from '../hw/config_space.js';
import type { Hardware } from '../hw/hardware.js';
import type { Pe } from '../hw/pe.js';
import type { Phb } from '../hw/phb.js';
import { RESET_MIN_HOLD } from '../hw/reset_timing.js';
import { sleep, type Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import {
  EEHSIM_DIAG_SIZE,
  encodePhbDiag,
  OPAL_ASSERT_RESET,
  OPAL_DEASSERT_RESET,
  OPAL_EEH_ACTION_CLEAR_FREEZE_DMA,
  OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO,
  OPAL_EEH_NO_ERROR,
  OPAL_EEH_PE_DMA_ERROR,
  OPAL_EEH_PE_ERROR,
  OPAL_EEH_PE_MMIO_ERROR,
  OPAL_EEH_PHB_ERROR,
  OPAL_EEH_SEV_NO_ERROR,
  OPAL_EEH_SEV_PE_ER,
  OPAL_EEH_SEV_PHB_DEAD,
  OPAL_EEH_SEV_PHB_FENCED,
  OPAL_EEH_STOPPED_MMIO_DMA_FREEZE,
  OPAL_EEH_STOPPED_NOT_FROZEN,
  OPAL_EEH_STOPPED_RESET,
  OPAL_EEH_STOPPED_TEMP_UNAVAIL,
  OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR,
  OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR64,
  OPAL_HARDWARE,
  OPAL_PARAMETER,
  OPAL_RESET_PCI_FUNDAMENTAL,
  OPAL_RESET_PCI_HOT,
  OPAL_RESET_PHB_COMPLETE,
  OPAL_RESET_PHB_ERROR,
  OPAL_SUCCESS,
  OPAL_UNSUPPORTED,
  type OpalRc,
  opalRcName,
} from '../uapi/opal.js';
import { buildTrap, injectFunc } from './err_inject.js';
import './trace_events.js';

export interface OpalConfigRead {
  readonly rc: OpalRc;
  /** The value read; all 1s of the access size when rc is an error. */
  readonly data: number;
}

export interface OpalFreezeStatus {
  readonly rc: OpalRc;
  /** OPAL_EEH_STOPPED_* */
  readonly freezeState: number;
  /** OPAL_EEH_*_ERROR (OpalPciStatusToken) */
  readonly pciErrorType: number;
}

export interface OpalFreezeStatus2 extends OpalFreezeStatus {
  /** OPAL_EEH_SEV_* */
  readonly severity: number;
}

export interface OpalNextError {
  readonly rc: OpalRc;
  /** The frozen PE, or -1 ((uint64_t)-1 in C) when the error is not a PE's. */
  readonly firstFrozenPe: number;
  readonly pciErrorType: number;
  readonly severity: number;
}

type Size = 1 | 2 | 4;
const ONES: Readonly<Record<Size, number>> = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff };
const NOT_FROZEN: OpalFreezeStatus2 = {
  rc: OPAL_PARAMETER,
  freezeState: OPAL_EEH_STOPPED_NOT_FROZEN,
  pciErrorType: OPAL_EEH_NO_ERROR,
  severity: OPAL_EEH_SEV_NO_ERROR,
};

export class Opal {
  constructor(
    readonly sim: Sim,
    readonly hw: Hardware,
  ) {}

  // --- OPAL_PCI_CONFIG_READ_* / OPAL_PCI_CONFIG_WRITE_* (13..18) ---

  *pciConfigReadByte(phbId: number, bdfn: number, offset: number): Task<OpalConfigRead> {
    return yield* this.configRead(phbId, bdfn, offset, 1);
  }

  *pciConfigReadHalfWord(phbId: number, bdfn: number, offset: number): Task<OpalConfigRead> {
    return yield* this.configRead(phbId, bdfn, offset, 2);
  }

  *pciConfigReadWord(phbId: number, bdfn: number, offset: number): Task<OpalConfigRead> {
    return yield* this.configRead(phbId, bdfn, offset, 4);
  }

  *pciConfigWriteByte(phbId: number, bdfn: number, offset: number, data: number): Task<OpalRc> {
    return yield* this.configWrite(phbId, bdfn, offset, 1, data);
  }

  *pciConfigWriteHalfWord(phbId: number, bdfn: number, offset: number, data: number): Task<OpalRc> {
    return yield* this.configWrite(phbId, bdfn, offset, 2, data);
  }

  *pciConfigWriteWord(phbId: number, bdfn: number, offset: number, data: number): Task<OpalRc> {
    return yield* this.configWrite(phbId, bdfn, offset, 4, data);
  }

  private *configRead(phbId: number, bdfn: number, offset: number, size: Size) {
    yield* this.sim.charge('opal_call_null');
    const phb = this.phbOf(phbId);
    const rc = phb ? this.configCheck(phb, bdfn, offset, size) : OPAL_PARAMETER;
    if (rc !== OPAL_SUCCESS || !phb) {
      this.configError(phbId, bdfn, offset, false, rc);
      return { rc, data: ONES[size] };
    }
    yield* this.sim.charge('config_access');
    return { rc, data: phb.configRead(bdfn, offset, size) };
  }

  private *configWrite(phbId: number, bdfn: number, offset: number, size: Size, data: number) {
    yield* this.sim.charge('opal_call_null');
    const phb = this.phbOf(phbId);
    const rc = phb ? this.configCheck(phb, bdfn, offset, size) : OPAL_PARAMETER;
    if (rc !== OPAL_SUCCESS || !phb) {
      this.configError(phbId, bdfn, offset, true, rc);
      return rc;
    }
    yield* this.sim.charge('config_access');
    phb.configWrite(bdfn, offset, size, data & ONES[size]);
    return OPAL_SUCCESS;
  }

  /**
   * cf. phb3_pcicfg_check: offset and BDF in range and naturally aligned,
   * PHB not broken, not fenced. A frozen PE is not an error here: the PHB
   * answers its config loads with all 1s.
   */
  private configCheck(phb: Phb, bdfn: number, offset: number, size: Size): OpalRc {
    if (!isU(bdfn, 0xffff) || !isU(offset, 0xfff) || offset & (size - 1)) return OPAL_PARAMETER;
    if (phb.dead || phb.fenced || phb.inReset) return OPAL_HARDWARE;
    return OPAL_SUCCESS;
  }

  private configError(phb: number, bdf: number, offset: number, write: boolean, rc: OpalRc) {
    this.sim.trace.emit('fw.config_error', { phb, bdf, offset, write, rc: opalRcName(rc) });
  }

  // --- OPAL_PCI_EEH_FREEZE_STATUS (23) / _STATUS2 (61) ---

  *pciEehFreezeStatus(phbId: number, pe: number): Task<OpalFreezeStatus> {
    const s = yield* this.freezeStatus(phbId, pe, 'status');
    return { rc: s.rc, freezeState: s.freezeState, pciErrorType: s.pciErrorType };
  }

  *pciEehFreezeStatus2(phbId: number, pe: number): Task<OpalFreezeStatus2> {
    return yield* this.freezeStatus(phbId, pe, 'status2');
  }

  private *freezeStatus(phbId: number, peNum: number, call: string): Task<OpalFreezeStatus2> {
    yield* this.sim.charge('opal_call_null');
    const phb = this.phbOf(phbId);
    const pe = phb?.pe(peNum);
    let s: OpalFreezeStatus2 = NOT_FROZEN;
    if (phb && pe) {
      // PEEV + PESTA + PESTB reads, charged as one PHB register access.
      yield* this.sim.charge('phb_reg_read');
      s = this.peStatus(phb, pe);
    }
    this.sim.trace.emit('fw.freeze_status', {
      phb: phbId,
      pe: peNum,
      rc: opalRcName(s.rc),
      state: s.freezeState,
      type: s.pciErrorType,
      severity: s.severity,
      call,
    });
    return s;
  }

  /** cf. phb3_eeh_freeze_status. */
  private peStatus(phb: Phb, pe: Pe): OpalFreezeStatus2 {
    const frozen3 = {
      freezeState: OPAL_EEH_STOPPED_MMIO_DMA_FREEZE,
      pciErrorType: OPAL_EEH_PHB_ERROR,
    };
    if (phb.dead) return { rc: OPAL_HARDWARE, ...frozen3, severity: OPAL_EEH_SEV_PHB_DEAD };
    if (phb.fenced) return { rc: OPAL_SUCCESS, ...frozen3, severity: OPAL_EEH_SEV_PHB_FENCED };
    const ok = {
      rc: OPAL_SUCCESS,
      pciErrorType: OPAL_EEH_NO_ERROR,
      severity: OPAL_EEH_SEV_NO_ERROR,
    };
    // MODEL: skiboot has no per-PE reset state to report (Linux tracks its own
    // resets); eehsim reports the per-PE reset it models, and the PHB's
    // complete reset as temporarily unavailable.
    if (phb.inReset) return { ...ok, freezeState: OPAL_EEH_STOPPED_TEMP_UNAVAIL };
    if (pe.reset) return { ...ok, freezeState: OPAL_EEH_STOPPED_RESET };
    if (!pe.frozen) return { ...ok, freezeState: OPAL_EEH_STOPPED_NOT_FROZEN };
    // MODEL: skiboot leaves pci_error_type at OPAL_EEH_NO_ERROR for a PE
    // freeze and sets only the severity; eehsim says which side failed.
    const src = pe.firstError?.source;
    const pciErrorType =
      src === 'dma'
        ? OPAL_EEH_PE_DMA_ERROR
        : src === undefined
          ? OPAL_EEH_PE_ERROR
          : OPAL_EEH_PE_MMIO_ERROR;
    return {
      rc: OPAL_SUCCESS,
      freezeState: (pe.mmioFrozen ? 1 : 0) | (pe.dmaFrozen ? 2 : 0),
      pciErrorType,
      severity: OPAL_EEH_SEV_PE_ER,
    };
  }

  // --- OPAL_PCI_EEH_FREEZE_CLEAR (26) / _SET (97) ---

  /** Clears MMIO (1), DMA (2) or both (3, MMIO first) freeze bits of one PE. */
  *pciEehFreezeClear(phbId: number, peNum: number, action: number): Task<OpalRc> {
    // cf. phb3_eeh_freeze_clear: refused on a broken or fenced PHB.
    return yield* this.freezeAction(
      'fw.freeze_clear',
      phbId,
      peNum,
      action,
      (phb) => phb.dead || phb.fenced,
      (phb, pe, mmio, dma) => {
        if (mmio) phb.thaw(pe, true, false);
        if (dma) phb.thaw(pe, false, true);
      },
    );
  }

  /** Freezes MMIO (1), DMA (2) or both (3) of one PE by software request. */
  *pciEehFreezeSet(phbId: number, peNum: number, action: number): Task<OpalRc> {
    return yield* this.freezeAction(
      'fw.freeze_set',
      phbId,
      peNum,
      action,
      (phb) => phb.dead,
      (phb, pe, mmio, dma) => phb.freezeSet(pe, mmio, dma),
    );
  }

  /** Common checks of FREEZE_CLEAR / FREEZE_SET; action bits 1 = MMIO, 2 = DMA. */
  private *freezeAction(
    event: 'fw.freeze_clear' | 'fw.freeze_set',
    phbId: number,
    peNum: number,
    action: number,
    refused: (phb: Phb) => boolean,
    apply: (phb: Phb, pe: Pe, mmio: boolean, dma: boolean) => void,
  ): Task<OpalRc> {
    yield* this.sim.charge('opal_call_null');
    const phb = this.phbOf(phbId);
    const pe = phb?.pe(peNum);
    let rc: OpalRc = OPAL_PARAMETER;
    if (phb && pe && (action === 1 || action === 2 || action === 3)) {
      yield* this.sim.charge('phb_reg_read');
      if (refused(phb)) rc = OPAL_HARDWARE;
      else {
        apply(
          phb,
          pe,
          (action & OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO) !== 0,
          (action & OPAL_EEH_ACTION_CLEAR_FREEZE_DMA) !== 0,
        );
        rc = OPAL_SUCCESS;
      }
    }
    this.sim.trace.emit(event, { phb: phbId, pe: peNum, action, rc: opalRcName(rc) });
    return rc;
  }

  // --- OPAL_PCI_RESET (49) ---

  /**
   * Asserts or deasserts a reset. OPAL_RESET_PCI_HOT / _FUNDAMENTAL reset
   * one PE; OPAL_RESET_PHB_COMPLETE the whole PHB; OPAL_RESET_PHB_ERROR
   * clears a pending error injection. Deasserting sleeps until the reset has
   * been held the minimum time the PCI specs require (RESET_MIN_HOLD).
   *
   * MODEL: the real call is opal_pci_reset(id, scope, state) without a PE:
   * skiboot resets the PHB or the slot (root port link) the id names, and
   * Linux resets a bus PE below a switch itself, through the parent
   * bridge's secondary bus reset (pnv_eeh_bridge_reset). eehsim adds the PE
   * number and resets exactly that PE. Real OPAL returns a positive delay
   * for the OS to poll with OPAL_PCI_POLL; the sleep here stands for it.
   */
  *pciReset(phbId: number, peNum: number, scope: number, assertState: number): Task<OpalRc> {
    yield* this.sim.charge('opal_call_null');
    const rc = yield* this.reset(phbId, peNum, scope, assertState);
    this.sim.trace.emit('fw.pci_reset', {
      phb: phbId,
      pe: peNum,
      scope,
      assert: assertState,
      rc: opalRcName(rc),
    });
    return rc;
  }

  private *reset(phbId: number, peNum: number, scope: number, state: number): Task<OpalRc> {
    const phb = this.phbOf(phbId);
    if (!phb || (state !== OPAL_ASSERT_RESET && state !== OPAL_DEASSERT_RESET)) {
      return OPAL_PARAMETER;
    }
    const assert = state === OPAL_ASSERT_RESET;
    switch (scope) {
      case OPAL_RESET_PHB_COMPLETE:
        if (phb.dead) return OPAL_HARDWARE;
        if (!assert && !phb.inReset) return OPAL_SUCCESS;
        if (!assert) yield* sleep(RESET_MIN_HOLD.fundamental);
        phb.completeReset(assert);
        return OPAL_SUCCESS;
      case OPAL_RESET_PCI_HOT:
      case OPAL_RESET_PCI_FUNDAMENTAL: {
        const pe = phb.pe(peNum);
        if (!pe || pe === phb.reserved || pe.functions.length === 0) return OPAL_PARAMETER;
        if (phb.dead || phb.fenced) return OPAL_HARDWARE;
        const kind: ResetKind = scope === OPAL_RESET_PCI_HOT ? 'hot' : 'fundamental';
        if (assert) {
          phb.resetPe(pe, kind, true);
          return OPAL_SUCCESS;
        }
        if (!pe.reset) return OPAL_SUCCESS;
        const held = this.sim.now - pe.resetSince;
        yield* sleep(Math.max(0, RESET_MIN_HOLD[pe.reset] - held));
        phb.resetPe(pe, pe.reset, false);
        return OPAL_SUCCESS;
      }
      case OPAL_RESET_PHB_ERROR:
        if (assert) phb.clearTrap();
        return OPAL_SUCCESS;
      default:
        // OPAL_RESET_PCI_LINK has no case in skiboot either. MODEL:
        // OPAL_RESET_PCI_IODA_TABLE (which would wipe the PE setup) too.
        return OPAL_UNSUPPORTED;
    }
  }

  // --- OPAL_PCI_NEXT_ERROR (60) ---

  /** cf. phb3_eeh_next_error: PHB-level errors first, then the first PE with an error pending. */
  *pciNextError(phbId: number): Task<OpalNextError> {
    yield* this.sim.charge('opal_call_null');
    const phb = this.phbOf(phbId);
    let r: OpalNextError = {
      rc: OPAL_PARAMETER,
      firstFrozenPe: -1,
      pciErrorType: OPAL_EEH_NO_ERROR,
      severity: OPAL_EEH_SEV_NO_ERROR,
    };
    if (phb) {
      yield* this.sim.charge('phb_reg_read');
      const pe = phb.nextErrorPe();
      if (phb.dead || phb.fenced) {
        r = {
          rc: OPAL_SUCCESS,
          firstFrozenPe: -1,
          pciErrorType: OPAL_EEH_PHB_ERROR,
          severity: phb.dead ? OPAL_EEH_SEV_PHB_DEAD : OPAL_EEH_SEV_PHB_FENCED,
        };
      } else if (pe) {
        r = {
          rc: OPAL_SUCCESS,
          firstFrozenPe: pe.number,
          pciErrorType: OPAL_EEH_PE_ERROR,
          severity: OPAL_EEH_SEV_PE_ER,
        };
      } else r = { ...r, rc: OPAL_SUCCESS };
    }
    this.sim.trace.emit('fw.next_error', {
      phb: phbId,
      rc: opalRcName(r.rc),
      pe: r.firstFrozenPe,
      type: r.pciErrorType,
      severity: r.severity,
    });
    return r;
  }

  // --- OPAL_PCI_GET_PHB_DIAG_DATA2 (64) ---

  /** Fills `buffer` with the PHB's diag data (layout in uapi/opal.ts). */
  *pciGetPhbDiagData2(phbId: number, buffer: DataView): Task<OpalRc> {
    yield* this.sim.charge('opal_call_null');
    const phb = this.phbOf(phbId);
    let rc: OpalRc = OPAL_PARAMETER;
    let records = 0;
    if (phb && buffer.byteLength >= EEHSIM_DIAG_SIZE) {
      yield* this.sim.charge('phb_reg_read');
      if (phb.dead) rc = OPAL_HARDWARE;
      else {
        const d = phb.diag();
        encodePhbDiag(buffer, d);
        records = Math.min(d.records.length, 16);
        rc = OPAL_SUCCESS;
      }
    }
    this.sim.trace.emit('fw.diag_data', { phb: phbId, rc: opalRcName(rc), records });
    return rc;
  }

  // --- OPAL_PCI_ERR_INJECT (96) ---

  /**
   * Arms the PHB's error injection for `pe` (see firmware/err_inject.ts).
   * The error fires on the next matching access, which then freezes the PE.
   */
  *pciErrInject(
    phbId: number,
    peNum: number,
    type: number,
    func: number,
    addr: bigint,
    mask: bigint,
  ): Task<OpalRc> {
    yield* this.sim.charge('opal_call_null');
    const req = { phbId, peNum, type, func, addr, mask };
    const rc = yield* this.errInject(req);
    this.sim.trace.emit('fw.err_inject', {
      phb: phbId,
      pe: peNum,
      type,
      func,
      addr: `0x${addr.toString(16)}`,
      mask: `0x${mask.toString(16)}`,
      rc: opalRcName(rc),
    });
    return rc;
  }

  private *errInject(r: {
    phbId: number;
    peNum: number;
    type: number;
    func: number;
    addr: bigint;
    mask: bigint;
  }): Task<OpalRc> {
    const phb = this.phbOf(r.phbId);
    // cf. core/pci-opal.c opal_pci_err_inject, then phb3_err_inject.
    if (!phb) return OPAL_PARAMETER;
    if (
      r.type !== OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR &&
      r.type !== OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR64
    ) {
      return OPAL_PARAMETER;
    }
    if (phb.dead) return OPAL_HARDWARE;
    const pe = phb.pe(r.peNum);
    if (!pe || pe === phb.reserved) return OPAL_PARAMETER;
    const info = injectFunc(r.func);
    if (!info) return OPAL_PARAMETER;
    yield* this.sim.charge('phb_reg_read');
    const trap = buildTrap(phb, pe, r.func, info, r.addr, r.mask);
    if (typeof trap === 'number') return trap;
    return phb.armTrap(trap) ? OPAL_SUCCESS : OPAL_UNSUPPORTED;
  }

  private phbOf(id: number): Phb | undefined {
    return Number.isInteger(id) ? this.hw.phb(id) : undefined;
  }
}

function isU(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}
