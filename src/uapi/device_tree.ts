/**
 * The device tree a sPAPR VMM hands to its guest (what QEMU's
 * hw/ppc/spapr.c and spapr_pci.c write into the FDT): the RTAS services
 * with their tokens, and per virtual PHB its BUID, DMA window and devices.
 * The guest kernel enumerates its PCI world from this.
 *
 * MODEL: a plain object instead of a flattened device tree blob; BARs are
 * given as assigned guest-physical ranges (as SLOF leaves them).
 */
import type { Bdf, Buid, Gpa, Liobn } from './ids.js';

export interface GuestBarNode {
  readonly index: number;
  readonly gpa: Gpa;
  readonly size: number;
}

export interface GuestPciNode {
  /** The guest's view of the device's address. */
  readonly bdf: Bdf;
  /** PAPR config address: (bus << 16) | (devfn << 8), as in "reg" of the PCI node. */
  readonly configAddr: number;
  readonly vendor: number;
  readonly device: number;
  readonly bars: readonly GuestBarNode[];
  /**
   * EXPERIMENTAL (design b, "ibm,host-eeh-pe"): the host PE of the function
   * as the guest names it in its state queries - the BUID words and the PE
   * address (src/kvm/uapi_eeh_identity.ts). Absent under every other design.
   */
  readonly hostEehPe?: { readonly buid: Buid; readonly peAddr: number };
}

export interface GuestDmaWindow {
  readonly liobn: Liobn;
  readonly iovaBase: number;
  readonly size: number;
}

export interface GuestPhbNode {
  /** Index of this PHB in the guest (its PCI domain). */
  readonly index: number;
  readonly buid: Buid;
  /** "ibm,eeh-*" support advertised for this PHB (VFIO container with EEH). */
  readonly eehSupported: boolean;
  readonly dmaWindow: GuestDmaWindow;
  readonly devices: readonly GuestPciNode[];
}

export interface GuestDeviceTree {
  /** RTAS service name (e.g. `ibm,read-slot-reset-state2`) -> token. */
  readonly rtasTokens: Readonly<Record<string, number>>;
  readonly phbs: readonly GuestPhbNode[];
  /**
   * PROPOSAL (+notify, not PAPR): the hypervisor raises an EEH freeze event
   * (src/kvm/eeh_event.ts) for the devices of these PHBs.
   */
  readonly eehNotify?: boolean;
}
