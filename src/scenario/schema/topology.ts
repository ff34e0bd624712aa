/**
 * The host machine: PHBs and the devices under them.
 *
 * ALIGN: this is the scenario-side shape; it is translated to the hardware
 * builder's input (`TopologySpec` in src/hw/topology.ts) by the machine.
 * Keep the two in step when the builder changes.
 */
import { z } from 'zod';
import { Bdf, Count, Ident } from './common.js';

export const DEVICE_MODELS = {
  testnic: 'test NIC: BAR0 registers, link_status, doorbell, DMA engine',
  twofunc: 'two-function device whose functions share a PE',
  switch: 'PCIe switch (upstream + downstream ports): bus PEs and a PE tree',
} as const;
export type DeviceModel = keyof typeof DEVICE_MODELS;
const DEVICE_MODEL_NAMES = Object.keys(DEVICE_MODELS) as [DeviceModel, ...DeviceModel[]];

export const PHB_MODELS = ['phb3', 'phb4'] as const;

export const TopologyDevice = z.strictObject({
  name: Ident.meta({ description: 'Name used to refer to the device (e.g. nic0)' }),
  model: z.enum(DEVICE_MODEL_NAMES, {
    error: (iss) =>
      `unknown device model '${String(iss.input)}' (known: ${DEVICE_MODEL_NAMES.join(', ')})`,
  }),
  bdf: Bdf.meta({
    description: 'Bus:device.function under its PHB (the PCI domain is the PHB id)',
  }),
  pe: Count.optional().meta({
    description: 'Explicit PE number; devices with the same number share the PE',
  }),
});
export type TopologyDevice = z.output<typeof TopologyDevice>;

export const TopologyPhb = z.strictObject({
  id: Count.meta({ description: 'PHB id (OPAL PHB id and PCI domain)' }),
  model: z.enum(PHB_MODELS).default('phb3').meta({
    description: 'phb3 injects every error kind; phb4 only config errors',
  }),
  pe_grouping: z.enum(['bus', 'device']).default('bus').meta({
    description: 'Automatic PE assignment: one PE per bus or per device',
  }),
  devices: z.array(TopologyDevice).min(1, { error: 'a PHB needs at least one device' }),
});
export type TopologyPhb = z.output<typeof TopologyPhb>;

export const HostSettings = z.strictObject({
  max_freezes: Count.default(5).meta({
    description: 'eeh_max_freezes: freezes per hour before a PE is disabled',
  }),
});

export const Topology = z.strictObject({
  host: HostSettings.default({ max_freezes: 5 }),
  phbs: z.array(TopologyPhb).min(1, { error: 'the topology needs at least one PHB' }),
});
export type Topology = z.output<typeof Topology>;

/** `DDDD:BB:DD.F` of a device under PHB `phb`. */
export function fullBdf(phb: number, bdf: string): string {
  return `${phb.toString(16).padStart(4, '0')}:${bdf.toLowerCase()}`;
}
