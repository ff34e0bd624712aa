/**
 * Electrical reset timing the hardware enforces (not the host's sleeps,
 * which live in the cost table as pe_reset_hold / pe_reset_settle).
 */
import { ms, type Ns } from '../sim/time.js';
import type { ResetKind } from './config_space.js';

/**
 * Minimum time a reset must stay asserted. Hot reset (secondary bus reset):
 * Trst >= 1 ms (PCI-to-PCI Bridge spec 1.2). Fundamental reset: PERST# held
 * >= 100 ms after power is stable (PCIe CEM spec, T_PVPERL).
 */
export const RESET_MIN_HOLD: Readonly<Record<ResetKind, Ns>> = {
  hot: ms(1),
  fundamental: ms(100),
};

/**
 * After a reset is released a function needs up to 1.0 s before it must
 * answer config requests successfully (PCIe Base spec, "Reset Rules": it
 * may return Configuration Request Retry Status before that).
 * MODEL: every function takes exactly this long; until then config reads
 * complete with all 1s (as a root complex without CRS visibility reports a
 * device that keeps answering CRS) and writes are dropped.
 */
export const RESET_READY_DELAY: Ns = ms(1000);
