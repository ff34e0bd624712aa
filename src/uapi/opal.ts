/**
 * The OPAL firmware ABI used by eehsim: call tokens, return codes and the EEH
 * enumerations, spelled and numbered as in skiboot include/opal-api.h, plus
 * the byte layout of the PHB diag-data blob (OPAL_PCI_GET_PHB_DIAG_DATA2).
 */

// --- Return codes (cf. skiboot include/opal-api.h) ---
export const OPAL_SUCCESS = 0;
export const OPAL_PARAMETER = -1;
export const OPAL_BUSY = -2;
export const OPAL_PARTIAL = -3;
export const OPAL_CONSTRAINED = -4;
export const OPAL_CLOSED = -5;
export const OPAL_HARDWARE = -6;
export const OPAL_UNSUPPORTED = -7;
export const OPAL_PERMISSION = -8;
export const OPAL_NO_MEM = -9;
export const OPAL_RESOURCE = -10;
export const OPAL_INTERNAL_ERROR = -11;
export const OPAL_BUSY_EVENT = -12;
export const OPAL_HARDWARE_FROZEN = -13;
export const OPAL_WRONG_STATE = -14;
export const OPAL_ASYNC_COMPLETION = -15;
export const OPAL_EMPTY = -16;

/** An OPAL return code (OPAL_SUCCESS or a negative error). */
export type OpalRc = number;

const RC_NAMES: Readonly<Record<number, string>> = {
  [OPAL_SUCCESS]: 'OPAL_SUCCESS',
  [OPAL_PARAMETER]: 'OPAL_PARAMETER',
  [OPAL_BUSY]: 'OPAL_BUSY',
  [OPAL_PARTIAL]: 'OPAL_PARTIAL',
  [OPAL_CONSTRAINED]: 'OPAL_CONSTRAINED',
  [OPAL_CLOSED]: 'OPAL_CLOSED',
  [OPAL_HARDWARE]: 'OPAL_HARDWARE',
  [OPAL_UNSUPPORTED]: 'OPAL_UNSUPPORTED',
  [OPAL_PERMISSION]: 'OPAL_PERMISSION',
  [OPAL_NO_MEM]: 'OPAL_NO_MEM',
  [OPAL_RESOURCE]: 'OPAL_RESOURCE',
  [OPAL_INTERNAL_ERROR]: 'OPAL_INTERNAL_ERROR',
  [OPAL_BUSY_EVENT]: 'OPAL_BUSY_EVENT',
  [OPAL_HARDWARE_FROZEN]: 'OPAL_HARDWARE_FROZEN',
  [OPAL_WRONG_STATE]: 'OPAL_WRONG_STATE',
  [OPAL_ASYNC_COMPLETION]: 'OPAL_ASYNC_COMPLETION',
  [OPAL_EMPTY]: 'OPAL_EMPTY',
};

/** `OPAL_PARAMETER`-style name of a return code (for traces and reports). */
export function opalRcName(rc: OpalRc): string {
  return RC_NAMES[rc] ?? `OPAL_RC(${rc})`;
}

// --- Call tokens used by eehsim (cf. skiboot include/opal-api.h) ---
export const OPAL_PCI_CONFIG_READ_BYTE = 13;
export const OPAL_PCI_CONFIG_READ_HALF_WORD = 14;
export const OPAL_PCI_CONFIG_READ_WORD = 15;
export const OPAL_PCI_CONFIG_WRITE_BYTE = 16;
export const OPAL_PCI_CONFIG_WRITE_HALF_WORD = 17;
export const OPAL_PCI_CONFIG_WRITE_WORD = 18;
export const OPAL_PCI_EEH_FREEZE_STATUS = 23;
export const OPAL_PCI_EEH_FREEZE_CLEAR = 26;
export const OPAL_PCI_RESET = 49;
export const OPAL_PCI_NEXT_ERROR = 60;
export const OPAL_PCI_EEH_FREEZE_STATUS2 = 61;
export const OPAL_PCI_GET_PHB_DIAG_DATA2 = 64;
export const OPAL_PCI_ERR_INJECT = 96;
export const OPAL_PCI_EEH_FREEZE_SET = 97;

// --- enum OpalFreezeState ---
export const OPAL_EEH_STOPPED_NOT_FROZEN = 0;
export const OPAL_EEH_STOPPED_MMIO_FREEZE = 1;
export const OPAL_EEH_STOPPED_DMA_FREEZE = 2;
export const OPAL_EEH_STOPPED_MMIO_DMA_FREEZE = 3;
export const OPAL_EEH_STOPPED_RESET = 4;
export const OPAL_EEH_STOPPED_TEMP_UNAVAIL = 5;
export const OPAL_EEH_STOPPED_PERM_UNAVAIL = 6;

// --- enum OpalEehFreezeActionToken ---
export const OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO = 1;
export const OPAL_EEH_ACTION_CLEAR_FREEZE_DMA = 2;
export const OPAL_EEH_ACTION_CLEAR_FREEZE_ALL = 3;
export const OPAL_EEH_ACTION_SET_FREEZE_MMIO = 1;
export const OPAL_EEH_ACTION_SET_FREEZE_DMA = 2;
export const OPAL_EEH_ACTION_SET_FREEZE_ALL = 3;

// --- enum OpalPciStatusToken (PCI error type) ---
export const OPAL_EEH_NO_ERROR = 0;
export const OPAL_EEH_IOC_ERROR = 1;
export const OPAL_EEH_PHB_ERROR = 2;
export const OPAL_EEH_PE_ERROR = 3;
export const OPAL_EEH_PE_MMIO_ERROR = 4;
export const OPAL_EEH_PE_DMA_ERROR = 5;

// --- enum OpalPciErrorSeverity ---
export const OPAL_EEH_SEV_NO_ERROR = 0;
export const OPAL_EEH_SEV_IOC_DEAD = 1;
export const OPAL_EEH_SEV_PHB_DEAD = 2;
export const OPAL_EEH_SEV_PHB_FENCED = 3;
export const OPAL_EEH_SEV_PE_ER = 4;
export const OPAL_EEH_SEV_INF = 5;

// --- enum OpalErrinjectType ---
export const OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR = 0;
export const OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR64 = 1;

// --- enum OpalErrinjectFunc ---
export const OPAL_ERR_INJECT_FUNC_IOA_LD_MEM_ADDR = 0;
export const OPAL_ERR_INJECT_FUNC_IOA_LD_MEM_DATA = 1;
export const OPAL_ERR_INJECT_FUNC_IOA_LD_IO_ADDR = 2;
export const OPAL_ERR_INJECT_FUNC_IOA_LD_IO_DATA = 3;
export const OPAL_ERR_INJECT_FUNC_IOA_LD_CFG_ADDR = 4;
export const OPAL_ERR_INJECT_FUNC_IOA_LD_CFG_DATA = 5;
export const OPAL_ERR_INJECT_FUNC_IOA_ST_MEM_ADDR = 6;
export const OPAL_ERR_INJECT_FUNC_IOA_ST_MEM_DATA = 7;
export const OPAL_ERR_INJECT_FUNC_IOA_ST_IO_ADDR = 8;
export const OPAL_ERR_INJECT_FUNC_IOA_ST_IO_DATA = 9;
export const OPAL_ERR_INJECT_FUNC_IOA_ST_CFG_ADDR = 10;
export const OPAL_ERR_INJECT_FUNC_IOA_ST_CFG_DATA = 11;
export const OPAL_ERR_INJECT_FUNC_IOA_DMA_RD_ADDR = 12;
export const OPAL_ERR_INJECT_FUNC_IOA_DMA_RD_DATA = 13;
export const OPAL_ERR_INJECT_FUNC_IOA_DMA_RD_MASTER = 14;
export const OPAL_ERR_INJECT_FUNC_IOA_DMA_RD_TARGET = 15;
export const OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_ADDR = 16;
export const OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_DATA = 17;
export const OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_MASTER = 18;
export const OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_TARGET = 19;
export const OPAL_ERR_INJECT_FUNC_MAX = OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_TARGET;

// --- enum OpalPciResetScope / OpalPciResetState ---
export const OPAL_RESET_PHB_COMPLETE = 1;
export const OPAL_RESET_PCI_LINK = 2;
export const OPAL_RESET_PHB_ERROR = 3;
export const OPAL_RESET_PCI_HOT = 4;
export const OPAL_RESET_PCI_FUNDAMENTAL = 5;
export const OPAL_RESET_PCI_IODA_TABLE = 6;
export const OPAL_DEASSERT_RESET = 0;
export const OPAL_ASSERT_RESET = 1;

// --- PHB diag data (OPAL_PCI_GET_PHB_DIAG_DATA2) ---
export const OPAL_PHB_ERROR_DATA_VERSION_1 = 1;
export const OPAL_PHB_ERROR_DATA_TYPE_P7IOC = 1;
export const OPAL_PHB_ERROR_DATA_TYPE_PHB3 = 2;
export const OPAL_PHB_ERROR_DATA_TYPE_PHB4 = 3;

/*
 * MODEL: skiboot fills `struct OpalIoPhb3ErrorData` / `OpalIoPhb4ErrorData`
 * (a dump of the PHB's error registers and all PEST entries, ~4-8 KiB) after
 * the common header. eehsim keeps the real common header
 * `struct OpalIoPhbErrorCommon { be32 version; be32 ioType; be32 len; }` and
 * puts its error log after it, so a reader sees what happened, when, where
 * and to which PE:
 *
 *   0x00 be32 version   0x04 be32 ioType   0x08 be32 len
 *   0x0c be32 phb_flags (EEHSIM_DIAG_PHB_*)
 *   0x10 be32 nr_records (<= EEHSIM_DIAG_MAX_RECORDS, oldest first)
 *   0x14 be32 total_errors (errors logged since the last PHB reset)
 *   0x18 be64 timestamp (virtual ns when the data was captured)
 *   0x20 records[nr_records], EEHSIM_DIAG_RECORD_SIZE bytes each:
 *        +0x00 be64 t   +0x08 be64 address   +0x10 be32 pe (0xffffffff: PHB)
 *        +0x14 be32 bdf (0xffffffff: none)   +0x18 u8 source  +0x19 u8 dir
 *        +0x1a u8 kind  +0x1b u8 reserved    +0x1c be32 seq
 */
export const EEHSIM_DIAG_HEADER_SIZE = 0x20;
export const EEHSIM_DIAG_RECORD_SIZE = 0x20;
export const EEHSIM_DIAG_MAX_RECORDS = 16;
export const EEHSIM_DIAG_SIZE =
  EEHSIM_DIAG_HEADER_SIZE + EEHSIM_DIAG_MAX_RECORDS * EEHSIM_DIAG_RECORD_SIZE;
export const EEHSIM_DIAG_PHB_FENCED = 1 << 0;
export const EEHSIM_DIAG_PHB_DEAD = 1 << 1;
export const EEHSIM_DIAG_NONE = 0xffff_ffff;

/** Where an error was seen (diag record `source`). */
export const DIAG_SOURCES = ['phb', 'mmio', 'config', 'dma'] as const;
export type DiagSource = (typeof DIAG_SOURCES)[number];
/** Direction of the failing access (`load`/`store` from the CPU, `read`/`write` of memory by DMA). */
export const DIAG_DIRS = ['none', 'load', 'store', 'read', 'write'] as const;
export type DiagDir = (typeof DIAG_DIRS)[number];
/** What went wrong (diag record `kind`). */
export const DIAG_KINDS = [
  'none',
  'tce_invalid', // DMA to an IOVA without a valid TCE
  'tce_permission', // TCE lacks the read/write permission the DMA needs
  'dma_window', // IOVA outside the PE's DMA window (or no window)
  'mmio_unclaimed', // MMIO in a PE's segment that no BAR decodes (UR)
  'rid_unmapped', // DMA from a requester ID mapped to no PE
  'injected_addr', // error injection, address error
  'injected_data', // error injection, data error
  'injected_master_abort',
  'injected_target_abort',
  'fence', // PHB fenced
] as const;
export type DiagKind = (typeof DIAG_KINDS)[number];

export interface DiagRecord {
  readonly seq: number;
  readonly t: number;
  readonly pe: number | undefined;
  readonly bdf: number | undefined;
  readonly address: number;
  readonly source: DiagSource;
  readonly dir: DiagDir;
  readonly kind: DiagKind;
}

export interface PhbDiagData {
  readonly version: number;
  readonly ioType: number;
  readonly len: number;
  readonly fenced: boolean;
  readonly dead: boolean;
  readonly totalErrors: number;
  readonly timestamp: number;
  readonly records: readonly DiagRecord[];
}

/** Writes `d` into `view` (which must hold EEHSIM_DIAG_SIZE bytes). */
export function encodePhbDiag(view: DataView, d: Omit<PhbDiagData, 'version' | 'len'>): void {
  const records = d.records.slice(-EEHSIM_DIAG_MAX_RECORDS);
  new Uint8Array(view.buffer, view.byteOffset, EEHSIM_DIAG_SIZE).fill(0);
  view.setUint32(0x00, OPAL_PHB_ERROR_DATA_VERSION_1);
  view.setUint32(0x04, d.ioType);
  view.setUint32(0x08, EEHSIM_DIAG_SIZE);
  view.setUint32(
    0x0c,
    (d.fenced ? EEHSIM_DIAG_PHB_FENCED : 0) | (d.dead ? EEHSIM_DIAG_PHB_DEAD : 0),
  );
  view.setUint32(0x10, records.length);
  view.setUint32(0x14, d.totalErrors);
  view.setBigUint64(0x18, BigInt(d.timestamp));
  records.forEach((r, i) => {
    const o = EEHSIM_DIAG_HEADER_SIZE + i * EEHSIM_DIAG_RECORD_SIZE;
    view.setBigUint64(o, BigInt(r.t));
    view.setBigUint64(o + 0x08, BigInt(r.address));
    view.setUint32(o + 0x10, r.pe ?? EEHSIM_DIAG_NONE);
    view.setUint32(o + 0x14, r.bdf ?? EEHSIM_DIAG_NONE);
    view.setUint8(o + 0x18, DIAG_SOURCES.indexOf(r.source));
    view.setUint8(o + 0x19, DIAG_DIRS.indexOf(r.dir));
    view.setUint8(o + 0x1a, DIAG_KINDS.indexOf(r.kind));
    view.setUint32(o + 0x1c, r.seq);
  });
}

/** Reads a diag blob written by `encodePhbDiag` (the host's side of the ABI). */
export function decodePhbDiag(view: DataView): PhbDiagData {
  const flags = view.getUint32(0x0c);
  const n = Math.min(view.getUint32(0x10), EEHSIM_DIAG_MAX_RECORDS);
  const optional = (v: number): number | undefined => (v === EEHSIM_DIAG_NONE ? undefined : v);
  const records: DiagRecord[] = [];
  for (let i = 0; i < n; i++) {
    const o = EEHSIM_DIAG_HEADER_SIZE + i * EEHSIM_DIAG_RECORD_SIZE;
    records.push({
      t: Number(view.getBigUint64(o)),
      address: Number(view.getBigUint64(o + 0x08)),
      pe: optional(view.getUint32(o + 0x10)),
      bdf: optional(view.getUint32(o + 0x14)),
      source: DIAG_SOURCES[view.getUint8(o + 0x18)] ?? 'phb',
      dir: DIAG_DIRS[view.getUint8(o + 0x19)] ?? 'none',
      kind: DIAG_KINDS[view.getUint8(o + 0x1a)] ?? 'none',
      seq: view.getUint32(o + 0x1c),
    });
  }
  return {
    version: view.getUint32(0x00),
    ioType: view.getUint32(0x04),
    len: view.getUint32(0x08),
    fenced: (flags & EEHSIM_DIAG_PHB_FENCED) !== 0,
    dead: (flags & EEHSIM_DIAG_PHB_DEAD) !== 0,
    totalErrors: view.getUint32(0x14),
    timestamp: Number(view.getBigUint64(0x18)),
    records,
  };
}
