/**
 * Guests: VMs, their virtual PHBs and the host devices passed through to
 * them, with the behaviour of the guest driver of each device.
 *
 * ALIGNED: driver behaviours are src/guest/drivers/testnic.ts's
 * TESTNIC_BEHAVIOURS (driver_override `testnic:<behaviour>`).
 */
import { z } from 'zod';
import type { TestnicBehaviour } from '../../guest/drivers/testnic.js';
import { Buid, Count, DeviceRef, Ident } from './common.js';

export const GUEST_DRIVERS = {
  full: 'all recovery callbacks (error_detected, mmio_enabled, slot_reset, resume)',
  'no-handlers': 'no EEH callbacks: the device is removed and rescanned',
  'slot-reset-fails': 'slot_reset returns DISCONNECT',
  'ignores-all-ones': 'consumes all-1s reads as data (never checks)',
} as const satisfies Record<TestnicBehaviour, string>;
export type GuestDriver = keyof typeof GUEST_DRIVERS;
export const GUEST_DRIVER_NAMES = Object.keys(GUEST_DRIVERS) as [GuestDriver, ...GuestDriver[]];

export const GuestDevice = z.strictObject({
  device: DeviceRef.meta({ description: 'Host device passed through (name or DDDD:BB:DD.F)' }),
  driver: z
    .enum(GUEST_DRIVER_NAMES, {
      error: (iss) =>
        `unknown guest driver behaviour '${String(iss.input)}' (known: ${GUEST_DRIVER_NAMES.join(', ')})`,
    })
    .default('full'),
  slot: Count.max(31).optional().meta({ description: 'Guest device number on the virtual PHB' }),
});
export type GuestDevice = z.output<typeof GuestDevice>;

export const GuestPhb = z.strictObject({
  buid: Buid.optional().meta({
    description: 'BUID of the virtual PHB (default: 0x800000020000000 + index, as QEMU)',
  }),
  devices: z.array(GuestDevice).min(1, { error: 'a virtual PHB needs at least one device' }),
});
export type GuestPhb = z.output<typeof GuestPhb>;

export const Guest = z.strictObject({
  name: Ident.meta({ description: 'VM name; also its trace owner (vm0, vm1, ...)' }),
  vcpus: Count.min(1).default(1),
  memory_mb: Count.min(1).default(256),
  phbs: z.array(GuestPhb).default([]).meta({
    description: 'Virtual PHBs; QEMU needs one IOMMU group per container, one container per PHB',
  }),
});
export type Guest = z.output<typeof Guest>;

/** QEMU's SPAPR_PCI_BASE_BUID (hw/ppc/spapr_pci.h). */
export const SPAPR_PCI_BASE_BUID = 0x800000020000000n;
