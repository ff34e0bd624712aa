/**
 * PAPR RTAS as a KVM guest sees it: the big-endian argument buffer, QEMU's
 * token numbers, the EEH calls' argument counts, options and status codes.
 *
 * Sources: PAPR (LoPAPR) for the calls; QEMU include/hw/ppc/spapr.h for the
 * token numbers and named constants (RTAS_*), hw/ppc/spapr_pci.c for the
 * nargs/nret checks; Linux arch/powerpc/kvm/book3s_rtas.c for what KVM does
 * with the buffer, arch/powerpc/include/asm/rtas-types.h for `struct
 * rtas_args`, arch/powerpc/platforms/pseries/eeh_pseries.c for the guest side.
 *
 * Not a Linux uapi header, so not part of the C ABI test; test/uapi/rtas.test.ts
 * checks these values against the upstream text quoted in the comments.
 *
 * The buffer (PAPR "RTAS argument call buffer"), all 32-bit big-endian words:
 *
 *     word 0: token   word 1: nargs   word 2: nret
 *     words 3 .. 3+nargs-1: input arguments      (QEMU: rtas_ld(args, i))
 *     words 3+nargs .. 3+nargs+nret-1: results   (QEMU: rtas_st(rets, i, v))
 *
 * i.e. the results start at args[nargs]. The guest passes the buffer's guest
 * physical address in r4 of H_RTAS (./hcall.ts).
 */

import { type DecodeResult, defineStruct } from './codec.js';
import type { Buid } from './ids.js';
import { buid as toBuid } from './ids.js';

// ---------------------------------------------------------------------------
// The argument buffer

/** Words before args[]: token, nargs, nret. */
export const RTAS_ARGS_HEADER_WORDS = 3;
/** `rtas_arg_t args[16]` in Linux's struct rtas_args. */
export const RTAS_ARGS_MAX = 16;

/**
 * Linux's `struct rtas_args` (asm/rtas-types.h) as KVM reads it from guest
 * memory: the PAPR words, then a kernel-only `rets` pointer. Only the PAPR
 * part (76 bytes) is modelled here; see RTAS_ARGS_KVM_SIZE.
 */
export const rtas_args = defineStruct({
  name: 'rtas_args',
  size: 76,
  endian: 'be',
  fields: {
    token: { offset: 0, type: 'u32' },
    nargs: { offset: 4, type: 'u32' },
    nret: { offset: 8, type: 'u32' },
    args: { offset: 12, type: 'u32', count: RTAS_ARGS_MAX },
  },
});

/**
 * sizeof(struct rtas_args) on ppc64: 76 bytes of words + 4 padding + the
 * 8-byte `rets` pointer. KVM's kvmppc_rtas_hcall() copies this many bytes in
 * with kvm_read_guest() and, when an in-kernel handler ran, back out with
 * kvm_write_guest() (restoring the guest's original `rets` value).
 */
export const RTAS_ARGS_KVM_SIZE = 88;

/** Bytes a call with `nargs` inputs and `nret` results occupies. */
export const rtasBufferSize = (nargs: number, nret: number): number =>
  4 * (RTAS_ARGS_HEADER_WORDS + nargs + nret);

/** Byte offset of the results (args[nargs]) from the start of the buffer. */
export const rtasRetsOffset = (nargs: number): number => 4 * (RTAS_ARGS_HEADER_WORDS + nargs);

/** Byte offset of the inputs from the start of the buffer (QEMU's `args`). */
export const RTAS_ARGS_OFFSET = 4 * RTAS_ARGS_HEADER_WORDS;

export interface RtasCall {
  readonly token: number;
  /** Input words, u32 (or s32, stored two's complement). */
  readonly args: readonly number[];
  readonly nret: number;
}

export interface RtasDecoded {
  readonly token: number;
  readonly nargs: number;
  readonly nret: number;
  /** nargs input words, u32 */
  readonly args: number[];
  /** nret result words, u32 (rets[0] is the status: see `status`) */
  readonly rets: number[];
  /** rets[0] as a signed status, or undefined when nret is 0 */
  readonly status: number | undefined;
}

type ByteSource = ArrayBuffer | ArrayBufferView;
function toView(src: ByteSource): DataView {
  if (src instanceof DataView) return src;
  if (ArrayBuffer.isView(src)) return new DataView(src.buffer, src.byteOffset, src.byteLength);
  return new DataView(src);
}

function word(name: string, v: number): number {
  if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0xffff_ffff) {
    throw new RangeError(`${name}: ${v} is not a 32-bit value`);
  }
  return v >>> 0;
}

/**
 * Writes a call (header, inputs, zeroed result words) at `offset`, as the
 * guest kernel's rtas_call() does. Throws RangeError if it does not fit or a
 * value is not a 32-bit word (a bug in the caller).
 */
export function writeRtasCall(dst: ByteSource, offset: number, call: RtasCall): void {
  const v = toView(dst);
  const size = rtasBufferSize(call.args.length, call.nret);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > v.byteLength) {
    throw new RangeError(`RTAS buffer of ${size} bytes does not fit at ${offset}`);
  }
  v.setUint32(offset, word('token', call.token));
  v.setUint32(offset + 4, word('nargs', call.args.length));
  v.setUint32(offset + 8, word('nret', call.nret));
  call.args.forEach((a, i) => {
    v.setUint32(offset + RTAS_ARGS_OFFSET + 4 * i, word(`args[${i}]`, a));
  });
  const rets = offset + rtasRetsOffset(call.args.length);
  for (let i = 0; i < call.nret; i++) v.setUint32(rets + 4 * i, 0);
}

/** A new buffer holding `call`, at least `minSize` bytes long (zero-filled). */
export function encodeRtasCall(call: RtasCall, minSize = 0): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(minSize, rtasBufferSize(call.args.length, call.nret)));
  writeRtasCall(buf, 0, call);
  return buf;
}

/**
 * Reads a call buffer at `offset`: inputs at args[0..nargs), results at
 * args[nargs..nargs+nret). Never throws: a buffer too short for the counts it
 * declares is `{ ok: false, error: 'short' }`. The caller applies its own
 * limits (KVM: nargs < RTAS_ARGS_MAX; handlers: exact nargs/nret).
 */
export function readRtasCall(src: ByteSource, offset = 0): DecodeResult<RtasDecoded> {
  const v = toView(src);
  if (!Number.isInteger(offset) || offset < 0) {
    return { ok: false, error: 'range', message: `bad offset ${offset}` };
  }
  const have = Math.max(0, v.byteLength - offset);
  if (have < RTAS_ARGS_OFFSET) return { ok: false, error: 'short', need: RTAS_ARGS_OFFSET, have };
  const token = v.getUint32(offset);
  const nargs = v.getUint32(offset + 4);
  const nret = v.getUint32(offset + 8);
  const need = rtasBufferSize(nargs, nret);
  if (have < need) return { ok: false, error: 'short', need, have };
  const args: number[] = [];
  for (let i = 0; i < nargs; i++) args.push(v.getUint32(offset + RTAS_ARGS_OFFSET + 4 * i));
  const rets: number[] = [];
  const r = offset + rtasRetsOffset(nargs);
  for (let i = 0; i < nret; i++) rets.push(v.getUint32(r + 4 * i));
  const status = nret > 0 ? v.getInt32(r) : undefined;
  return { ok: true, value: { token, nargs, nret, args, rets, status } };
}

/**
 * Writes result words at args[nargs] (what a handler does through `rets`).
 * Values may be signed (status codes) or unsigned.
 */
export function writeRtasRets(
  dst: ByteSource,
  offset: number,
  nargs: number,
  rets: readonly number[],
): void {
  const v = toView(dst);
  const base = offset + rtasRetsOffset(nargs);
  if (base + 4 * rets.length > v.byteLength) throw new RangeError('RTAS results do not fit');
  rets.forEach((x, i) => {
    v.setUint32(base + 4 * i, word(`rets[${i}]`, x));
  });
}

/** QEMU's rtas_ld(args, n): input word n, u32. `argsOffset` is where args[0] is. */
export const rtasLd = (src: ByteSource, argsOffset: number, n: number): number =>
  toView(src).getUint32(argsOffset + 4 * n);

/** QEMU's rtas_ldq(args, n): words n and n+1 as a u64 (a BUID: hi, lo). */
export const rtasLdq = (src: ByteSource, argsOffset: number, n: number): bigint =>
  (BigInt(rtasLd(src, argsOffset, n)) << 32n) | BigInt(rtasLd(src, argsOffset, n + 1));

/** QEMU's rtas_st(rets, n, v). */
export function rtasSt(dst: ByteSource, retsOffset: number, n: number, value: number): void {
  toView(dst).setUint32(retsOffset + 4 * n, word(`rets[${n}]`, value));
}

// ---------------------------------------------------------------------------
// Addresses carried by the PCI calls: (config_addr, BUID_hi, BUID_lo, ...)

/** PAPR config address: bus << 16 | devfn << 8 | register. */
export function rtasConfigAddr(bus: number, devfn: number, reg = 0): number {
  if (![bus, devfn, reg].every((x) => Number.isInteger(x) && x >= 0 && x <= 0xff)) {
    throw new RangeError('config address fields are 8-bit');
  }
  return ((bus << 16) | (devfn << 8) | reg) >>> 0;
}
export const configAddrBus = (addr: number): number => (addr >>> 16) & 0xff;
export const configAddrDevfn = (addr: number): number => (addr >>> 8) & 0xff;

export const buidHi = (b: Buid): number => Number((b >> 32n) & 0xffff_ffffn);
export const buidLo = (b: Buid): number => Number(b & 0xffff_ffffn);
export const buidFromWords = (hi: number, lo: number): Buid =>
  toBuid((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));

// ---------------------------------------------------------------------------
// Tokens (QEMU include/hw/ppc/spapr.h). QEMU numbers its RTAS services
// RTAS_TOKEN_BASE + n and publishes them in the device tree's /rtas node;
// the guest looks them up by name (Linux rtas_function_token()).

export const RTAS_TOKEN_BASE = 0x2000;

export const RTAS_DISPLAY_CHARACTER = RTAS_TOKEN_BASE + 0x00;
export const RTAS_GET_TIME_OF_DAY = RTAS_TOKEN_BASE + 0x01;
export const RTAS_SET_TIME_OF_DAY = RTAS_TOKEN_BASE + 0x02;
export const RTAS_POWER_OFF = RTAS_TOKEN_BASE + 0x03;
export const RTAS_SYSTEM_REBOOT = RTAS_TOKEN_BASE + 0x04;
export const RTAS_QUERY_CPU_STOPPED_STATE = RTAS_TOKEN_BASE + 0x05;
export const RTAS_START_CPU = RTAS_TOKEN_BASE + 0x06;
export const RTAS_STOP_SELF = RTAS_TOKEN_BASE + 0x07;
export const RTAS_IBM_GET_SYSTEM_PARAMETER = RTAS_TOKEN_BASE + 0x08;
export const RTAS_IBM_SET_SYSTEM_PARAMETER = RTAS_TOKEN_BASE + 0x09;
/** XICS: the four calls KVM can handle in-kernel (book3s_rtas.c). */
export const RTAS_IBM_SET_XIVE = RTAS_TOKEN_BASE + 0x0a;
export const RTAS_IBM_GET_XIVE = RTAS_TOKEN_BASE + 0x0b;
export const RTAS_IBM_INT_OFF = RTAS_TOKEN_BASE + 0x0c;
export const RTAS_IBM_INT_ON = RTAS_TOKEN_BASE + 0x0d;
export const RTAS_CHECK_EXCEPTION = RTAS_TOKEN_BASE + 0x0e;
export const RTAS_EVENT_SCAN = RTAS_TOKEN_BASE + 0x0f;
export const RTAS_IBM_SET_TCE_BYPASS = RTAS_TOKEN_BASE + 0x10;
export const RTAS_QUIESCE = RTAS_TOKEN_BASE + 0x11;
export const RTAS_NVRAM_FETCH = RTAS_TOKEN_BASE + 0x12;
export const RTAS_NVRAM_STORE = RTAS_TOKEN_BASE + 0x13;
export const RTAS_READ_PCI_CONFIG = RTAS_TOKEN_BASE + 0x14;
export const RTAS_WRITE_PCI_CONFIG = RTAS_TOKEN_BASE + 0x15;
export const RTAS_IBM_READ_PCI_CONFIG = RTAS_TOKEN_BASE + 0x16;
export const RTAS_IBM_WRITE_PCI_CONFIG = RTAS_TOKEN_BASE + 0x17;
export const RTAS_IBM_QUERY_INTERRUPT_SOURCE_NUMBER = RTAS_TOKEN_BASE + 0x18;
export const RTAS_IBM_CHANGE_MSI = RTAS_TOKEN_BASE + 0x19;
export const RTAS_SET_INDICATOR = RTAS_TOKEN_BASE + 0x1a;
export const RTAS_SET_POWER_LEVEL = RTAS_TOKEN_BASE + 0x1b;
export const RTAS_GET_POWER_LEVEL = RTAS_TOKEN_BASE + 0x1c;
export const RTAS_GET_SENSOR_STATE = RTAS_TOKEN_BASE + 0x1d;
export const RTAS_IBM_CONFIGURE_CONNECTOR = RTAS_TOKEN_BASE + 0x1e;
export const RTAS_IBM_OS_TERM = RTAS_TOKEN_BASE + 0x1f;
/** EEH (hw/ppc/spapr_pci.c) */
export const RTAS_IBM_SET_EEH_OPTION = RTAS_TOKEN_BASE + 0x20;
export const RTAS_IBM_GET_CONFIG_ADDR_INFO2 = RTAS_TOKEN_BASE + 0x21;
export const RTAS_IBM_READ_SLOT_RESET_STATE2 = RTAS_TOKEN_BASE + 0x22;
export const RTAS_IBM_SET_SLOT_RESET = RTAS_TOKEN_BASE + 0x23;
export const RTAS_IBM_CONFIGURE_PE = RTAS_TOKEN_BASE + 0x24;
export const RTAS_IBM_SLOT_ERROR_DETAIL = RTAS_TOKEN_BASE + 0x25;
/** Dynamic DMA windows */
export const RTAS_IBM_QUERY_PE_DMA_WINDOW = RTAS_TOKEN_BASE + 0x26;
export const RTAS_IBM_CREATE_PE_DMA_WINDOW = RTAS_TOKEN_BASE + 0x27;
export const RTAS_IBM_REMOVE_PE_DMA_WINDOW = RTAS_TOKEN_BASE + 0x28;
export const RTAS_IBM_RESET_PE_DMA_WINDOW = RTAS_TOKEN_BASE + 0x29;
export const RTAS_IBM_SUSPEND_ME = RTAS_TOKEN_BASE + 0x2a;
export const RTAS_IBM_NMI_REGISTER = RTAS_TOKEN_BASE + 0x2b;
export const RTAS_IBM_NMI_INTERLOCK = RTAS_TOKEN_BASE + 0x2c;
/** One past the last token of released QEMU. */
export const RTAS_TOKEN_MAX = RTAS_TOKEN_BASE + 0x2d;

/**
 * Error injection: proposed for QEMU in an October 2025 RFC series
 * ("ppc/spapr: Add ibm,errinjct RTAS call handler" and follow-ups), not in
 * released QEMU. The model offers them only as a documented option, default
 * off. Token numbers as in that series.
 */
export const RTAS_IBM_ERRINJCT = RTAS_TOKEN_BASE + 0x2d;
export const RTAS_IBM_OPEN_ERRINJCT = RTAS_TOKEN_BASE + 0x2e;
export const RTAS_IBM_CLOSE_ERRINJCT = RTAS_TOKEN_BASE + 0x2f;

// ---------------------------------------------------------------------------
// Status codes (rets[0])

export const RTAS_OUT_SUCCESS = 0;
/** ibm,slot-error-detail: no error log (what QEMU always returns). */
export const RTAS_OUT_NO_ERRORS_FOUND = 1;
export const RTAS_OUT_HW_ERROR = -1;
export const RTAS_OUT_BUSY = -2;
/** Parameter error; also "not supported" and "no such indicator" (all -3). */
export const RTAS_OUT_PARAM_ERROR = -3;
export const RTAS_OUT_NOT_SUPPORTED = -3;
export const RTAS_OUT_NO_SUCH_INDICATOR = -3;
/**
 * ibm,set-slot-reset: fundamental reset not supported; the Linux guest then
 * retries with a hot reset (literal -8 in pseries_eeh_reset(),
 * arch/powerpc/platforms/pseries/eeh_pseries.c; no name upstream).
 */
export const RTAS_OUT_FUNDAMENTAL_RESET_UNSUPPORTED = -8;
export const RTAS_OUT_NOT_AUTHORIZED = -9002;
export const RTAS_OUT_SYSPARM_PARAM_ERROR = -9999;
/** errinjct sessions (2025 RFC): open while open / close of an unknown token. */
export const RTAS_OUT_ALREADY_OPEN = -4;
export const RTAS_OUT_NOT_OPEN = -5;
export const RTAS_OUT_CLOSE_ERROR = -6;

/** "Extended delay": call again after 10^(status - 9900) ms (PAPR; Linux rtas_busy_delay_time()). */
export const RTAS_EXTENDED_DELAY_MIN = 9900;
export const RTAS_EXTENDED_DELAY_MAX = 9905;

export const isRtasExtendedDelay = (status: number): boolean =>
  Number.isInteger(status) &&
  status >= RTAS_EXTENDED_DELAY_MIN &&
  status <= RTAS_EXTENDED_DELAY_MAX;

/** The delay an extended-delay status asks for, in ms (1 .. 100000); undefined otherwise. */
export function rtasExtendedDelayMs(status: number): number | undefined {
  if (!isRtasExtendedDelay(status)) return undefined;
  return 10 ** (status - RTAS_EXTENDED_DELAY_MIN);
}

/** The extended-delay status for a wait of about `ms` (rounded up to a power of 10, capped). */
export function rtasExtendedDelayStatus(ms: number): number {
  let order = 0;
  while (order < RTAS_EXTENDED_DELAY_MAX - RTAS_EXTENDED_DELAY_MIN && 10 ** order < ms) order++;
  return RTAS_EXTENDED_DELAY_MIN + order;
}

// ---------------------------------------------------------------------------
// EEH call arguments and results (QEMU names)

/** ibm,set-eeh-option: args[3] */
export const RTAS_EEH_DISABLE = 0;
export const RTAS_EEH_ENABLE = 1;
export const RTAS_EEH_THAW_IO = 2;
export const RTAS_EEH_THAW_DMA = 3;

/** ibm,get-config-addr-info2: args[3] (function) */
export const RTAS_GET_PE_ADDR = 0;
export const RTAS_GET_PE_MODE = 1;
/** ... and the PE modes returned for RTAS_GET_PE_MODE */
export const RTAS_PE_MODE_NONE = 0;
export const RTAS_PE_MODE_NOT_SHARED = 1;
export const RTAS_PE_MODE_SHARED = 2;

/** ibm,read-slot-reset-state2: rets[1] (PE state; same numbers as VFIO / asm/eeh.h) */
export const RTAS_EEH_PE_STATE_NORMAL = 0;
export const RTAS_EEH_PE_STATE_RESET = 1;
export const RTAS_EEH_PE_STATE_STOPPED_IO_DMA = 2;
export const RTAS_EEH_PE_STATE_STOPPED_DMA = 4;
export const RTAS_EEH_PE_STATE_UNAVAIL = 5;
/** rets[2]: EEH supported */
export const RTAS_EEH_NOT_SUPPORT = 0;
export const RTAS_EEH_SUPPORT = 1;
/** rets[3]: PE-unavailable info, ms (QEMU always 1000) */
export const RTAS_EEH_PE_UNAVAIL_INFO = 1000;
/** rets[4] when nret is 5 */
export const RTAS_EEH_PE_RECOVER_INFO = 0;

/** ibm,set-slot-reset: args[3] */
export const RTAS_SLOT_RESET_DEACTIVATE = 0;
export const RTAS_SLOT_RESET_HOT = 1;
export const RTAS_SLOT_RESET_FUNDAMENTAL = 3;

/** ibm,slot-error-detail: args[7] (severity) */
export const RTAS_SLOT_TEMP_ERR_LOG = 1;
export const RTAS_SLOT_PERM_ERR_LOG = 2;

/**
 * ibm,errinjct error types (PAPR errinjct token names, values as in the
 * 2025 Linux/QEMU patch series; platforms publish them in the device tree
 * property "ibm,errinjct-tokens"). The PCI ones are IOA_BUS_ERROR (32-bit
 * address) and IOA_BUS_ERROR_64; the function word is EEH_ERR_FUNC_* (./eeh.ts).
 */
export const RTAS_ERR_TYPE_FATAL = 0x1;
export const RTAS_ERR_TYPE_RECOVERED_RANDOM_EVENT = 0x2;
export const RTAS_ERR_TYPE_RECOVERED_SPECIAL_EVENT = 0x3;
export const RTAS_ERR_TYPE_CORRUPTED_PAGE = 0x4;
export const RTAS_ERR_TYPE_CORRUPTED_SLB = 0x5;
export const RTAS_ERR_TYPE_TRANSLATOR_FAILURE = 0x6;
export const RTAS_ERR_TYPE_IOA_BUS_ERROR = 0x7;
export const RTAS_ERR_TYPE_PLATFORM_SPECIFIC = 0x8;
export const RTAS_ERR_TYPE_CORRUPTED_DCACHE_START = 0x9;
export const RTAS_ERR_TYPE_CORRUPTED_DCACHE_END = 0xa;
export const RTAS_ERR_TYPE_CORRUPTED_ICACHE_START = 0xb;
export const RTAS_ERR_TYPE_CORRUPTED_ICACHE_END = 0xc;
export const RTAS_ERR_TYPE_CORRUPTED_TLB_START = 0xd;
export const RTAS_ERR_TYPE_CORRUPTED_TLB_END = 0xe;
export const RTAS_ERR_TYPE_IOA_BUS_ERROR_64 = 0xf;
export const RTAS_ERR_TYPE_UPSTREAM_IO_ERROR = 0x10;

// ---------------------------------------------------------------------------
// The calls the model implements: name, QEMU token, accepted nargs/nret.
// A call whose (nargs, nret) is not accepted gets RTAS_OUT_PARAM_ERROR in
// rets[0] (QEMU spapr_pci.c / KVM book3s_rtas.c check them exactly).

export interface RtasCallSpec {
  /** PAPR name, as in the device tree /rtas node. */
  readonly name: string;
  readonly token: number;
  readonly nargs: readonly number[];
  readonly nret: readonly number[];
  /** Where the handler lives upstream. */
  readonly handledBy: 'qemu' | 'kvm-or-qemu' | 'qemu-rfc-2025';
}

function spec(
  name: string,
  token: number,
  nargs: number[],
  nret: number[],
  handledBy: RtasCallSpec['handledBy'],
): RtasCallSpec {
  return Object.freeze({
    name,
    token,
    nargs: Object.freeze(nargs),
    nret: Object.freeze(nret),
    handledBy,
  });
}

/** The six EEH calls (eeh-facts section 2). */
export const RTAS_EEH_CALLS: readonly RtasCallSpec[] = Object.freeze([
  spec('ibm,set-eeh-option', RTAS_IBM_SET_EEH_OPTION, [4], [1], 'qemu'),
  spec('ibm,get-config-addr-info2', RTAS_IBM_GET_CONFIG_ADDR_INFO2, [4], [2], 'qemu'),
  spec('ibm,read-slot-reset-state2', RTAS_IBM_READ_SLOT_RESET_STATE2, [3], [4, 5], 'qemu'),
  spec('ibm,set-slot-reset', RTAS_IBM_SET_SLOT_RESET, [4], [1], 'qemu'),
  spec('ibm,configure-pe', RTAS_IBM_CONFIGURE_PE, [3], [1], 'qemu'),
  spec('ibm,slot-error-detail', RTAS_IBM_SLOT_ERROR_DETAIL, [8], [1], 'qemu'),
]);

/** Error injection (2025 RFC; not in released QEMU). */
export const RTAS_ERRINJCT_CALLS: readonly RtasCallSpec[] = Object.freeze([
  /** args: type, open token, work-buffer address; rets: status */
  spec('ibm,errinjct', RTAS_IBM_ERRINJCT, [3], [1], 'qemu-rfc-2025'),
  /** no args; rets: open token, status (status second, unlike other calls) */
  spec('ibm,open-errinjct', RTAS_IBM_OPEN_ERRINJCT, [0], [2], 'qemu-rfc-2025'),
  /** args: open token; rets: status */
  spec('ibm,close-errinjct', RTAS_IBM_CLOSE_ERRINJCT, [1], [1], 'qemu-rfc-2025'),
]);

/** XICS calls, which KVM runs in-kernel once the VMM binds their tokens. */
export const RTAS_XICS_CALLS: readonly RtasCallSpec[] = Object.freeze([
  spec('ibm,set-xive', RTAS_IBM_SET_XIVE, [3], [1], 'kvm-or-qemu'),
  spec('ibm,get-xive', RTAS_IBM_GET_XIVE, [1], [3], 'kvm-or-qemu'),
  spec('ibm,int-off', RTAS_IBM_INT_OFF, [1], [1], 'kvm-or-qemu'),
  spec('ibm,int-on', RTAS_IBM_INT_ON, [1], [1], 'kvm-or-qemu'),
]);

const ALL_CALLS = [...RTAS_EEH_CALLS, ...RTAS_ERRINJCT_CALLS, ...RTAS_XICS_CALLS];

export const rtasCallByToken = (token: number): RtasCallSpec | undefined =>
  ALL_CALLS.find((c) => c.token === token);
export const rtasCallByName = (name: string): RtasCallSpec | undefined =>
  ALL_CALLS.find((c) => c.name === name);

/** Whether (nargs, nret) is what `call` accepts. */
export const rtasCountsOk = (call: RtasCallSpec, nargs: number, nret: number): boolean =>
  call.nargs.includes(nargs) && call.nret.includes(nret);
