/**
 * PAPR hypercalls used by the model: numbers and return codes.
 *
 * Not in any uapi header: cf. arch/powerpc/include/asm/hvcall.h (Linux) and
 * include/hw/ppc/spapr.h (QEMU), which agree on these values. The guest
 * passes the hcall number in r3 and arguments in r4..r12; the return code
 * comes back in r3.
 */

// ---------------------------------------------------------------------------
// Return codes (r3)

export const H_SUCCESS = 0;
export const H_BUSY = 1;
export const H_CLOSED = 2;
export const H_NOT_AVAILABLE = 3;
export const H_CONSTRAINED = 4;
export const H_PARTIAL = 5;
export const H_HARDWARE = -1;
/** Function not supported (unknown hcall number). */
export const H_FUNCTION = -2;
export const H_PRIVILEGE = -3;
/** Parameter invalid, out of range or conflicting. */
export const H_PARAMETER = -4;
export const H_BAD_MODE = -5;
export const H_NOT_FOUND = -7;
export const H_NO_MEM = -9;
export const H_AUTHORITY = -10;
export const H_PERMISSION = -11;
/**
 * KVM-internal (arch/powerpc/include/asm/hvcall.h): a real-mode handler
 * cannot complete the call and passes it on (to virtual mode or userspace).
 * Never seen by a guest.
 */
export const H_TOO_HARD = 9999;

/** "Long busy": retry after 10^(code - 9900) ms (H_LONG_BUSY_ORDER_1_MSEC .. 100_SEC). */
export const H_LONG_BUSY_START_RANGE = 9900;
export const H_LONG_BUSY_END_RANGE = 9905;

export const isLongBusy = (rc: number): boolean =>
  rc >= H_LONG_BUSY_START_RANGE && rc <= H_LONG_BUSY_END_RANGE;

// ---------------------------------------------------------------------------
// Hypercall numbers (r3)

/** TCE table (guest DMA window) updates; KVM handles them in-kernel when it can. */
export const H_GET_TCE = 0x1c;
export const H_PUT_TCE = 0x20;
export const H_STUFF_TCE = 0x138;
export const H_PUT_TCE_INDIRECT = 0x13c;

/**
 * PAPR reserves 0xf000-0xfffc for platform-specific hcalls; KVM and QEMU
 * define these (QEMU: KVMPPC_HCALL_BASE, KVMPPC_H_RTAS).
 */
export const KVMPPC_HCALL_BASE = 0xf000;
/** r4 = guest physical address of the RTAS argument buffer (see ./rtas.ts). */
export const H_RTAS = 0xf000;
export const KVMPPC_H_RTAS = KVMPPC_HCALL_BASE + 0x0;
