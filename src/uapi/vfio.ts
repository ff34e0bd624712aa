/**
 * The VFIO user ABI used by the model: constants, ioctl request numbers and
 * struct layouts, spelled exactly as in include/uapi/linux/vfio.h.
 *
 * Every export here (except those re-exported from ./experimental.ts) is
 * checked by test/uapi/abi.test.ts against the system header <linux/vfio.h>
 * compiled with `cc` - values, sizeof, offsetof and field types - and, for the
 * powerpc request numbers, against the powerpc uapi headers.
 *
 * Request numbers use the model's generic `_IOC` encoding (see ./ioctl.ts);
 * `toPowerpc()` gives what a POWER host uses.
 *
 * Note that VFIO reuses ioctl numbers across fd types: VFIO_BASE + 12 is
 * VFIO_IOMMU_GET_INFO / VFIO_IOMMU_SPAPR_TCE_GET_INFO on a container fd and
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO on a device fd. Dispatch therefore
 * looks a request up in the table of the fd's kind (`VFIO_IOCTLS`).
 */
import { defineStruct } from './codec.js';
import { _IO } from './ioctl.js';

export {
  VFIO_DEVICE_SET_ADDR_MAPPING,
  VFIO_DEVICE_SET_ADDR_MAPPING_NR,
  vfio_device_addr_mapping,
} from './experimental.js';

// ---------------------------------------------------------------------------
// API version and extensions (VFIO_CHECK_EXTENSION arguments)

export const VFIO_API_VERSION = 0;

export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_SPAPR_TCE_IOMMU = 2;
export const VFIO_TYPE1v2_IOMMU = 3;
/** IOMMU enforces DMA cache coherence. */
export const VFIO_DMA_CC_IOMMU = 4;
/** Check for EEH support on the sPAPR container: 1 when the host has EEH enabled. */
export const VFIO_EEH = 5;
export const VFIO_SPAPR_TCE_v2_IOMMU = 7;
export const VFIO_NOIOMMU_IOMMU = 8;

// ---------------------------------------------------------------------------
// ioctl numbers: _IO(VFIO_TYPE, VFIO_BASE + n); the argument is a struct
// starting with `argsz`, so no size is encoded (direction "none").

/** `';'` */
export const VFIO_TYPE = 0x3b;
export const VFIO_BASE = 100;

/** container: returns VFIO_API_VERSION */
export const VFIO_GET_API_VERSION = _IO(VFIO_TYPE, VFIO_BASE + 0);
/** container: arg is the extension number (not a pointer); returns 0/1 */
export const VFIO_CHECK_EXTENSION = _IO(VFIO_TYPE, VFIO_BASE + 1);
/** container: arg is the IOMMU type (e.g. VFIO_SPAPR_TCE_v2_IOMMU) */
export const VFIO_SET_IOMMU = _IO(VFIO_TYPE, VFIO_BASE + 2);
/** group: struct vfio_group_status */
export const VFIO_GROUP_GET_STATUS = _IO(VFIO_TYPE, VFIO_BASE + 3);
/** group: arg points to an s32 container fd */
export const VFIO_GROUP_SET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 4);
export const VFIO_GROUP_UNSET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 5);
/** group: arg points to a NUL-terminated device name ("0000:01:00.0"); returns a device fd */
export const VFIO_GROUP_GET_DEVICE_FD = _IO(VFIO_TYPE, VFIO_BASE + 6);
/** device: struct vfio_device_info */
export const VFIO_DEVICE_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 7);
/** device: struct vfio_region_info */
export const VFIO_DEVICE_GET_REGION_INFO = _IO(VFIO_TYPE, VFIO_BASE + 8);
/** device: struct vfio_irq_info */
export const VFIO_DEVICE_GET_IRQ_INFO = _IO(VFIO_TYPE, VFIO_BASE + 9);
/** device: struct vfio_irq_set + data */
export const VFIO_DEVICE_SET_IRQS = _IO(VFIO_TYPE, VFIO_BASE + 10);
/** device: no argument */
export const VFIO_DEVICE_RESET = _IO(VFIO_TYPE, VFIO_BASE + 11);
/** device (same number as VFIO_IOMMU_GET_INFO on a container) */
export const VFIO_DEVICE_GET_PCI_HOT_RESET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);
/** device (same number as VFIO_IOMMU_MAP_DMA on a container) */
export const VFIO_DEVICE_PCI_HOT_RESET = _IO(VFIO_TYPE, VFIO_BASE + 13);
/** container, type1 IOMMU: struct vfio_iommu_type1_info */
export const VFIO_IOMMU_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);
/** container, sPAPR TCE IOMMU: struct vfio_iommu_spapr_tce_info */
export const VFIO_IOMMU_SPAPR_TCE_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);
/** container: struct vfio_iommu_type1_dma_map (the sPAPR IOMMU uses the same struct) */
export const VFIO_IOMMU_MAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 13);
/** container: struct vfio_iommu_type1_dma_unmap; the unmapped size is written back */
export const VFIO_IOMMU_UNMAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 14);
/** container, sPAPR v1: no argument */
export const VFIO_IOMMU_ENABLE = _IO(VFIO_TYPE, VFIO_BASE + 15);
export const VFIO_IOMMU_DISABLE = _IO(VFIO_TYPE, VFIO_BASE + 16);
/** container, sPAPR v2: struct vfio_iommu_spapr_register_memory */
export const VFIO_IOMMU_SPAPR_REGISTER_MEMORY = _IO(VFIO_TYPE, VFIO_BASE + 17);
export const VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY = _IO(VFIO_TYPE, VFIO_BASE + 18);
/** container, sPAPR v2: struct vfio_iommu_spapr_tce_create */
export const VFIO_IOMMU_SPAPR_TCE_CREATE = _IO(VFIO_TYPE, VFIO_BASE + 19);
/** container, sPAPR v2: struct vfio_iommu_spapr_tce_remove */
export const VFIO_IOMMU_SPAPR_TCE_REMOVE = _IO(VFIO_TYPE, VFIO_BASE + 20);
/**
 * container (sPAPR): struct vfio_eeh_pe_op. Generic encoding 0x3B79; on a
 * POWER host 0x20003B79 (`toPowerpc(VFIO_EEH_PE_OP)`).
 */
export const VFIO_EEH_PE_OP = _IO(VFIO_TYPE, VFIO_BASE + 21);

/**
 * The real ioctls of each fd kind, by name (cf. drivers/vfio/container.c,
 * group.c, vfio_main.c, pci/vfio_pci_core.c, vfio_iommu_spapr_tce.c).
 * The experimental VFIO_DEVICE_SET_ADDR_MAPPING is not listed: it reaches
 * the device fd's arch hook as an unknown request.
 */
export const VFIO_IOCTLS = Object.freeze({
  container: Object.freeze({
    VFIO_GET_API_VERSION,
    VFIO_CHECK_EXTENSION,
    VFIO_SET_IOMMU,
    VFIO_IOMMU_GET_INFO,
    VFIO_IOMMU_SPAPR_TCE_GET_INFO,
    VFIO_IOMMU_MAP_DMA,
    VFIO_IOMMU_UNMAP_DMA,
    VFIO_IOMMU_ENABLE,
    VFIO_IOMMU_DISABLE,
    VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
    VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
    VFIO_IOMMU_SPAPR_TCE_CREATE,
    VFIO_IOMMU_SPAPR_TCE_REMOVE,
    VFIO_EEH_PE_OP,
  }),
  group: Object.freeze({
    VFIO_GROUP_GET_STATUS,
    VFIO_GROUP_SET_CONTAINER,
    VFIO_GROUP_UNSET_CONTAINER,
    VFIO_GROUP_GET_DEVICE_FD,
  }),
  device: Object.freeze({
    VFIO_DEVICE_GET_INFO,
    VFIO_DEVICE_GET_REGION_INFO,
    VFIO_DEVICE_GET_IRQ_INFO,
    VFIO_DEVICE_SET_IRQS,
    VFIO_DEVICE_RESET,
    VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
    VFIO_DEVICE_PCI_HOT_RESET,
  }),
});

export type VfioFdKind = keyof typeof VFIO_IOCTLS;

/**
 * The name of `request` on an fd of `kind` (for traces), or undefined.
 * Where two container ioctls share a number (GET_INFO for type1 vs sPAPR),
 * the sPAPR name is returned: the model's containers are sPAPR.
 */
export function vfioIoctlName(kind: VfioFdKind, request: number): string | undefined {
  if (kind === 'container' && request === VFIO_IOMMU_SPAPR_TCE_GET_INFO) {
    return 'VFIO_IOMMU_SPAPR_TCE_GET_INFO';
  }
  for (const [name, req] of Object.entries(VFIO_IOCTLS[kind])) if (req === request) return name;
  return undefined;
}

// ---------------------------------------------------------------------------
// struct vfio_group_status (VFIO_GROUP_GET_STATUS)

export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

export const vfio_group_status = defineStruct({
  name: 'vfio_group_status',
  size: 8,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
  },
});

// ---------------------------------------------------------------------------
// struct vfio_device_info (VFIO_DEVICE_GET_INFO)

export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_PLATFORM = 1 << 2;
export const VFIO_DEVICE_FLAGS_AMBA = 1 << 3;
export const VFIO_DEVICE_FLAGS_CCW = 1 << 4;
export const VFIO_DEVICE_FLAGS_AP = 1 << 5;
export const VFIO_DEVICE_FLAGS_FSL_MC = 1 << 6;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;

export const vfio_device_info = defineStruct({
  name: 'vfio_device_info',
  size: 20,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    num_regions: { offset: 8, type: 'u32' },
    num_irqs: { offset: 12, type: 'u32' },
    cap_offset: { offset: 16, type: 'u32' },
  },
});

// ---------------------------------------------------------------------------
// struct vfio_region_info (VFIO_DEVICE_GET_REGION_INFO)

export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;

export const vfio_region_info = defineStruct({
  name: 'vfio_region_info',
  size: 32,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    index: { offset: 8, type: 'u32' },
    cap_offset: { offset: 12, type: 'u32' },
    size: { offset: 16, type: 'u64' },
    offset: { offset: 24, type: 'u64' },
  },
});

/** vfio-pci's fixed region indexes (anonymous enum in vfio.h). */
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_BAR1_REGION_INDEX = 1;
export const VFIO_PCI_BAR2_REGION_INDEX = 2;
export const VFIO_PCI_BAR3_REGION_INDEX = 3;
export const VFIO_PCI_BAR4_REGION_INDEX = 4;
export const VFIO_PCI_BAR5_REGION_INDEX = 5;
export const VFIO_PCI_ROM_REGION_INDEX = 6;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_PCI_VGA_REGION_INDEX = 8;
export const VFIO_PCI_NUM_REGIONS = 9;

/**
 * vfio-pci places region `index` at this offset of the device fd
 * (VFIO_PCI_OFFSET_SHIFT 40, drivers/vfio/pci/vfio_pci_priv.h - kernel-internal,
 * userspace reads it from vfio_region_info.offset).
 */
export const vfioPciIndexToOffset = (index: number): bigint => BigInt(index) << 40n;

// ---------------------------------------------------------------------------
// struct vfio_irq_info / vfio_irq_set

export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;

export const vfio_irq_info = defineStruct({
  name: 'vfio_irq_info',
  size: 16,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    index: { offset: 8, type: 'u32' },
    count: { offset: 12, type: 'u32' },
  },
});

export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
export const VFIO_IRQ_SET_DATA_TYPE_MASK =
  VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD;
export const VFIO_IRQ_SET_ACTION_TYPE_MASK =
  VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_ACTION_TRIGGER;

/** Header of VFIO_DEVICE_SET_IRQS; `data[]` (u8 bools or s32 eventfds) follows at 20. */
export const vfio_irq_set = defineStruct({
  name: 'vfio_irq_set',
  size: 20,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    index: { offset: 8, type: 'u32' },
    start: { offset: 12, type: 'u32' },
    count: { offset: 16, type: 'u32' },
  },
  flex: { name: 'data', offset: 20, type: 'u8' },
});

/** vfio-pci's IRQ indexes. VFIO_PCI_ERR_IRQ_INDEX is the AER error eventfd (x86 path). */
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
export const VFIO_PCI_NUM_IRQS = 5;

// ---------------------------------------------------------------------------
// DMA mapping (type1 structs, also used by the sPAPR TCE IOMMU)

export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;

export const vfio_iommu_type1_dma_map = defineStruct({
  name: 'vfio_iommu_type1_dma_map',
  size: 32,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    vaddr: { offset: 8, type: 'u64' },
    iova: { offset: 16, type: 'u64' },
    size: { offset: 24, type: 'u64' },
  },
});

export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;

export const vfio_iommu_type1_dma_unmap = defineStruct({
  name: 'vfio_iommu_type1_dma_unmap',
  size: 24,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    iova: { offset: 8, type: 'u64' },
    size: { offset: 16, type: 'u64' },
  },
  flex: { name: 'data', offset: 24, type: 'u8' },
});

// ---------------------------------------------------------------------------
// sPAPR TCE IOMMU (drivers/vfio/vfio_iommu_spapr_tce.c)

export const VFIO_IOMMU_SPAPR_INFO_DDW = 1 << 0;

export const vfio_iommu_spapr_tce_ddw_info = defineStruct({
  name: 'vfio_iommu_spapr_tce_ddw_info',
  size: 16,
  fields: {
    pgsizes: { offset: 0, type: 'u64' },
    max_dynamic_windows_supported: { offset: 8, type: 'u32' },
    levels: { offset: 12, type: 'u32' },
  },
});

export const vfio_iommu_spapr_tce_info = defineStruct({
  name: 'vfio_iommu_spapr_tce_info',
  size: 32,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    /** 32-bit DMA window start, an absolute PCI bus address (bytes) */
    dma32_window_start: { offset: 8, type: 'u32' },
    dma32_window_size: { offset: 12, type: 'u32' },
    /** valid only with VFIO_IOMMU_SPAPR_INFO_DDW */
    ddw: { offset: 16, type: vfio_iommu_spapr_tce_ddw_info },
  },
});

export const vfio_iommu_spapr_register_memory = defineStruct({
  name: 'vfio_iommu_spapr_register_memory',
  size: 24,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    vaddr: { offset: 8, type: 'u64' },
    size: { offset: 16, type: 'u64' },
  },
});

export const vfio_iommu_spapr_tce_create = defineStruct({
  name: 'vfio_iommu_spapr_tce_create',
  size: 40,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    page_shift: { offset: 8, type: 'u32' },
    __resv1: { offset: 12, type: 'u32' },
    window_size: { offset: 16, type: 'u64' },
    levels: { offset: 24, type: 'u32' },
    __resv2: { offset: 28, type: 'u32' },
    /** out: the new window's PCI bus address */
    start_addr: { offset: 32, type: 'u64' },
  },
});

export const vfio_iommu_spapr_tce_remove = defineStruct({
  name: 'vfio_iommu_spapr_tce_remove',
  size: 16,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    start_addr: { offset: 8, type: 'u64' },
  },
});

// ---------------------------------------------------------------------------
// EEH (VFIO_EEH_PE_OP on the sPAPR container; drivers/vfio/vfio_spapr_eeh.c,
// since v6.2 in vfio_iommu_spapr_tce.c)

export const VFIO_EEH_PE_DISABLE = 0;
export const VFIO_EEH_PE_ENABLE = 1;
export const VFIO_EEH_PE_UNFREEZE_IO = 2;
export const VFIO_EEH_PE_UNFREEZE_DMA = 3;
/** The state is the ioctl's return value; nothing is copied back. */
export const VFIO_EEH_PE_GET_STATE = 4;
export const VFIO_EEH_PE_RESET_DEACTIVATE = 5;
export const VFIO_EEH_PE_RESET_HOT = 6;
export const VFIO_EEH_PE_RESET_FUNDAMENTAL = 7;
export const VFIO_EEH_PE_CONFIGURE = 8;
/** Needs argsz >= offsetofend(struct vfio_eeh_pe_op, err.mask) (40). */
export const VFIO_EEH_PE_INJECT_ERR = 9;

/** Return values of VFIO_EEH_PE_GET_STATE (same numbers as the RTAS PE states). */
export const VFIO_EEH_PE_STATE_NORMAL = 0;
export const VFIO_EEH_PE_STATE_RESET = 1;
export const VFIO_EEH_PE_STATE_STOPPED = 2;
export const VFIO_EEH_PE_STATE_STOPPED_DMA = 4;
export const VFIO_EEH_PE_STATE_UNAVAIL = 5;

export const vfio_eeh_pe_err = defineStruct({
  name: 'vfio_eeh_pe_err',
  size: 24,
  fields: {
    /** EEH_ERR_TYPE_32 / EEH_ERR_TYPE_64 (asm/eeh.h, ./eeh.ts) */
    type: { offset: 0, type: 'u32' },
    /** EEH_ERR_FUNC_* 0..19 */
    func: { offset: 4, type: 'u32' },
    addr: { offset: 8, type: 'u64' },
    mask: { offset: 16, type: 'u64' },
  },
});

/**
 * `err` is the only member of an anonymous union; its u64 alignment puts it
 * at 16, leaving 4 bytes of padding after `op`. The kernel copies
 * `minsz = offsetofend(op)` = 12 bytes first, and 40 for INJECT_ERR.
 */
export const vfio_eeh_pe_op = defineStruct({
  name: 'vfio_eeh_pe_op',
  size: 40,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    op: { offset: 8, type: 'u32' },
    err: { offset: 16, type: vfio_eeh_pe_err },
  },
});
