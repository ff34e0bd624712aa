/**
 * The host's struct pci_dev: the generic PciDev of src/kernel plus what the
 * host PCI core learns while probing (class, header type, capabilities, BAR
 * flags, bridge bus numbers) and what the powernv platform attaches (PE
 * number, IOMMU group). cf. include/linux/pci.h, drivers/pci/probe.c.
 */
import { PciDev, type Resource } from '../kernel/pci.js';
import { type Bdf, formatBdf } from '../uapi/ids.js';

/** A BAR as the PCI core sized it (pci_resource_*). */
export interface HostResource extends Resource {
  /** IORESOURCE_MEM or IORESOURCE_IO. */
  readonly kind: 'mem' | 'io';
  readonly prefetchable: boolean;
}

/** dev_name() of a PCI device: `dddd:bb:dd.f`. */
export function pciName(domain: number, bdf: Bdf): string {
  return `${domain.toString(16).padStart(4, '0')}:${formatBdf(bdf)}`;
}

export class HostPciDev extends PciDev {
  /** 24-bit class code (PCI_CLASS_REVISION >> 8). */
  classCode = 0;
  /** PCI_HEADER_TYPE without the multi-function bit. */
  headerType = 0;
  multiFunction = false;
  /** Offset of the PCI Express capability (0 = none): pci_dev->pcie_cap. */
  pcieCap = 0;
  /** PCI_EXP_FLAGS_TYPE of the PCIe capability (PCI_EXP_TYPE_*). */
  pcieType = -1;
  /** Offset of the AER extended capability (0 = none). */
  aerCap = 0;
  /** PCI_INTERRUPT_PIN. */
  intxPin = 0;
  /** 256, or 4096 for PCIe functions (pdev->cfg_size). */
  cfgSize = 256;
  /** PCIe DEVCAP advertises function level reset. */
  flr = false;
  /** Bridges: bus numbers as programmed (pci_bus->number / busn_res). */
  primaryBus = 0;
  secondaryBus = 0;
  subordinateBus = 0;
  /** Bridges: memory window [memBase, memLimit] (memLimit < memBase: closed). */
  memBase = 0;
  memLimit = -1;
  /** The bridge directly above (undefined on the root bus). */
  parent: HostPciDev | undefined;
  /** Functions on the secondary bus (bridges only). */
  readonly children: HostPciDev[] = [];
  /** PE number the platform assigned this function (pe_rmap[bdf]). */
  peNumber = -1;
  /** IOMMU group id (iommu_group_id), -1 before the group is set up. */
  iommuGroup = -1;
  /** driver_override (drivers/pci/pci-sysfs.c): only that driver may bind. */
  driverOverride: string | undefined;
  /** Name of the last driver that was bound (kept across unbind, for reports). */
  lastDriver: string | undefined;

  constructor(
    domain: number,
    bdf: Bdf,
    vendor: number,
    device: number,
    isBridge: boolean,
    readonly hostResources: HostResource[],
  ) {
    super(domain, bdf, vendor, device, isBridge, hostResources);
  }

  /** `0000:01:00.0` */
  get name(): string {
    return pciName(this.domain, this.bdf);
  }

  get isPcie(): boolean {
    return this.pcieCap !== 0;
  }

  /** The memory BAR with `index`, if implemented and assigned. */
  bar(index: number): HostResource | undefined {
    return this.hostResources.find((r) => r.index === index);
  }
}
