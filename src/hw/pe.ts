/**
 * A Partitionable Endpoint: the PHB's unit of error isolation. It owns a set
 * of functions (by requester ID), a DMA window with its TCE table, and the
 * freeze state the PHB keeps in its PE State Table (PESTA = MMIO frozen,
 * PESTB = DMA stopped) plus the PE Error Vector bit (an error is pending for
 * OPAL_PCI_NEXT_ERROR). cf. skiboot hw/phb3.c (IODA2_PESTA_MMIO_FROZEN,
 * IODA2_PESTB_DMA_STOPPED, IODA2_TBL_PEEV).
 *
 * PEs form a tree (a bus PE below the PE of its bridge). The PHB's PELT-V
 * makes a freeze of a PE also freeze every PE below it, as Linux programs it
 * (cf. arch/powerpc/platforms/powernv/pci-ioda.c pnv_ioda_set_peltv).
 */
import type { DiagRecord } from '../uapi/opal.js';
import type { ResetKind } from './config_space.js';
import type { PciFunction } from './device.js';
import type { TceTable } from './tce.js';

/** A device PE holds the functions of one device; a bus PE everything below a bridge. */
export type PeKind = 'device' | 'bus' | 'reserved';

export interface PeStats {
  /** Loads (MMIO or config) answered with all 1s because the PE was stopped. */
  allOnesLoads: number;
  /** MMIO stores dropped because the PE was stopped (config writes pass, see Phb.configWrite). */
  droppedStores: number;
  /** DMA transfers the PHB refused. */
  blockedDma: number;
  /** Times the PE went from running to frozen. */
  freezes: number;
}

export class Pe {
  readonly functions: PciFunction[] = [];
  readonly children: Pe[] = [];
  parent: Pe | undefined;
  /** The PE's 32-bit DMA window (absent: every DMA faults). */
  tce: TceTable | undefined;

  /** PESTA: MMIO (and config) frozen. */
  mmioFrozen = false;
  /** PESTB: DMA stopped. */
  dmaFrozen = false;
  /** PEEV bit: a hardware-detected error is pending for next-error polling. */
  errorPending = false;
  /** The error that froze the PE (first one since it last ran). */
  firstError: DiagRecord | undefined;
  /** Reset currently asserted on the PE, and since when. */
  reset: ResetKind | undefined;
  resetSince = 0;

  /**
   * Fast-path flag read on every MMIO: true when an MMIO to this PE does not
   * reach the device (MMIO frozen, reset asserted, PHB fenced or dead).
   */
  mmioStop = false;

  readonly stats: PeStats = { allOnesLoads: 0, droppedStores: 0, blockedDma: 0, freezes: 0 };

  constructor(
    readonly phbId: number,
    readonly number: number,
    readonly kind: PeKind,
  ) {}

  get frozen(): boolean {
    return this.mmioFrozen || this.dmaFrozen;
  }

  /** This PE and every PE below it (its PELT-V domain), parents first. */
  domain(): Pe[] {
    const out: Pe[] = [this];
    for (let i = 0; i < out.length; i++) out.push(...(out[i] as Pe).children);
    return out;
  }

  /** Recomputes the fast-path flag after any state change. */
  update(phbStopped: boolean): void {
    this.mmioStop = phbStopped || this.mmioFrozen || this.reset !== undefined;
  }
}
