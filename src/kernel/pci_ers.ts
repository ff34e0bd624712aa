/**
 * Merging of driver recovery results, cf. arch/powerpc/kernel/eeh_driver.c
 * (eeh_result_priority, pci_ers_merge_result): the highest priority wins.
 */
import {
  PCI_ERS_RESULT_CAN_RECOVER,
  PCI_ERS_RESULT_DISCONNECT,
  PCI_ERS_RESULT_NEED_RESET,
  PCI_ERS_RESULT_NO_AER_DRIVER,
  PCI_ERS_RESULT_NONE,
  PCI_ERS_RESULT_RECOVERED,
  type PciErsResult,
} from './eeh_consts.js';

export function eehResultPriority(r: PciErsResult): number {
  switch (r) {
    case PCI_ERS_RESULT_NONE:
      return 1;
    case PCI_ERS_RESULT_NO_AER_DRIVER:
      return 2;
    case PCI_ERS_RESULT_RECOVERED:
      return 3;
    case PCI_ERS_RESULT_CAN_RECOVER:
      return 4;
    case PCI_ERS_RESULT_DISCONNECT:
      return 5;
    case PCI_ERS_RESULT_NEED_RESET:
      return 6;
  }
}

export function pciErsMergeResult(old: PciErsResult, next: PciErsResult): PciErsResult {
  return eehResultPriority(next) > eehResultPriority(old) ? next : old;
}
