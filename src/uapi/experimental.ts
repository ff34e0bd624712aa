/**
 * EXPERIMENTAL ABI - never merged upstream. Nothing here exists in any Linux
 * header; it is the model's spelling of the 2013 design options for a
 * host-side guest-address -> host-PE mapping (seed options (a)), so that the
 * designs in src/designs/ can be compared with upstream's option (d).
 *
 * The ABI conformance test (test/uapi/abi.test.ts) excludes these from the
 * comparison with the C headers and instead checks that none of them collides
 * with any real VFIO / KVM ioctl number or kvm-vfio attribute in the installed
 * headers.
 *
 * This module imports nothing from ./vfio.ts or ./kvm.ts (they re-export from
 * here, and an import back would be an ES module cycle); the two type bytes
 * are repeated below and a unit test checks they are equal.
 */
import { defineStruct } from './codec.js';
import { _IO } from './ioctl.js';

/** = VFIO_TYPE (';') of ./vfio.ts */
const VFIO_TYPE_ = 0x3b;
/** = VFIO_BASE of ./vfio.ts */
const VFIO_BASE_ = 100;

// ---------------------------------------------------------------------------
// Option (a) via VFIO: "[PATCH 2/3] VFIO: VFIO_DEVICE_SET_ADDR_MAPPING command"
// (Gavin Shan, March 2013; discussed with Alex Williamson and Benjamin
// Herrenschmidt, never merged). QEMU tells the host kernel, on the device fd,
// the guest-visible address of the device - the virtual PHB's BUID and the
// device's PAPR config address - so that the host can answer the guest's EEH
// RTAS calls in the kernel. In the patch the ioctl fell through vfio-pci's
// ioctl switch to a weak arch hook, vfio_pci_arch_ioctl(), which powernv
// overrode.
//
// MODEL: the original patch text was not available; the struct below is the
// model's own layout, in VFIO's usual shape (argsz + flags first, minsz =
// offsetofend(config_addr)).

/**
 * nr = VFIO_BASE + 27 = 0x7F, the top of the ';' range that
 * Documentation/userspace-api/ioctl/ioctl-number.rst reserves for vfio.h
 * (0x64-0x7F; 0x80-0xFF belongs to iommufd.h). Real VFIO ioctls are numbered
 * upwards from VFIO_BASE (VFIO_BASE + 21 is the highest in Linux 6.1's
 * header), so the top of the range is the last place upstream would reach. The ABI test checks
 * that no real ';' ioctl in the installed headers uses this nr.
 */
export const VFIO_DEVICE_SET_ADDR_MAPPING_NR = VFIO_BASE_ + 27;

/** EXPERIMENTAL, device fd: struct vfio_device_addr_mapping. Never merged upstream. */
export const VFIO_DEVICE_SET_ADDR_MAPPING = _IO(VFIO_TYPE_, VFIO_DEVICE_SET_ADDR_MAPPING_NR);

/** EXPERIMENTAL. Never merged upstream. // MODEL: layout is the model's own. */
export const vfio_device_addr_mapping = defineStruct({
  name: 'vfio_device_addr_mapping',
  size: 24,
  fields: {
    argsz: { offset: 0, type: 'u32' },
    /** must be 0 */
    flags: { offset: 4, type: 'u32' },
    /** guest BUID of the virtual PHB (as in the guest device tree) */
    buid: { offset: 8, type: 'u64' },
    /** guest PAPR config address of the device: bus << 16 | devfn << 8 */
    config_addr: { offset: 16, type: 'u32' },
    __pad: { offset: 20, type: 'u32' },
  },
});

// ---------------------------------------------------------------------------
// Option (a) via KVM: Alex Williamson's suggestion in the same thread ("Maybe
// the mapping should be registered with KVM"). The natural place is the
// kvm-vfio device, which already links a VFIO group to a guest-visible object
// (KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE, for in-kernel H_PUT_TCE) and checks that
// the caller has the group fd open.

/**
 * EXPERIMENTAL attribute of group KVM_DEV_VFIO_GROUP (1), for
 * KVM_SET_DEVICE_ATTR on the kvm-vfio device; `addr` points to a
 * struct kvm_vfio_eeh_mapping. Never merged upstream.
 *
 * Upstream attributes of this group are small integers allocated from 1
 * (ADD 1, DEL 2, SET_SPAPR_TCE 3); 0xEE is far above them. The ABI test
 * checks it against every KVM_DEV_VFIO_* value in the installed header.
 */
export const KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING = 0xee;

/**
 * EXPERIMENTAL. Never merged upstream. // MODEL: layout is the model's own.
 * Tells KVM that the IOMMU group behind `groupfd` (one group = one host PE on
 * POWER) is the guest's PE at (`buid`, `pe_config_addr`), so that in-kernel
 * RTAS handlers can run the EEH calls on it.
 */
export const kvm_vfio_eeh_mapping = defineStruct({
  name: 'kvm_vfio_eeh_mapping',
  size: 24,
  fields: {
    groupfd: { offset: 0, type: 's32' },
    /** must be 0 */
    flags: { offset: 4, type: 'u32' },
    buid: { offset: 8, type: 'u64' },
    /** guest PE config address, as ibm,get-config-addr-info2 returns it */
    pe_config_addr: { offset: 16, type: 'u32' },
    __pad: { offset: 20, type: 'u32' },
  },
});
