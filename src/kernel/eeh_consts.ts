/**
 * Constants of the host EEH core, spelled as in
 * arch/powerpc/include/asm/eeh.h and include/linux/pci.h.
 */

/** PE types (struct eeh_pe.type). */
export const EEH_PE_INVALID = 1 << 0;
export const EEH_PE_PHB = 1 << 1;
export const EEH_PE_DEVICE = 1 << 2;
export const EEH_PE_BUS = 1 << 3;
export const EEH_PE_VF = 1 << 4;

/** PE state flags (struct eeh_pe.state). */
export const EEH_PE_ISOLATED = 1 << 0;
export const EEH_PE_RECOVERING = 1 << 1;
export const EEH_PE_CFG_BLOCKED = 1 << 2;
export const EEH_PE_RESET = 1 << 3;
export const EEH_PE_KEEP = 1 << 8;
export const EEH_PE_CFG_RESTRICTED = 1 << 9;
export const EEH_PE_REMOVED = 1 << 10;
export const EEH_PE_PRI_BUS = 1 << 11;

export const PE_STATE_FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [EEH_PE_ISOLATED, 'ISOLATED'],
  [EEH_PE_RECOVERING, 'RECOVERING'],
  [EEH_PE_CFG_BLOCKED, 'CFG_BLOCKED'],
  [EEH_PE_RESET, 'RESET'],
  [EEH_PE_KEEP, 'KEEP'],
  [EEH_PE_CFG_RESTRICTED, 'CFG_RESTRICTED'],
  [EEH_PE_REMOVED, 'REMOVED'],
  [EEH_PE_PRI_BUS, 'PRI_BUS'],
];

export function formatPeState(state: number): string {
  const names = PE_STATE_FLAG_NAMES.filter(([bit]) => state & bit).map(([, n]) => n);
  return names.length ? names.join('|') : 'none';
}

/** Device mode flags (struct eeh_dev.mode). */
export const EEH_DEV_BRIDGE = 1 << 0;
export const EEH_DEV_ROOT_PORT = 1 << 1;
export const EEH_DEV_DS_PORT = 1 << 2;
export const EEH_DEV_NO_HANDLER = 1 << 8;
export const EEH_DEV_SYSFS = 1 << 9;
export const EEH_DEV_REMOVED = 1 << 10;

/** Platform PE state bits returned by eeh_ops->get_state(). */
export const EEH_STATE_UNAVAILABLE = 1 << 0;
export const EEH_STATE_NOT_SUPPORT = 1 << 1;
export const EEH_STATE_RESET_ACTIVE = 1 << 2;
export const EEH_STATE_MMIO_ACTIVE = 1 << 3;
export const EEH_STATE_DMA_ACTIVE = 1 << 4;
export const EEH_STATE_MMIO_ENABLED = 1 << 5;
export const EEH_STATE_DMA_ENABLED = 1 << 6;

export const EEH_STATE_ACTIVE_ALL =
  EEH_STATE_MMIO_ACTIVE | EEH_STATE_DMA_ACTIVE | EEH_STATE_MMIO_ENABLED | EEH_STATE_DMA_ENABLED;

/** eeh_state_active(): MMIO and DMA both active. */
export function eehStateActive(state: number): boolean {
  const both = EEH_STATE_MMIO_ACTIVE | EEH_STATE_DMA_ACTIVE;
  return (state & both) === both;
}

/** Options of eeh_ops->set_option() / eeh_pe_set_option(). */
export const EEH_OPT_DISABLE = 0;
export const EEH_OPT_ENABLE = 1;
export const EEH_OPT_THAW_MMIO = 2;
export const EEH_OPT_THAW_DMA = 3;
export const EEH_OPT_FREEZE_PE = 4;

/** Reset options of eeh_ops->reset() / eeh_pe_reset(). */
export const EEH_RESET_DEACTIVATE = 0;
export const EEH_RESET_HOT = 1;
export const EEH_RESET_FUNDAMENTAL = 3;

/** PE states as reported to VFIO users (eeh_pe_get_state), same numbers as RTAS. */
export const EEH_PE_STATE_NORMAL = 0;
export const EEH_PE_STATE_RESET = 1;
export const EEH_PE_STATE_STOPPED_IO_DMA = 2;
export const EEH_PE_STATE_STOPPED_DMA = 4;
export const EEH_PE_STATE_UNAVAIL = 5;

/** Log severities for eeh_slot_error_detail(). */
export const EEH_LOG_TEMP = 1;
export const EEH_LOG_PERM = 2;

/** Timing constants (ms) from asm/eeh.h and eeh_driver.c. */
export const EEH_STATE_MIN_WAIT_TIME = 1000;
export const EEH_STATE_MAX_WAIT_TIME = 300_000;
export const MAX_WAIT_FOR_RECOVERY = 300; // seconds
export const PCI_BUS_RESET_WAIT_MSEC = 60_000; // include/linux/pci.h
export const EEH_MAX_FAILS = 2_100_000; // check_count at which the kernel dumps a stack
/** Default of /sys/kernel/debug/powerpc/eeh_max_freezes. */
export const EEH_MAX_FREEZES_DEFAULT = 5;
/** Freeze-count window, seconds (eeh_pe_update_time_stamp). */
export const EEH_FREEZE_WINDOW_S = 3600;
/** "Sleep 5s ahead of hotplug" in eeh_reset_device(). */
export const EEH_HOTPLUG_SLEEP_MS = 5000;

/** enum pci_ers_result (include/linux/pci.h) */
export const PCI_ERS_RESULT_NONE = 1;
export const PCI_ERS_RESULT_CAN_RECOVER = 2;
export const PCI_ERS_RESULT_NEED_RESET = 3;
export const PCI_ERS_RESULT_DISCONNECT = 4;
export const PCI_ERS_RESULT_RECOVERED = 5;
export const PCI_ERS_RESULT_NO_AER_DRIVER = 6;
export type PciErsResult = 1 | 2 | 3 | 4 | 5 | 6;

export const PCI_ERS_RESULT_NAMES: Readonly<Record<PciErsResult, string>> = {
  1: 'NONE',
  2: 'CAN_RECOVER',
  3: 'NEED_RESET',
  4: 'DISCONNECT',
  5: 'RECOVERED',
  6: 'NO_AER_DRIVER',
};

/** enum pci_channel_state */
export type PciChannelState = 'normal' | 'frozen' | 'perm_failure';
