/**
 * EXPERIMENTAL ABI - never merged upstream: the host-PE identities that
 * seed options (b) "tell the guest kernel the mapping" and (c) "identity
 * mapping" put into guest RTAS arguments, and the kvm-vfio attribute a VMM
 * uses to learn the identity of a group it holds.
 *
 * Kept next to KVM (like uapi_memory.ts) rather than in src/uapi/experimental.ts:
 * TODO(uapi owner): move it there so that test/uapi/abi.test.ts checks the
 * attribute number against the installed <linux/kvm.h> as it does for 0xEE
 * (test/designs/guest_mapping.test.ts checks it against the upstream
 * attributes and 0xEE meanwhile).
 *
 * Design b (guest told the mapping): the identity is the host PE itself -
 * host PHB id + PE number, not an opaque handle. An opaque handle would need
 * a per-VM handle -> PE table in KVM, which is option (a) under another
 * key; the raw identity needs no new per-VM state - KVM's check is a
 * membership test over the groups the VMM linked with GROUP_ADD (upstream
 * kvm-vfio state). The price: the guest learns host topology (not a secret:
 * /sys/bus/pci/devices/<dev>/eeh_pe_config_addr is world-readable on the
 * host) and the identity is baked into the guest's device tree, so a
 * migration to a host with other PE numbers breaks it.
 *
 * Design c (identity): a virtual PHB's BUID is QEMU's base + the host PHB id
 * (so its index is the host PHB id) and each function sits at its host
 * bus/devfn; the guest's PAPR config address is then the host's.
 */
import { defineStruct } from '../uapi/codec.js';
import { type Buid, buid as toBuid } from '../uapi/ids.js';

/**
 * EXPERIMENTAL attribute of group KVM_DEV_VFIO_GROUP (1), for
 * KVM_GET_DEVICE_ATTR on the kvm-vfio device (upstream kvm-vfio has no
 * get_attr: -EPERM). `addr` points to a struct kvm_vfio_eeh_pe_id; KVM reads
 * `groupfd` (which must be in the caller's fd table and linked with
 * GROUP_ADD) and writes the group's host PE identity. Accepted where the
 * host accepts the other experimental kvm-vfio EEH attribute (0xEE).
 * Upstream attributes are 1..3; 0xEF is next to 0xEE, far above them.
 */
export const KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID = 0xef;

/** EXPERIMENTAL. // MODEL: layout is the model's own. */
export const kvm_vfio_eeh_pe_id = defineStruct({
  name: 'kvm_vfio_eeh_pe_id',
  size: 16,
  fields: {
    /** in */
    groupfd: { offset: 0, type: 's32' },
    /** in: must be 0 */
    flags: { offset: 4, type: 'u32' },
    /** out: host PHB id (= the host PCI domain on powernv) */
    phb: { offset: 8, type: 'u32' },
    /** out: host PE number */
    pe: { offset: 12, type: 'u32' },
  },
});

/**
 * Design b: the BUID words of a host-PE identity in a guest RTAS call. The
 * high word is a tag ("EEH\0") no virtual PHB has (QEMU's BUIDs are
 * 0x08000000_2xxxxxxx), so the guest's two address spaces never meet; the
 * low word is the host PHB id. args[0] is the host PE number.
 */
export const HOST_PE_BUID_TAG = 0x4545_4800_0000_0000n;
export const hostPeBuid = (phb: number): Buid => toBuid(HOST_PE_BUID_TAG | BigInt(phb >>> 0));
/** The host PHB id of a design-b BUID, or undefined when the tag is missing. */
export function hostPhbOfBuid(b: Buid): number | undefined {
  if (b >> 32n !== HOST_PE_BUID_TAG >> 32n) return undefined;
  return Number(b & 0xffff_ffffn);
}

/** QEMU's SPAPR_PCI_BASE_BUID (include/hw/pci-host/spapr.h). */
const SPAPR_BASE = 0x800000020000000n;
/** The largest PHB index QEMU gives (the machine's MAX_PHB_INDEX range). */
const MAX_IDENTITY_PHB = 0xff;

/** Design c: the BUID of the virtual PHB that stands for host PHB `phb`. */
export const identityBuid = (phb: number): Buid => toBuid(SPAPR_BASE + BigInt(phb));
/** The host PHB id of a design-c BUID, or undefined when it is none. */
export function identityPhbOfBuid(b: Buid): number | undefined {
  const i = b - SPAPR_BASE;
  return i >= 0n && i <= BigInt(MAX_IDENTITY_PHB) ? Number(i) : undefined;
}

/** A host function name `dddd:bb:dd.f` as (PHB id, bus, devfn), or undefined. */
export function parseHostFunction(
  name: string,
): { phb: number; bus: number; devfn: number } | undefined {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/i.exec(name);
  if (!m) return undefined;
  const [, d, b, s, f] = m as unknown as [string, string, string, string, string];
  return {
    phb: Number.parseInt(d, 16),
    bus: Number.parseInt(b, 16),
    devfn: (Number.parseInt(s, 16) << 3) | Number(f),
  };
}
