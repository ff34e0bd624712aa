/**
 * The KVM user ABI used by the model, spelled as in include/uapi/linux/kvm.h
 * and arch/powerpc/include/uapi/asm/kvm.h.
 *
 * Every export here (except those re-exported from ./experimental.ts) is
 * checked by test/uapi/abi.test.ts against the system headers compiled with
 * `cc`: <linux/kvm.h> of this (x86-64) host, and the powerpc uapi headers
 * (package linux-libc-dev-ppc64el-cross) for the names in
 * KVM_POWERPC_ONLY, whose structs only exist in powerpc's <asm/kvm.h>.
 *
 * Request numbers use the model's generic `_IOC` encoding (./ioctl.ts).
 *
 * PAPR hypercall numbers and return codes are not in any uapi header; they
 * are in ./hcall.ts.
 */
import { defineStruct } from './codec.js';
import { _IO, _IOW, _IOWR } from './ioctl.js';

export {
  KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
  kvm_vfio_eeh_mapping,
} from './experimental.js';

export const KVMIO = 0xae;
export const KVM_API_VERSION = 12;

// ---------------------------------------------------------------------------
// Capabilities (KVM_CHECK_EXTENSION)

export const KVM_CAP_DEVICE_CTRL = 89;
/** KVM_PPC_RTAS_DEFINE_TOKEN is available. */
export const KVM_CAP_PPC_RTAS = 91;
export const KVM_CAP_SPAPR_TCE_64 = 125;
/** KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE is available. */
export const KVM_CAP_SPAPR_TCE_VFIO = 142;

// ---------------------------------------------------------------------------
// Structs

/** KVM_CREATE_DEVICE: `fd` is written back. */
export const kvm_create_device = defineStruct({
  name: 'kvm_create_device',
  size: 12,
  fields: {
    /** in: KVM_DEV_TYPE_* */
    type: { offset: 0, type: 'u32' },
    /** out: device fd */
    fd: { offset: 4, type: 'u32' },
    /** in: KVM_CREATE_DEVICE_TEST */
    flags: { offset: 8, type: 'u32' },
  },
});

/** KVM_{SET,GET,HAS}_DEVICE_ATTR. `addr` is a userspace pointer to the attribute's data. */
export const kvm_device_attr = defineStruct({
  name: 'kvm_device_attr',
  size: 24,
  fields: {
    flags: { offset: 0, type: 'u32' },
    group: { offset: 4, type: 'u32' },
    attr: { offset: 8, type: 'u64' },
    addr: { offset: 16, type: 'u64' },
  },
});

/** Data of KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE: links a VFIO group to a KVM TCE table fd. */
export const kvm_vfio_spapr_tce = defineStruct({
  name: 'kvm_vfio_spapr_tce',
  size: 8,
  fields: {
    groupfd: { offset: 0, type: 's32' },
    tablefd: { offset: 4, type: 's32' },
  },
});

/**
 * KVM_PPC_RTAS_DEFINE_TOKEN (arch/powerpc/include/uapi/asm/kvm.h): binds
 * `token` to the in-kernel RTAS service `name`; token 0 unbinds it.
 * cf. arch/powerpc/kvm/book3s_rtas.c (names compared with strncmp over 120).
 */
export const kvm_rtas_token_args = defineStruct({
  name: 'kvm_rtas_token_args',
  size: 128,
  fields: {
    name: { offset: 0, type: 'char', count: 120 },
    token: { offset: 120, type: 'u64' },
  },
});

/** KVM_CREATE_SPAPR_TCE_64 (powerpc asm/kvm.h): a guest DMA window's TCE table; returns an fd. */
export const kvm_create_spapr_tce_64 = defineStruct({
  name: 'kvm_create_spapr_tce_64',
  size: 32,
  fields: {
    liobn: { offset: 0, type: 'u64' },
    page_shift: { offset: 8, type: 'u32' },
    flags: { offset: 12, type: 'u32' },
    /** in pages */
    offset: { offset: 16, type: 'u64' },
    /** in pages */
    size: { offset: 24, type: 'u64' },
  },
});

/**
 * `struct kvm_run`'s `papr_hcall` exit (KVM_EXIT_PAPR_HCALL): `nr` is the
 * hcall number (r3), `args` r4..r12; the VMM writes the result to `ret`.
 */
export const kvm_run_papr_hcall = defineStruct({
  name: 'kvm_run_papr_hcall',
  size: 88,
  fields: {
    nr: { offset: 0, type: 'u64' },
    ret: { offset: 8, type: 'u64' },
    args: { offset: 16, type: 'u64', count: 9 },
  },
  c: { type: 'struct kvm_run', member: 'papr_hcall' },
});

/**
 * The part of `struct kvm_run` (the vCPU's mmap'ed run area) that the model
 * uses. MODEL: partial - the real struct continues with the other exit
 * structs in the union and arch-specific sync regs (its size differs by arch).
 */
export const kvm_run = defineStruct({
  name: 'kvm_run',
  size: 120,
  fields: {
    request_interrupt_window: { offset: 0, type: 'u8' },
    immediate_exit: { offset: 1, type: 'u8' },
    exit_reason: { offset: 8, type: 'u32' },
    /** start of the exit union */
    papr_hcall: { offset: 32, type: kvm_run_papr_hcall },
  },
  c: { type: 'struct kvm_run', partial: true },
});

// ---------------------------------------------------------------------------
// ioctls

/** system fd (/dev/kvm) */
export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
/** system and VM fd */
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
/** VM fd */
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
/** vCPU fd */
export const KVM_RUN = _IO(KVMIO, 0x80);
/** VM fd, powerpc only: struct kvm_create_spapr_tce_64 */
export const KVM_CREATE_SPAPR_TCE_64 = _IOW(KVMIO, 0xa8, kvm_create_spapr_tce_64.size);
/**
 * VM fd, powerpc only: struct kvm_rtas_token_args. Shares nr 0xac with
 * KVM_SET_ONE_REG (a vCPU ioctl); the encoded size differs (128 vs 16).
 */
export const KVM_PPC_RTAS_DEFINE_TOKEN = _IOW(KVMIO, 0xac, kvm_rtas_token_args.size);
/** VM fd: struct kvm_create_device */
export const KVM_CREATE_DEVICE = _IOWR(KVMIO, 0xe0, kvm_create_device.size);
/** device fd (also VM and vCPU fds): struct kvm_device_attr */
export const KVM_SET_DEVICE_ATTR = _IOW(KVMIO, 0xe1, kvm_device_attr.size);
export const KVM_GET_DEVICE_ATTR = _IOW(KVMIO, 0xe2, kvm_device_attr.size);
export const KVM_HAS_DEVICE_ATTR = _IOW(KVMIO, 0xe3, kvm_device_attr.size);

/** The real ioctls of each fd kind, by name. */
export const KVM_IOCTLS = Object.freeze({
  system: Object.freeze({
    KVM_GET_API_VERSION,
    KVM_CREATE_VM,
    KVM_CHECK_EXTENSION,
    KVM_GET_VCPU_MMAP_SIZE,
  }),
  vm: Object.freeze({
    KVM_CHECK_EXTENSION,
    KVM_CREATE_VCPU,
    KVM_CREATE_SPAPR_TCE_64,
    KVM_PPC_RTAS_DEFINE_TOKEN,
    KVM_CREATE_DEVICE,
  }),
  vcpu: Object.freeze({ KVM_RUN }),
  device: Object.freeze({ KVM_SET_DEVICE_ATTR, KVM_GET_DEVICE_ATTR, KVM_HAS_DEVICE_ATTR }),
});

export type KvmFdKind = keyof typeof KVM_IOCTLS;

export function kvmIoctlName(kind: KvmFdKind, request: number): string | undefined {
  for (const [name, req] of Object.entries(KVM_IOCTLS[kind])) if (req === request) return name;
  return undefined;
}

// ---------------------------------------------------------------------------
// Devices (KVM_CREATE_DEVICE) and the kvm-vfio device (virt/kvm/vfio.c)

/** kvm_create_device.flags: only test whether the type is supported. */
export const KVM_CREATE_DEVICE_TEST = 1;

/** enum kvm_device_type */
export const KVM_DEV_TYPE_FSL_MPIC_20 = 1;
export const KVM_DEV_TYPE_FSL_MPIC_42 = 2;
export const KVM_DEV_TYPE_XICS = 3;
export const KVM_DEV_TYPE_VFIO = 4;

/** kvm-vfio attribute group. */
export const KVM_DEV_VFIO_GROUP = 1;
/** attr data: an s32 group fd */
export const KVM_DEV_VFIO_GROUP_ADD = 1;
export const KVM_DEV_VFIO_GROUP_DEL = 2;
/** attr data: struct kvm_vfio_spapr_tce */
export const KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE = 3;
/**
 * Newer name of the same group (the VFIO device cdev series, Linux 6.6, made
 * the group names aliases of these). Absent from older headers such as 6.1;
 * the ABI test accepts that and checks the value where it exists.
 */
export const KVM_DEV_VFIO_FILE = 1;
export const KVM_DEV_VFIO_FILE_ADD = 1;
export const KVM_DEV_VFIO_FILE_DEL = 2;

// ---------------------------------------------------------------------------
// kvm_run exit reasons used by the model

export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_INTERNAL_ERROR = 17;
/** A hypercall KVM does not handle in the kernel (e.g. H_RTAS with an unbound token). */
export const KVM_EXIT_PAPR_HCALL = 19;

// ---------------------------------------------------------------------------
// Header-version and architecture notes for the ABI test

/**
 * Names whose definition (or the struct their ioctl number needs) exists only
 * in arch/powerpc/include/uapi/asm/kvm.h: checked against the powerpc headers
 * only.
 */
export const KVM_POWERPC_ONLY: ReadonlySet<string> = new Set([
  'kvm_rtas_token_args',
  'kvm_create_spapr_tce_64',
  'KVM_PPC_RTAS_DEFINE_TOKEN',
  'KVM_CREATE_SPAPR_TCE_64',
]);

/** Names missing from older headers, with the version that added them. */
export const KVM_ADDED_IN: Readonly<Record<string, string>> = Object.freeze({
  KVM_DEV_VFIO_FILE: 'Linux 6.6',
  KVM_DEV_VFIO_FILE_ADD: 'Linux 6.6',
  KVM_DEV_VFIO_FILE_DEL: 'Linux 6.6',
});
