/**
 * The scenario's faults, made real on the hardware model. Each fault kind
 * of src/scenario/schema/faults.ts maps to what the hardware does when that
 * error happens (src/hw/phb.ts), never to a shortcut in a layer above:
 *
 * | kind             | on the hardware                                                           |
 * |------------------|---------------------------------------------------------------------------|
 * | `dma`            | the device DMAs (reads) an IOVA of its PE's window that has no valid TCE: |
 * |                  | the PHB's TCE check fails (`tce_invalid`) and freezes the PE              |
 * | `dma-permission` | the device DMAs (writes) through a read-only TCE (`tce_permission`); the  |
 * |                  | guest maps its buffers read/write, so without a read-only TCE in the      |
 * |                  | table the PHB detects the same error at a mapped IOVA                     |
 * | `mmio`           | the next MMIO load of the PE fails (completion timeout / UR): the PHB's   |
 * |                  | error trigger, armed for any address of the PE; that load returns all 1s  |
 * | `config`         | a config cycle error detected by the PHB (`source: config`)               |
 * | `poisoned-tlp`   | a DMA write with poisoned data (`injected_data`) detected by the PHB      |
 * | `phb-fence`      | the PHB fences itself: every PE of it reads as frozen                     |
 * | `link-down`      | the device's link drops (testnic: cable out): LINK_STATUS reads all 1s    |
 * |                  | legitimately; nothing freezes                                             |
 *
 * MODEL: the diag records' kinds are the ones src/uapi/opal.ts defines; a
 * completion timeout and a poisoned TLP have no kind of their own there, so
 * they are logged as the injection kinds with the same effect
 * (`injected_addr` for the failed load, `injected_data` for poisoned data).
 * MODEL: PHB4 hardware can only trigger config errors (phb_models.ts), so on
 * a PHB4 an `mmio` fault is detected at once instead of on the next load.
 */

import type { PciFunction } from '../hw/device.js';
import { TestNic } from '../hw/devices/testnic.js';
import type { Pe } from '../hw/pe.js';
import type { DetectedError, Phb } from '../hw/phb.js';
import { TCE_PAGE_SIZE, TCE_PCI_WRITE } from '../hw/tce.js';
import type { FaultKind } from '../scenario/schema/faults.js';
import { OPAL_ERR_INJECT_FUNC_IOA_LD_MEM_ADDR } from '../uapi/opal.js';
import './trace_events.js';

/** The hardware a fault hits: the target function, its PHB and its PE. */
export interface FaultTarget {
  /** The scenario's reference (device name or address). */
  readonly ref: string;
  readonly fn: PciFunction;
  readonly phb: Phb;
  readonly pe: Pe;
}

/**
 * A fault ready to happen: what it will do (for the trace, emitted first so
 * the trace reads cause then effect) and the hardware change itself; or why
 * it cannot happen on this target.
 */
export type PlannedFault =
  | { readonly ok: true; readonly how: string; apply(): void }
  | { readonly ok: false; readonly why: string };

const hex = (n: number): string => `0x${n.toString(16)}`;

/** The highest page of the PE's DMA window without a valid TCE (the window's size when it has none). */
function unmappedIova(pe: Pe): number {
  const tce = pe.tce;
  if (!tce) return 0;
  for (let iova = tce.windowSize - TCE_PAGE_SIZE; iova >= 0; iova -= TCE_PAGE_SIZE) {
    if (!tce.lookup(iova)) return iova;
  }
  return tce.windowSize; // every page mapped: outside the window
}

/** A mapped IOVA of the PE, read-only first; undefined when nothing is mapped (searches the low 64 MiB). */
function mappedIova(pe: Pe): { iova: number; readOnly: boolean } | undefined {
  const tce = pe.tce;
  if (!tce) return undefined;
  let first: number | undefined;
  const end = Math.min(tce.windowSize, 64 << 20);
  for (let iova = 0; iova < end; iova += TCE_PAGE_SIZE) {
    const e = tce.lookup(iova);
    if (!e) continue;
    if ((e.perm & TCE_PCI_WRITE) === 0) return { iova, readOnly: true };
    first ??= iova;
  }
  return first === undefined ? undefined : { iova: first, readOnly: false };
}

type FaultAction = (t: FaultTarget) => PlannedFault;

/** A fault the PHB detects at once: `error` at `address`, requested by the target function. */
function detectedNow(
  { fn, phb, pe }: FaultTarget,
  how: string,
  error: Omit<DetectedError, 'bdf'>,
): PlannedFault {
  return { ok: true, how, apply: () => void phb.detect(pe, { ...error, bdf: fn.bdf }) };
}

/** One action per fault kind (exhaustive: a new kind in the schema must be added here). */
export const FAULT_ACTIONS: Readonly<Record<FaultKind, FaultAction>> = {
  dma: ({ fn, phb, pe }) => {
    const iova = unmappedIova(pe);
    return {
      ok: true,
      how: `device DMA read at IOVA ${hex(iova)} (no valid TCE)`,
      // The device's DMA engine reads 64 bytes there: the PHB rejects the request.
      apply: () => void phb.dma(fn, 'read', iova, new Uint8Array(64)),
    };
  },
  'dma-permission': (t) => {
    const { fn, phb, pe } = t;
    const m = mappedIova(pe);
    if (m?.readOnly) {
      return {
        ok: true,
        how: `device DMA write through the read-only TCE at ${hex(m.iova)}`,
        apply: () => void phb.dma(fn, 'write', m.iova, new Uint8Array(64)),
      };
    }
    const iova = m?.iova ?? 0;
    return detectedNow(t, `DMA write permission error at IOVA ${hex(iova)}`, {
      source: 'dma',
      dir: 'write',
      kind: 'tce_permission',
      address: iova,
    });
  },
  mmio: (t) => {
    const { phb, pe } = t;
    if (phb.info.injects.includes('mmio')) {
      return {
        ok: true,
        how: 'the next MMIO load of the PE fails',
        apply: () =>
          void phb.armTrap({
            pe,
            func: OPAL_ERR_INJECT_FUNC_IOA_LD_MEM_ADDR,
            source: 'mmio',
            dir: 'load',
            kind: 'injected_addr',
            addr: 0n,
            mask: 0n, // any address of the PE
          }),
      };
    }
    return detectedNow(
      t,
      'MMIO load error (this PHB model has no MMIO error trigger: detected at once)',
      { source: 'mmio', dir: 'load', kind: 'injected_addr', address: 0 },
    );
  },
  config: (t) =>
    detectedNow(t, 'config cycle error', {
      source: 'config',
      dir: 'load',
      kind: 'injected_addr',
      address: t.fn.bdf,
    }),
  'poisoned-tlp': (t) => {
    const iova = mappedIova(t.pe)?.iova ?? 0;
    return detectedNow(t, `poisoned DMA write data at IOVA ${hex(iova)}`, {
      source: 'dma',
      dir: 'write',
      kind: 'injected_data',
      address: iova,
    });
  },
  'phb-fence': ({ phb }) => ({
    ok: true,
    how: `PHB ${phb.id} fences itself`,
    apply: () => phb.fence('scenario fault'),
  }),
  'link-down': ({ fn }) => {
    if (!(fn instanceof TestNic)) return { ok: false, why: `${fn.label} has no link to take down` };
    return {
      ok: true,
      how: 'link down (LINK_STATUS reads all 1s)',
      apply: () => {
        fn.cable = false;
      },
    };
  },
};
