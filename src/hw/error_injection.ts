/**
 * The PHB's error-injection trigger (PAPR_ERR_INJ_ADDR / _MASK / _CTL on
 * PHB3): firmware arms it with an address, a mask and the kind of access;
 * the next access of that kind whose address matches under the mask fails
 * and freezes the PE. cf. skiboot hw/phb3.c phb3_err_inject_finalize.
 *
 * MODEL: the trigger is one-shot (real hardware keeps it armed until
 * OPAL_RESET_PHB_ERROR clears the control register) and only fires for
 * accesses routed to the PE it was armed for (real hardware compares the
 * address only). Addresses: MMIO bus address for MMIO, requester ID
 * (bus << 8 | devfn) for config, IOVA for DMA.
 */
import type { DiagKind } from '../uapi/opal.js';
import type { Pe } from './pe.js';

export type TrapSource = 'mmio' | 'config' | 'dma';
/** `load`/`store` for CPU accesses, `read`/`write` (of memory) for DMA. */
export type TrapDir = 'load' | 'store' | 'read' | 'write';

export interface InjectionTrap {
  readonly pe: Pe;
  /** OPAL_ERR_INJECT_FUNC_* that armed it (for traces). */
  readonly func: number;
  readonly source: TrapSource;
  readonly dir: TrapDir;
  readonly kind: DiagKind;
  readonly addr: bigint;
  readonly mask: bigint;
}

export function trapMatches(
  t: InjectionTrap,
  source: TrapSource,
  dir: TrapDir,
  pe: Pe,
  address: number,
): boolean {
  return (
    t.source === source &&
    t.dir === dir &&
    t.pe === pe &&
    (BigInt(address) & t.mask) === (t.addr & t.mask)
  );
}

export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;
