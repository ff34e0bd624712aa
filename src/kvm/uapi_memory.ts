/**
 * KVM user ABI pieces the model needs that src/uapi/kvm.ts does not have yet:
 * guest memory slots (include/uapi/linux/kvm.h) and a few powerpc limits.
 *
 * TODO(uapi owner): move these into src/uapi/kvm.ts so that
 * test/uapi/abi.test.ts checks them against <linux/kvm.h>; they are spelled
 * exactly as in the header (struct kvm_userspace_memory_region is 32 bytes on
 * every architecture: two u32 then three u64).
 */
import { defineStruct } from '../uapi/codec.js';
import { _IOW } from '../uapi/ioctl.js';
import { KVMIO } from '../uapi/kvm.js';

/** `struct kvm_userspace_memory_region` (KVM_SET_USER_MEMORY_REGION). */
export const kvm_userspace_memory_region = defineStruct({
  name: 'kvm_userspace_memory_region',
  size: 32,
  fields: {
    slot: { offset: 0, type: 'u32' },
    flags: { offset: 4, type: 'u32' },
    guest_phys_addr: { offset: 8, type: 'u64' },
    /** bytes */
    memory_size: { offset: 16, type: 'u64' },
    /** start of the userspace allocated memory */
    userspace_addr: { offset: 24, type: 'u64' },
  },
});

/** VM fd: struct kvm_userspace_memory_region */
export const KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, kvm_userspace_memory_region.size);

/** kvm_userspace_memory_region.flags */
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
export const KVM_MEM_READONLY = 1 << 1;

/** KVM_CHECK_EXTENSION capabilities used by the model (generic ones). */
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_NR_MEMSLOTS = 10;

/** KVM_CREATE_VM machine types on powerpc (arch/powerpc/include/uapi/asm/kvm.h). */
export const KVM_VM_PPC_HV = 1;
export const KVM_VM_PPC_PR = 2;

/**
 * KVM_USER_MEM_SLOTS on book3s (arch/powerpc/include/asm/kvm_host.h:
 * KVM_MAX_MEM_SLOTS 512).
 */
export const KVM_USER_MEM_SLOTS = 512;

/**
 * KVM_MAX_VCPU_IDS on book3s HV depends on the SMT mode and NR_CPUS.
 * MODEL: a fixed 2048 (NR_CPUS of a distro ppc64le kernel).
 */
export const KVM_MAX_VCPU_IDS = 2048;

/**
 * arch/powerpc/include/asm/kvm_book3s_64.h KVM_PAM: kvmppc_rtas_hcall()
 * masks the top 4 bits of r4 ("this is a guest real address").
 */
export const KVM_PAM = 0x0fff_ffff_ffff_ffffn;
