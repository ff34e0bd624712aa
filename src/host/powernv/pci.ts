/**
 * powernv PCI config accessors over OPAL (cf. arch/powerpc/platforms/
 * powernv/pci.c: pnv_pci_cfg_read / pnv_pci_cfg_write). A failed OPAL call
 * reads as all 1s, as Linux sets `*val = 0xFFFFFFFF` before the call and
 * leaves it there on error.
 */
import type { Opal } from '../../firmware/opal.js';
import type { Task } from '../../sim/scheduler.js';
import { OPAL_SUCCESS } from '../../uapi/opal.js';

export type CfgSize = 1 | 2 | 4;

/** PCIBIOS_* return codes of the config accessors (include/linux/pci.h). */
export const PCIBIOS_SUCCESSFUL = 0x00;
export const PCIBIOS_FUNC_NOT_SUPPORTED = 0x81;
export const PCIBIOS_DEVICE_NOT_FOUND = 0x86;
export const PCIBIOS_SET_FAILED = 0x88;

export function allOnes(size: CfgSize): number {
  return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
}

export interface CfgRead {
  /** PCIBIOS_SUCCESSFUL or PCIBIOS_FUNC_NOT_SUPPORTED (OPAL refused). */
  readonly rc: number;
  readonly value: number;
}

/** pnv_pci_cfg_read(): one OPAL_PCI_CONFIG_READ_{BYTE,HALF_WORD,WORD}. */
export function* pnvPciCfgRead(
  opal: Opal,
  phbId: number,
  bdf: number,
  where: number,
  size: CfgSize,
): Task<CfgRead> {
  const r =
    size === 1
      ? yield* opal.pciConfigReadByte(phbId, bdf, where)
      : size === 2
        ? yield* opal.pciConfigReadHalfWord(phbId, bdf, where)
        : yield* opal.pciConfigReadWord(phbId, bdf, where);
  if (r.rc !== OPAL_SUCCESS) return { rc: PCIBIOS_FUNC_NOT_SUPPORTED, value: allOnes(size) };
  return { rc: PCIBIOS_SUCCESSFUL, value: r.data };
}

/** pnv_pci_cfg_write(): one OPAL_PCI_CONFIG_WRITE_{BYTE,HALF_WORD,WORD}. */
export function* pnvPciCfgWrite(
  opal: Opal,
  phbId: number,
  bdf: number,
  where: number,
  size: CfgSize,
  value: number,
): Task<number> {
  const v = size === 4 ? value >>> 0 : value & allOnes(size);
  const rc =
    size === 1
      ? yield* opal.pciConfigWriteByte(phbId, bdf, where, v)
      : size === 2
        ? yield* opal.pciConfigWriteHalfWord(phbId, bdf, where, v)
        : yield* opal.pciConfigWriteWord(phbId, bdf, where, v);
  return rc === OPAL_SUCCESS ? PCIBIOS_SUCCESSFUL : PCIBIOS_FUNC_NOT_SUPPORTED;
}
