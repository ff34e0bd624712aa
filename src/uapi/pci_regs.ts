/**
 * PCI configuration space layout, as in linux/include/uapi/linux/pci_regs.h.
 * Names are spelled as in the header; values are checked against the system
 * header by test/uapi/pci_regs.test.ts (a C program prints the real values).
 * Masks that the header writes as `~0x0fUL` are given as 32-bit register
 * values here (the width of the register they apply to).
 */

export const PCI_CFG_SPACE_SIZE = 256;
export const PCI_CFG_SPACE_EXP_SIZE = 4096;
export const PCI_STD_HEADER_SIZEOF = 64;
export const PCI_STD_NUM_BARS = 6;

// --- Common header (all header types) ---
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_SPECIAL = 0x8;
export const PCI_COMMAND_INVALIDATE = 0x10;
export const PCI_COMMAND_VGA_PALETTE = 0x20;
export const PCI_COMMAND_PARITY = 0x40;
export const PCI_COMMAND_WAIT = 0x80;
export const PCI_COMMAND_SERR = 0x100;
export const PCI_COMMAND_FAST_BACK = 0x200;
export const PCI_COMMAND_INTX_DISABLE = 0x400;

export const PCI_STATUS = 0x06;
export const PCI_STATUS_IMM_READY = 0x01;
export const PCI_STATUS_INTERRUPT = 0x08;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_STATUS_66MHZ = 0x20;
export const PCI_STATUS_FAST_BACK = 0x80;
export const PCI_STATUS_PARITY = 0x100;
export const PCI_STATUS_DEVSEL_MASK = 0x600;
export const PCI_STATUS_SIG_TARGET_ABORT = 0x800;
export const PCI_STATUS_REC_TARGET_ABORT = 0x1000;
export const PCI_STATUS_REC_MASTER_ABORT = 0x2000;
export const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
export const PCI_STATUS_DETECTED_PARITY = 0x8000;

export const PCI_CLASS_REVISION = 0x08;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_HEADER_TYPE_MASK = 0x7f;
export const PCI_HEADER_TYPE_NORMAL = 0;
export const PCI_HEADER_TYPE_BRIDGE = 1;
export const PCI_HEADER_TYPE_CARDBUS = 2;
/** Multi-function bit of PCI_HEADER_TYPE (named in the header since Linux 6.6). */
export const PCI_HEADER_TYPE_MFD = 0x80;
export const PCI_BIST = 0x0f;

// --- Base address registers ---
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_BASE_ADDRESS_1 = 0x14;
export const PCI_BASE_ADDRESS_2 = 0x18;
export const PCI_BASE_ADDRESS_3 = 0x1c;
export const PCI_BASE_ADDRESS_4 = 0x20;
export const PCI_BASE_ADDRESS_5 = 0x24;
export const PCI_BASE_ADDRESS_SPACE = 0x01;
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_SPACE_MEMORY = 0x00;
export const PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x06;
export const PCI_BASE_ADDRESS_MEM_TYPE_32 = 0x00;
export const PCI_BASE_ADDRESS_MEM_TYPE_1M = 0x02;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
/** `~0x0fUL` applied to one 32-bit BAR register. */
export const PCI_BASE_ADDRESS_MEM_MASK = 0xffff_fff0;
/** `~0x03UL` applied to one 32-bit BAR register. */
export const PCI_BASE_ADDRESS_IO_MASK = 0xffff_fffc;

// --- Type 0 header (endpoints) ---
export const PCI_CARDBUS_CIS = 0x28;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_ROM_ADDRESS_ENABLE = 0x01;
export const PCI_ROM_ADDRESS_MASK = 0xffff_f800;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_MIN_GNT = 0x3e;
export const PCI_MAX_LAT = 0x3f;

// --- Type 1 header (PCI-to-PCI bridges, PCIe switch ports) ---
export const PCI_PRIMARY_BUS = 0x18;
export const PCI_SECONDARY_BUS = 0x19;
export const PCI_SUBORDINATE_BUS = 0x1a;
export const PCI_SEC_LATENCY_TIMER = 0x1b;
export const PCI_IO_BASE = 0x1c;
export const PCI_IO_LIMIT = 0x1d;
export const PCI_IO_RANGE_TYPE_MASK = 0x0f;
export const PCI_SEC_STATUS = 0x1e;
export const PCI_MEMORY_BASE = 0x20;
export const PCI_MEMORY_LIMIT = 0x22;
export const PCI_MEMORY_RANGE_TYPE_MASK = 0x0f;
/** `~0x0fUL` as a 32-bit value (applied to the 16-bit window registers). */
export const PCI_MEMORY_RANGE_MASK = 0xffff_fff0;
export const PCI_PREF_MEMORY_BASE = 0x24;
export const PCI_PREF_MEMORY_LIMIT = 0x26;
export const PCI_PREF_RANGE_TYPE_MASK = 0x0f;
export const PCI_PREF_RANGE_TYPE_32 = 0x00;
export const PCI_PREF_RANGE_TYPE_64 = 0x01;
export const PCI_PREF_RANGE_MASK = 0xffff_fff0;
export const PCI_PREF_BASE_UPPER32 = 0x28;
export const PCI_PREF_LIMIT_UPPER32 = 0x2c;
export const PCI_IO_BASE_UPPER16 = 0x30;
export const PCI_IO_LIMIT_UPPER16 = 0x32;
export const PCI_ROM_ADDRESS1 = 0x38;
export const PCI_BRIDGE_CONTROL = 0x3e;
export const PCI_BRIDGE_CTL_PARITY = 0x01;
export const PCI_BRIDGE_CTL_SERR = 0x02;
export const PCI_BRIDGE_CTL_ISA = 0x04;
export const PCI_BRIDGE_CTL_VGA = 0x08;
export const PCI_BRIDGE_CTL_MASTER_ABORT = 0x20;
export const PCI_BRIDGE_CTL_BUS_RESET = 0x40;
export const PCI_BRIDGE_CTL_FAST_BACK = 0x80;

// --- Capability list ---
export const PCI_CAP_LIST_ID = 0;
export const PCI_CAP_LIST_NEXT = 1;
export const PCI_CAP_FLAGS = 2;
export const PCI_CAP_SIZEOF = 4;
export const PCI_CAP_ID_PM = 0x01;
export const PCI_CAP_ID_MSI = 0x05;
export const PCI_CAP_ID_VNDR = 0x09;
export const PCI_CAP_ID_EXP = 0x10;
export const PCI_CAP_ID_MSIX = 0x11;

// --- PCI Express capability (offsets inside the capability) ---
export const PCI_EXP_FLAGS = 0x02;
export const PCI_EXP_FLAGS_VERS = 0x000f;
export const PCI_EXP_FLAGS_TYPE = 0x00f0;
export const PCI_EXP_TYPE_ENDPOINT = 0x0;
export const PCI_EXP_TYPE_LEG_END = 0x1;
export const PCI_EXP_TYPE_ROOT_PORT = 0x4;
export const PCI_EXP_TYPE_UPSTREAM = 0x5;
export const PCI_EXP_TYPE_DOWNSTREAM = 0x6;
export const PCI_EXP_DEVCAP = 0x04;
export const PCI_EXP_DEVCAP_FLR = 0x1000_0000;
export const PCI_EXP_DEVCTL = 0x08;
export const PCI_EXP_DEVCTL_CERE = 0x0001;
export const PCI_EXP_DEVCTL_NFERE = 0x0002;
export const PCI_EXP_DEVCTL_FERE = 0x0004;
export const PCI_EXP_DEVCTL_URRE = 0x0008;
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
export const PCI_EXP_DEVSTA = 0x0a;
export const PCI_EXP_DEVSTA_CED = 0x0001;
export const PCI_EXP_DEVSTA_NFED = 0x0002;
export const PCI_EXP_DEVSTA_FED = 0x0004;
export const PCI_EXP_DEVSTA_URD = 0x0008;
export const PCI_EXP_LNKCAP = 0x0c;
export const PCI_EXP_LNKCTL = 0x10;
export const PCI_EXP_LNKSTA = 0x12;
export const PCI_EXP_LNKSTA_CLS_8_0GB = 0x0003;
export const PCI_EXP_LNKSTA_NLW_X8 = 0x0080;
export const PCI_EXP_LNKSTA_DLLLA = 0x2000;
export const PCI_EXP_SLTCAP = 0x14;
export const PCI_EXP_SLTCTL = 0x18;
export const PCI_EXP_SLTSTA = 0x1a;
export const PCI_EXP_DEVCAP2 = 0x24;

// --- Extended capabilities (offset >= 0x100) ---
export const PCI_EXT_CAP_ID_ERR = 0x01;
export const PCI_EXT_CAP_ID_DSN = 0x03;
export const PCI_EXT_CAP_ID_VNDR = 0x0b;
export const PCI_EXT_CAP_ID = (header: number): number => header & 0x0000_ffff;
export const PCI_EXT_CAP_VER = (header: number): number => (header >>> 16) & 0xf;
export const PCI_EXT_CAP_NEXT = (header: number): number => (header >>> 20) & 0xffc;

// --- Advanced Error Reporting (offsets inside the AER capability) ---
export const PCI_ERR_UNCOR_STATUS = 0x04;
export const PCI_ERR_UNC_DLP = 0x0000_0010;
export const PCI_ERR_UNC_SURPDN = 0x0000_0020;
export const PCI_ERR_UNC_POISON_TLP = 0x0000_1000;
export const PCI_ERR_UNC_FCP = 0x0000_2000;
export const PCI_ERR_UNC_COMP_TIME = 0x0000_4000;
export const PCI_ERR_UNC_COMP_ABORT = 0x0000_8000;
export const PCI_ERR_UNC_UNX_COMP = 0x0001_0000;
export const PCI_ERR_UNC_RX_OVER = 0x0002_0000;
export const PCI_ERR_UNC_MALF_TLP = 0x0004_0000;
export const PCI_ERR_UNC_ECRC = 0x0008_0000;
export const PCI_ERR_UNC_UNSUP = 0x0010_0000;
export const PCI_ERR_UNCOR_MASK = 0x08;
export const PCI_ERR_UNCOR_SEVER = 0x0c;
export const PCI_ERR_COR_STATUS = 0x10;
export const PCI_ERR_COR_RCVR = 0x0000_0001;
export const PCI_ERR_COR_BAD_TLP = 0x0000_0040;
export const PCI_ERR_COR_BAD_DLLP = 0x0000_0080;
export const PCI_ERR_COR_REP_ROLL = 0x0000_0100;
export const PCI_ERR_COR_REP_TIMER = 0x0000_1000;
export const PCI_ERR_COR_ADV_NFAT = 0x0000_2000;
export const PCI_ERR_COR_MASK = 0x14;
export const PCI_ERR_CAP = 0x18;
export const PCI_ERR_HEADER_LOG = 0x1c;
