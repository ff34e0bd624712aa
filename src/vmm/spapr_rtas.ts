/**
 * The VMM's RTAS: the token table (QEMU hw/ppc/spapr_rtas.c
 * spapr_rtas_register / spapr_rtas_call) and the PCI handlers - config
 * access and the six EEH calls (hw/ppc/spapr_pci.c), their VFIO
 * translation (hw/ppc/spapr_pci_vfio.c), and the optional error-injection
 * calls (not in released QEMU).
 *
 * Every handler mirrors QEMU's order of checks: nargs/nret first, then the
 * BUID, then "EEH available on this PHB", then the call's own arguments.
 * A handler never throws: it writes a status into rets[0].
 */

import type { Task } from '../sim/scheduler.js';
import { EEH_ERR_TYPE_32, EEH_ERR_TYPE_64 } from '../uapi/eeh.js';
import { EPERM } from '../uapi/errno.js';
import {
  RTAS_EEH_DISABLE,
  RTAS_EEH_ENABLE,
  RTAS_EEH_PE_RECOVER_INFO,
  RTAS_EEH_PE_UNAVAIL_INFO,
  RTAS_EEH_SUPPORT,
  RTAS_EEH_THAW_DMA,
  RTAS_EEH_THAW_IO,
  RTAS_ERR_TYPE_IOA_BUS_ERROR,
  RTAS_ERR_TYPE_IOA_BUS_ERROR_64,
  RTAS_GET_PE_ADDR,
  RTAS_GET_PE_MODE,
  RTAS_IBM_CLOSE_ERRINJCT,
  RTAS_IBM_CONFIGURE_PE,
  RTAS_IBM_ERRINJCT,
  RTAS_IBM_GET_CONFIG_ADDR_INFO2,
  RTAS_IBM_OPEN_ERRINJCT,
  RTAS_IBM_READ_PCI_CONFIG,
  RTAS_IBM_READ_SLOT_RESET_STATE2,
  RTAS_IBM_SET_EEH_OPTION,
  RTAS_IBM_SET_SLOT_RESET,
  RTAS_IBM_SLOT_ERROR_DETAIL,
  RTAS_IBM_WRITE_PCI_CONFIG,
  RTAS_OUT_ALREADY_OPEN,
  RTAS_OUT_HW_ERROR,
  RTAS_OUT_NO_ERRORS_FOUND,
  RTAS_OUT_NOT_OPEN,
  RTAS_OUT_PARAM_ERROR,
  RTAS_OUT_SUCCESS,
  RTAS_PE_MODE_SHARED,
  RTAS_SLOT_PERM_ERR_LOG,
  RTAS_SLOT_RESET_DEACTIVATE,
  RTAS_SLOT_RESET_FUNDAMENTAL,
  RTAS_SLOT_RESET_HOT,
  RTAS_SLOT_TEMP_ERR_LOG,
} from '../uapi/rtas.js';
import {
  VFIO_EEH_PE_CONFIGURE,
  VFIO_EEH_PE_DISABLE,
  VFIO_EEH_PE_ENABLE,
  VFIO_EEH_PE_GET_STATE,
  VFIO_EEH_PE_INJECT_ERR,
  VFIO_EEH_PE_RESET_DEACTIVATE,
  VFIO_EEH_PE_RESET_FUNDAMENTAL,
  VFIO_EEH_PE_RESET_HOT,
  VFIO_EEH_PE_STATE_NORMAL,
  VFIO_EEH_PE_UNFREEZE_DMA,
  VFIO_EEH_PE_UNFREEZE_IO,
} from '../uapi/vfio.js';
import type { VmmGuestMemory } from './guest_memory.js';
import type { PassthroughDevice, SpaprPhb } from './spapr_pci.js';
import type { EehErr } from './vfio_user.js';

/** One RTAS call as spapr_rtas_call() passes it to a handler. */
export interface RtasCall {
  readonly token: number;
  readonly nargs: number;
  readonly nret: number;
  /** Guest-physical address of args[0] and rets[0]. */
  readonly args: bigint;
  readonly rets: bigint;
}

/** What the PCI RTAS handlers need from the machine. */
export interface SpaprRtasMachine {
  readonly mem: VmmGuestMemory;
  findPhb(buid: bigint): SpaprPhb | undefined;
  /** spapr_pci_find_dev() */
  findDevice(buid: bigint, configAddr: number): PassthroughDevice | undefined;
  /** ibm,get-config-addr-info2's PE address of a function (QEMU: (bus << 16) + 1). */
  peAddress(phb: SpaprPhb, dev: PassthroughDevice): number;
  /** vfio_eeh_as_op(): the ioctl's return (>= 0) or -errno. */
  eehOp(phb: SpaprPhb, op: number, err?: EehErr): Task<number>;
  /** Error-injection session (2025 RFC): the open token, or undefined. */
  errinjctToken: number | undefined;
  readonly options: {
    readonly rtasErrinjct: boolean;
    readonly slotErrorDetailLog: boolean;
  };
}

export type RtasHandler = (m: SpaprRtasMachine, call: RtasCall) => Task<void>;

export interface RtasEntry {
  readonly name: string;
  readonly fn: RtasHandler;
}

/** rtas_table[]: token -> handler. */
export class SpaprRtasTable {
  private readonly table = new Map<number, RtasEntry>();

  register(token: number, name: string, fn: RtasHandler): void {
    this.table.set(token, { name, fn });
  }

  lookup(token: number): RtasEntry | undefined {
    return this.table.get(token);
  }

  /** spapr_dt_rtas_tokens(): name -> token of every registered call. */
  tokens(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [token, e] of [...this.table].sort((a, b) => a[0] - b[0])) out[e.name] = token;
    return out;
  }
}

// ---- helpers (rtas_ld / rtas_ldq / rtas_st) -------------------------------------

const ld = (m: SpaprRtasMachine, c: RtasCall, n: number): number =>
  m.mem.ldl(c.args + BigInt(4 * n));
const ldq = (m: SpaprRtasMachine, c: RtasCall, n: number): bigint =>
  (BigInt(ld(m, c, n)) << 32n) | BigInt(ld(m, c, n + 1));
const st = (m: SpaprRtasMachine, c: RtasCall, n: number, v: number): void =>
  m.mem.stl(c.rets + BigInt(4 * n), v);

/** rtas_pci_cfgaddr(): extended config space addresses carry register bits 8..11 in bits 28..31. */
export const rtasPciCfgaddr = (arg: number): number => ((arg >>> 20) & 0xf00) | (arg & 0xff);

// ---- config space (spapr_pci.c finish_read_pci_config / finish_write_pci_config) ----

/**
 * The checks finish_read_pci_config() and finish_write_pci_config() share:
 * the access size, the device, the register's alignment and range. On
 * failure rets[0] = RTAS_OUT_HW_ERROR and undefined.
 */
function configTarget(
  m: SpaprRtasMachine,
  c: RtasCall,
  buid: bigint,
  addr: number,
  size: number,
): { dev: PassthroughDevice; reg: number; size: 1 | 2 | 4 } | undefined {
  if (size !== 1 && size !== 2 && size !== 4) {
    st(m, c, 0, RTAS_OUT_HW_ERROR);
    return undefined;
  }
  const dev = m.findDevice(buid, addr);
  const reg = rtasPciCfgaddr(addr);
  if (!dev || reg % size || reg >= dev.configSize) {
    st(m, c, 0, RTAS_OUT_HW_ERROR);
    return undefined;
  }
  return { dev, reg, size };
}

function* finishReadPciConfig(
  m: SpaprRtasMachine,
  c: RtasCall,
  buid: bigint,
  addr: number,
  size: number,
): Task<void> {
  const t = configTarget(m, c, buid, addr, size);
  if (!t) return;
  const r = yield* t.dev.configRead(t.reg, t.size);
  // MODEL: a failed pread() of the VFIO config region is a hardware error
  // (QEMU's vfio_pci_read_config() returns -errno as the value).
  if (r.rc !== 0 || r.value === undefined) {
    st(m, c, 0, RTAS_OUT_HW_ERROR);
    return;
  }
  st(m, c, 0, RTAS_OUT_SUCCESS);
  st(m, c, 1, r.value);
}

function* rtasIbmReadPciConfig(m: SpaprRtasMachine, c: RtasCall): Task<void> {
  if (c.nargs !== 4 || c.nret !== 2) {
    st(m, c, 0, RTAS_OUT_HW_ERROR);
    return;
  }
  yield* finishReadPciConfig(m, c, ldq(m, c, 1), ld(m, c, 0), ld(m, c, 3));
}

function* rtasIbmWritePciConfig(m: SpaprRtasMachine, c: RtasCall): Task<void> {
  if (c.nargs !== 5 || c.nret !== 1) {
    st(m, c, 0, RTAS_OUT_HW_ERROR);
    return;
  }
  const buid = ldq(m, c, 1);
  const val = ld(m, c, 4);
  const size = ld(m, c, 3);
  const addr = ld(m, c, 0);
  const t = configTarget(m, c, buid, addr, size);
  if (!t) return;
  // MODEL: a failed pwrite() is reported as a hardware error (QEMU only logs it).
  const rc = yield* t.dev.configWrite(t.reg, t.size, val);
  st(m, c, 0, rc === 0 ? RTAS_OUT_SUCCESS : RTAS_OUT_HW_ERROR);
}

// ---- EEH (spapr_pci.c rtas_ibm_* + spapr_pci_vfio.c spapr_phb_vfio_eeh_*) -------

/**
 * spapr_pci_find_phb() + spapr_phb_eeh_available(): the PHB of `buid` when
 * it has EEH; else rets[0] = RTAS_OUT_PARAM_ERROR and undefined.
 */
function eehPhbOf(m: SpaprRtasMachine, c: RtasCall, buid: bigint): SpaprPhb | undefined {
  const phb = m.findPhb(buid);
  if (!phb?.eehAvailable) {
    st(m, c, 0, RTAS_OUT_PARAM_ERROR);
    return undefined;
  }
  return phb;
}

/**
 * The opening of every rtas_ibm_* EEH handler: the nargs/nret check
 * (`countsOk`), then the PHB of the BUID in args 1-2 with EEH available.
 * On failure rets[0] = RTAS_OUT_PARAM_ERROR and undefined.
 */
function eehPhb(m: SpaprRtasMachine, c: RtasCall, countsOk: boolean): SpaprPhb | undefined {
  if (!countsOk) {
    st(m, c, 0, RTAS_OUT_PARAM_ERROR);
    return undefined;
  }
  return eehPhbOf(m, c, ldq(m, c, 1));
}

/** spapr_phb_vfio_eeh_set_option() */
function* vfioEehSetOption(
  m: SpaprRtasMachine,
  phb: SpaprPhb,
  addr: number,
  option: number,
): Task<number> {
  let op: number;
  switch (option) {
    case RTAS_EEH_DISABLE:
      op = VFIO_EEH_PE_DISABLE;
      break;
    case RTAS_EEH_ENABLE:
      // EEH is enabled per PHB; only check that a vfio-pci device sits on
      // the bus named by the address (older guests pass a device address).
      if (!phb.hasVfioDeviceOnBus((addr >>> 16) & 0xff)) return RTAS_OUT_PARAM_ERROR;
      op = VFIO_EEH_PE_ENABLE;
      break;
    case RTAS_EEH_THAW_IO:
      op = VFIO_EEH_PE_UNFREEZE_IO;
      break;
    case RTAS_EEH_THAW_DMA:
      op = VFIO_EEH_PE_UNFREEZE_DMA;
      break;
    default:
      return RTAS_OUT_PARAM_ERROR;
  }
  const ret = yield* m.eehOp(phb, op);
  return ret < 0 ? RTAS_OUT_HW_ERROR : RTAS_OUT_SUCCESS;
}

function* rtasIbmSetEehOption(m: SpaprRtasMachine, c: RtasCall): Task<void> {
  const phb = eehPhb(m, c, c.nargs === 4 && c.nret === 1);
  if (!phb) return;
  const addr = ld(m, c, 0);
  const option = ld(m, c, 3);
  st(m, c, 0, yield* vfioEehSetOption(m, phb, addr, option));
}

function* rtasIbmGetConfigAddrInfo2(m: SpaprRtasMachine, c: RtasCall): Task<void> {
  const phb = eehPhb(m, c, c.nargs === 4 && c.nret === 2);
  if (!phb) return;
  const buid = ldq(m, c, 1);
  // "We always have PE address of form 00BB0001. BB represents the bus number of PE's primary bus."
  switch (ld(m, c, 3)) {
    case RTAS_GET_PE_ADDR: {
      const dev = m.findDevice(buid, ld(m, c, 0));
      if (!dev) {
        st(m, c, 0, RTAS_OUT_PARAM_ERROR);
        return;
      }
      st(m, c, 1, m.peAddress(phb, dev));
      break;
    }
    case RTAS_GET_PE_MODE:
      st(m, c, 1, RTAS_PE_MODE_SHARED);
      break;
    default:
      st(m, c, 0, RTAS_OUT_PARAM_ERROR);
      return;
  }
  st(m, c, 0, RTAS_OUT_SUCCESS);
}

function* rtasIbmReadSlotResetState2(m: SpaprRtasMachine, c: RtasCall): Task<void> {
  const phb = eehPhb(m, c, c.nargs === 3 && (c.nret === 4 || c.nret === 5));
  if (!phb) return;
  // spapr_phb_vfio_eeh_get_state(): the state is the ioctl's return value.
  const state = yield* m.eehOp(phb, VFIO_EEH_PE_GET_STATE);
  if (state < 0) {
    st(m, c, 0, RTAS_OUT_PARAM_ERROR);
    return;
  }
  st(m, c, 0, RTAS_OUT_SUCCESS);
  st(m, c, 1, state);
  st(m, c, 2, RTAS_EEH_SUPPORT);
  st(m, c, 3, RTAS_EEH_PE_UNAVAIL_INFO);
  if (c.nret >= 5) st(m, c, 4, RTAS_EEH_PE_RECOVER_INFO);
}

function* rtasIbmSetSlotReset(
  m: SpaprRtasMachine,
  c: RtasCall,
  preReset: (phb: SpaprPhb) => Task<void>,
): Task<void> {
  const phb = eehPhb(m, c, c.nargs === 4 && c.nret === 1);
  if (!phb) return;
  const option = ld(m, c, 3);
  // spapr_phb_vfio_eeh_reset()
  let op: number;
  switch (option) {
    case RTAS_SLOT_RESET_DEACTIVATE:
      op = VFIO_EEH_PE_RESET_DEACTIVATE;
      break;
    case RTAS_SLOT_RESET_HOT:
      yield* preReset(phb);
      op = VFIO_EEH_PE_RESET_HOT;
      break;
    case RTAS_SLOT_RESET_FUNDAMENTAL:
      yield* preReset(phb);
      op = VFIO_EEH_PE_RESET_FUNDAMENTAL;
      break;
    default:
      st(m, c, 0, RTAS_OUT_PARAM_ERROR);
      return;
  }
  const ret = yield* m.eehOp(phb, op);
  st(m, c, 0, ret < 0 ? RTAS_OUT_HW_ERROR : RTAS_OUT_SUCCESS);
}

function* rtasIbmConfigurePe(m: SpaprRtasMachine, c: RtasCall): Task<void> {
  const phb = eehPhb(m, c, c.nargs === 3 && c.nret === 1);
  if (!phb) return;
  const ret = yield* m.eehOp(phb, VFIO_EEH_PE_CONFIGURE);
  st(m, c, 0, ret < 0 ? RTAS_OUT_PARAM_ERROR : RTAS_OUT_SUCCESS);
}

/** asm/rtas.h rtas_error_log byte fields used by the optional log. */
const RTAS_SEVERITY_ERROR = 0x4;
const RTAS_SEVERITY_FATAL = 0x5;
const RTAS_DISP_NOT_RECOVERED = 0x2;
const RTAS_INITIATOR_PCI = 0x2;
const RTAS_TARGET_PCI = 0x2;
const RTAS_TYPE_INTERN_DEV_FAIL = 0x03;

function* rtasIbmSlotErrorDetail(m: SpaprRtasMachine, c: RtasCall): Task<void> {
  const phb = eehPhb(m, c, c.nargs === 8 && c.nret === 1);
  if (!phb) return;
  const severity = ld(m, c, 7);
  if (severity !== RTAS_SLOT_TEMP_ERR_LOG && severity !== RTAS_SLOT_PERM_ERR_LOG) {
    st(m, c, 0, RTAS_OUT_PARAM_ERROR);
    return;
  }
  if (m.options.slotErrorDetailLog) {
    // OPTION (not QEMU, default off): when the PE is not normal, return a
    // minimal PAPR error log - only the 8-byte rtas_error_log header
    // (version 6, severity, not recovered, PCI initiator/target, no
    // extended log) - in the rtas-log buffer (args 5, 6). MODEL: the VMM
    // has no access to the host PHB's diagnostic data through VFIO.
    const state = yield* m.eehOp(phb, VFIO_EEH_PE_GET_STATE);
    const logAddr = ld(m, c, 5);
    const logLen = ld(m, c, 6);
    if (state > VFIO_EEH_PE_STATE_NORMAL && logLen >= 8 && m.mem.contains(logAddr, 8)) {
      const sev = severity === RTAS_SLOT_PERM_ERR_LOG ? RTAS_SEVERITY_FATAL : RTAS_SEVERITY_ERROR;
      const hdr = new Uint8Array([
        6,
        (sev << 5) | (RTAS_DISP_NOT_RECOVERED << 3),
        (RTAS_INITIATOR_PCI << 4) | RTAS_TARGET_PCI,
        RTAS_TYPE_INTERN_DEV_FAIL,
        0,
        0,
        0,
        0,
      ]);
      m.mem.write(logAddr, hdr);
      st(m, c, 0, RTAS_OUT_SUCCESS);
      return;
    }
  }
  // "We don't have error log yet"
  st(m, c, 0, RTAS_OUT_NO_ERRORS_FOUND);
}

// ---- error injection (OPTION: the October 2025 RFC series, not in released QEMU) ----

/** The one open session's token (any non-zero value; MODEL: always 1). */
const ERRINJCT_SESSION = 1;

function* rtasIbmOpenErrinjct(m: SpaprRtasMachine, c: RtasCall): Task<void> {
  // rets: open token, status (the status is the *second* word).
  if (c.nargs !== 0 || c.nret !== 2) {
    st(m, c, 1, RTAS_OUT_PARAM_ERROR);
    return;
  }
  if (m.errinjctToken !== undefined) {
    st(m, c, 0, 0);
    st(m, c, 1, RTAS_OUT_ALREADY_OPEN);
    return;
  }
  m.errinjctToken = ERRINJCT_SESSION;
  st(m, c, 0, ERRINJCT_SESSION);
  st(m, c, 1, RTAS_OUT_SUCCESS);
}

function* rtasIbmCloseErrinjct(m: SpaprRtasMachine, c: RtasCall): Task<void> {
  if (c.nargs !== 1 || c.nret !== 1) {
    st(m, c, 0, RTAS_OUT_PARAM_ERROR);
    return;
  }
  if (m.errinjctToken === undefined || ld(m, c, 0) !== m.errinjctToken) {
    st(m, c, 0, RTAS_OUT_NOT_OPEN);
    return;
  }
  m.errinjctToken = undefined;
  st(m, c, 0, RTAS_OUT_SUCCESS);
}

/**
 * ibm,errinjct for the IOA bus error types. Work buffer (big-endian words,
 * as powerpc-utils errinjct/ioa_bus_error.c fills it): 32-bit: addr, mask,
 * config_addr, BUID hi, BUID lo, function; 64-bit: addr hi/lo, mask hi/lo,
 * config_addr, BUID hi, BUID lo, function. Translated to
 * VFIO_EEH_PE_INJECT_ERR on the PHB's container.
 */
function* rtasIbmErrinjct(m: SpaprRtasMachine, c: RtasCall): Task<void> {
  if (c.nargs !== 3 || c.nret !== 1) {
    st(m, c, 0, RTAS_OUT_PARAM_ERROR);
    return;
  }
  const type = ld(m, c, 0);
  if (m.errinjctToken === undefined || ld(m, c, 1) !== m.errinjctToken) {
    st(m, c, 0, RTAS_OUT_NOT_OPEN);
    return;
  }
  if (type !== RTAS_ERR_TYPE_IOA_BUS_ERROR && type !== RTAS_ERR_TYPE_IOA_BUS_ERROR_64) {
    st(m, c, 0, RTAS_OUT_PARAM_ERROR);
    return;
  }
  const wb = BigInt(ld(m, c, 2));
  const w = (i: number) => m.mem.ldl(wb + BigInt(4 * i));
  const is64 = type === RTAS_ERR_TYPE_IOA_BUS_ERROR_64;
  const addr = is64 ? (BigInt(w(0)) << 32n) | BigInt(w(1)) : BigInt(w(0));
  const mask = is64 ? (BigInt(w(2)) << 32n) | BigInt(w(3)) : BigInt(w(1));
  const o = is64 ? 4 : 2;
  const buid = (BigInt(w(o + 1)) << 32n) | BigInt(w(o + 2));
  const func = w(o + 3);
  const phb = eehPhbOf(m, c, buid);
  if (!phb) return;
  const ret = yield* m.eehOp(phb, VFIO_EEH_PE_INJECT_ERR, {
    type: is64 ? EEH_ERR_TYPE_64 : EEH_ERR_TYPE_32,
    func,
    addr,
    mask,
  });
  st(m, c, 0, ret < 0 ? RTAS_OUT_HW_ERROR : RTAS_OUT_SUCCESS);
}

/**
 * Registers the PCI RTAS calls (spapr_pci.c type init: config access and
 * the six EEH calls, always; error injection only with the option).
 */
export function registerPciRtas(
  table: SpaprRtasTable,
  preReset: (phb: SpaprPhb) => Task<void>,
  opts: { readonly rtasErrinjct: boolean },
): void {
  table.register(RTAS_IBM_READ_PCI_CONFIG, 'ibm,read-pci-config', rtasIbmReadPciConfig);
  table.register(RTAS_IBM_WRITE_PCI_CONFIG, 'ibm,write-pci-config', rtasIbmWritePciConfig);
  table.register(RTAS_IBM_SET_EEH_OPTION, 'ibm,set-eeh-option', rtasIbmSetEehOption);
  table.register(
    RTAS_IBM_GET_CONFIG_ADDR_INFO2,
    'ibm,get-config-addr-info2',
    rtasIbmGetConfigAddrInfo2,
  );
  table.register(
    RTAS_IBM_READ_SLOT_RESET_STATE2,
    'ibm,read-slot-reset-state2',
    rtasIbmReadSlotResetState2,
  );
  table.register(RTAS_IBM_SET_SLOT_RESET, 'ibm,set-slot-reset', (m, c) =>
    rtasIbmSetSlotReset(m, c, preReset),
  );
  table.register(RTAS_IBM_CONFIGURE_PE, 'ibm,configure-pe', rtasIbmConfigurePe);
  table.register(RTAS_IBM_SLOT_ERROR_DETAIL, 'ibm,slot-error-detail', rtasIbmSlotErrorDetail);
  if (opts.rtasErrinjct) {
    table.register(RTAS_IBM_OPEN_ERRINJCT, 'ibm,open-errinjct', rtasIbmOpenErrinjct);
    table.register(RTAS_IBM_ERRINJCT, 'ibm,errinjct', rtasIbmErrinjct);
    table.register(RTAS_IBM_CLOSE_ERRINJCT, 'ibm,close-errinjct', rtasIbmCloseErrinjct);
  }
}

/** QEMU vfio_eeh_container_op()'s refusal of a container without exactly one group. */
export const EEH_CONTAINER_NOT_OK = -EPERM;
