/**
 * What the VFIO module exports to KVM (cf. drivers/vfio/group.c
 * vfio_file_is_group() / vfio_file_iommu_group(), EXPORT_SYMBOL_GPL, which
 * virt/kvm/vfio.c reaches through symbol_get()) plus
 * eeh_iommu_group_to_pe() (arch/powerpc/kernel/eeh.c): from an open VFIO
 * group file to the host EEH PE behind it and the host EEH core that owns it.
 *
 * EXPERIMENTAL users only: the in-kernel EEH RTAS services of seed option
 * (a) (src/kvm/rtas_eeh.ts). KVM only ever passes files it took from the
 * VMM's own fd table (kvm-vfio GROUP_ADD), so these helpers never name a
 * group by number.
 */
import type { FileOps } from '../host/process.js';
import type { EehCore } from '../kernel/eeh.js';
import type { EehPe } from '../kernel/eeh_dev.js';
import type { Buid } from '../uapi/ids.js';
import { VfioGroupFile } from './group.js';

/** A host PE as an in-kernel EEH handler may use it. */
export interface VfioEehTarget {
  /** IOMMU group number (/dev/vfio/<n>). */
  readonly groupId: number;
  readonly pe: EehPe;
  /** The host EEH core: eeh_pe_get_state() & co. */
  readonly eeh: EehCore;
}

/** vfio_file_is_group() + eeh_iommu_group_to_pe(): the PE of a group file, if it is one and has a PE. */
export function vfioFileEehPe(file: FileOps): VfioEehTarget | undefined {
  if (!(file instanceof VfioGroupFile)) return undefined;
  const g = file.group;
  const pe = g.backend.pe();
  return pe ? { groupId: g.id, pe, eeh: g.vfio.backend.eeh } : undefined;
}

/**
 * EXPERIMENTAL: the PE that a guest RTAS address (BUID, config or PE
 * address) names through the platform's VFIO_DEVICE_SET_ADDR_MAPPING
 * table, restricted to the mappings `owner` set and to this group file's
 * own group - so a caller holding one VM's group files reaches nothing else.
 */
export function vfioFileEehPeByAddr(
  file: FileOps,
  owner: object,
  buid: Buid,
  addr: number,
): VfioEehTarget | undefined {
  if (!(file instanceof VfioGroupFile)) return undefined;
  const g = file.group;
  const e = g.vfio.pciArch.lookupPe?.(owner, buid, addr);
  if (!e || e.groupId !== g.id) return undefined;
  return { groupId: g.id, pe: e.pe, eeh: g.vfio.backend.eeh };
}

/**
 * EXPERIMENTAL (design b): the PE of this group file when it is the host PE
 * (`phb`, `pe`). Only the file's own group is looked at - there is no global
 * lookup by number - so a caller holding one VM's group files can name any
 * host PE and still reach only those groups' PEs.
 */
export function vfioFileEehPeById(
  file: FileOps,
  phb: number,
  pe: number,
): VfioEehTarget | undefined {
  const t = vfioFileEehPe(file);
  return t && t.pe.phb === phb && t.pe.addr === pe ? t : undefined;
}

/**
 * EXPERIMENTAL (design c): the PE of this group file when the group holds
 * the host function `name` (`dddd:bb:dd.f`) - again only this file's group.
 */
export function vfioFileEehPeByFunction(file: FileOps, name: string): VfioEehTarget | undefined {
  if (!(file instanceof VfioGroupFile)) return undefined;
  if (!file.group.backend.devices().some((d) => d.name === name)) return undefined;
  return vfioFileEehPe(file);
}
