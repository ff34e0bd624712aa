/**
 * struct eeh_dev and struct eeh_pe: the PE tree of one kernel
 * (cf. arch/powerpc/kernel/eeh_pe.c). The PHB PE is the root of each PHB's
 * tree; bus and device PEs hang below it.
 */
import type { Bdf, PeNumber } from '../uapi/ids.js';
import { formatBdf } from '../uapi/ids.js';
import {
  type EEH_PE_BUS,
  type EEH_PE_DEVICE,
  EEH_PE_ISOLATED,
  EEH_PE_PHB,
  type EEH_PE_VF,
} from './eeh_consts.js';
import type { PciDev } from './pci.js';

export class EehDev {
  mode = 0;
  /** Set between error_detected and resume (edev->in_error). */
  inError = false;
  pe: EehPe | undefined;
  constructor(
    readonly bdf: Bdf,
    public pdev: PciDev | undefined,
  ) {}

  get name(): string {
    return formatBdf(this.bdf);
  }
}

export type PeType =
  | typeof EEH_PE_PHB
  | typeof EEH_PE_BUS
  | typeof EEH_PE_DEVICE
  | typeof EEH_PE_VF;

export class EehPe {
  state = 0;
  /** Checks ignored because the PE was already isolated (pe->check_count). */
  checkCount = 0;
  freezeCount = 0;
  /** Start of the freeze-count window, virtual seconds (pe->tstamp). */
  tstampS = 0;
  falsePositives = 0;
  /** Devices of this PE opened through VFIO (pe->pass_dev_cnt). */
  passDevCnt = 0;
  readonly children: EehPe[] = [];
  readonly edevs: EehDev[] = [];
  constructor(
    readonly type: PeType,
    /** Index of the PHB (pci domain) in this kernel. */
    readonly phb: number,
    /** PE address: the PE number on powernv, the PE config address on pseries. */
    readonly addr: PeNumber,
    readonly parent: EehPe | undefined,
  ) {
    parent?.children.push(this);
  }

  get isPhb(): boolean {
    return this.type === EEH_PE_PHB;
  }

  /** eeh_pe_passed() */
  get passed(): boolean {
    return this.passDevCnt > 0;
  }

  get isolated(): boolean {
    return (this.state & EEH_PE_ISOLATED) !== 0;
  }

  get label(): string {
    return `PHB#${this.phb}-PE#${this.addr.toString(16)}`;
  }

  /** This PE and all PEs below it, parents first (eeh_for_each_pe). */
  *subtree(): Generator<EehPe> {
    yield this;
    for (const c of this.children) yield* c.subtree();
  }

  /** Every device of this PE and of the PEs below it (eeh_pe_for_each_dev over eeh_for_each_pe). */
  *devices(): Generator<EehDev> {
    for (const pe of this.subtree()) yield* pe.edevs;
  }
}
