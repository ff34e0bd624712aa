/**
 * The host machine: PHBs, the devices under each (a flat list by BDF, as
 * lspci shows them), the PE grouping.
 *
 * ALIGNED with the hardware builder's input, `TopologySpec` in
 * src/hw/topology.ts (model names come from there); the scenario spells
 * fields in snake_case and refers to devices by name or address, and
 * `topologySpecOf` (src/scenario/to_machine.ts) translates. The loader also
 * runs the builder's own checks. Keep the two in step when the builder
 * changes.
 *
 * Bus numbers are the ones enumeration gives: the root bus is 0; a switch
 * takes the next free bus for its internal bus and then, port by port, the
 * next free bus for each port's secondary bus, depth first. A device below
 * a port is listed with that port's bus in its BDF.
 */
import { z } from 'zod';
import { DEVICE_MODEL_NAMES, type DeviceModelName } from '../../hw/devices/index.js';
import { PHB_MODEL_NAMES } from '../../hw/phb_models.js';
import { Bdf, Count, DeviceRef, Ident } from './common.js';

/** Functions of each model (addresses a device reference may use). */
export const MODEL_FUNCTIONS: Record<DeviceModelName, number> = {
  testnic: 1,
  dual_function: 2,
  pcie_switch: 1,
};

const Window = z.strictObject({
  base: Count.meta({ description: 'Bus address (multiple of 1 MiB, below 4 GiB)' }),
  size: Count.meta({ description: 'Bytes (multiple of 1 MiB)' }),
});

export const TopologyDevice = z.strictObject({
  name: Ident.optional().meta({ description: 'Name used to refer to the device (e.g. nic0)' }),
  model: z.enum(DEVICE_MODEL_NAMES, {
    error: (iss) =>
      `unknown device model '${String(iss.input)}' (known: ${DEVICE_MODEL_NAMES.join(', ')})`,
  }),
  bdf: Bdf.meta({
    description: 'Bus:device.function (function 0 for dual_function and pcie_switch)',
  }),
  ports: Count.min(1).max(32).optional().meta({
    description: 'pcie_switch only: number of downstream ports (default 2)',
  }),
  pe: Count.optional().meta({
    description: 'Explicit PE number for all functions; equal numbers share a PE',
  }),
});
export type TopologyDevice = z.output<typeof TopologyDevice>;

export const TopologyPhb = z.strictObject({
  id: Count.max(0xffff).meta({ description: 'PHB id (OPAL PHB id and PCI domain)' }),
  model: z.enum(PHB_MODEL_NAMES).default('phb3').meta({
    description: 'phb3 injects every error kind; phb4 only config errors',
  }),
  mmio_window: Window.optional().meta({
    description: 'MMIO window (default: 256 MiB at 0x80000000 + 256 MiB * position)',
  }),
  dma_window_size: Count.optional().meta({
    description: "Bytes of each PE's 32-bit DMA window (default 1 GiB)",
  }),
  pe_grouping: z.enum(['device', 'bus']).default('device').meta({
    description: "Automatic PEs: all functions of a device ('device') or of a bus ('bus')",
  }),
  devices: z.array(TopologyDevice).min(1, { error: 'a PHB needs at least one device' }),
});
export type TopologyPhb = z.output<typeof TopologyPhb>;

export const TopologyPe = z.strictObject({
  number: Count.optional().meta({ description: 'PE number (default: lowest free from 1)' }),
  devices: z.array(DeviceRef).min(1).meta({ description: 'Devices (names or addresses), one PHB' }),
});

export const HostSettings = z.strictObject({
  max_freezes: Count.default(5).meta({
    description: 'eeh_max_freezes: freezes per hour before a PE is disabled',
  }),
});

export const Topology = z.strictObject({
  host: HostSettings.default({ max_freezes: 5 }),
  memory: z
    .strictObject({ base: Count.optional(), size: Count.optional() })
    .optional()
    .meta({ description: 'Host memory for DMA buffers and TCE tables (default 64 GiB at 4 GiB)' }),
  phbs: z.array(TopologyPhb).min(1, { error: 'the topology needs at least one PHB' }),
  pes: z.array(TopologyPe).optional().meta({
    description: 'Explicit PE grouping; devices not named get the default PEs',
  }),
});
export type Topology = z.output<typeof Topology>;

/** `DDDD:BB:DD.F` of a function under PHB `phb`. */
export function fullBdf(phb: number, bdf: string): string {
  return `${phb.toString(16).padStart(4, '0')}:${bdf.toLowerCase()}`;
}

export interface PlacedDevice {
  device: TopologyDevice;
  phb: number;
  /** `DDDD:BB:DD.F` of function 0. */
  address: string;
  /** Addresses of all its functions. */
  functions: string[];
  /** Schema path, e.g. ['topology', 'phbs', 0, 'devices', 1]. */
  path: (string | number)[];
  /** Name if given, else the address. */
  ref: string;
}

/** Every device of the topology, with its addresses. */
export function placedDevices(t: Topology): PlacedDevice[] {
  return t.phbs.flatMap((phb, i) =>
    phb.devices.map((d, j) => {
      const address = fullBdf(phb.id, d.bdf);
      const base = address.slice(0, -1);
      const functions = Array.from({ length: MODEL_FUNCTIONS[d.model] }, (_, f) => `${base}${f}`);
      return {
        device: d,
        phb: phb.id,
        address,
        functions,
        path: ['topology', 'phbs', i, 'devices', j],
        ref: d.name ?? address,
      };
    }),
  );
}

/** Devices by name and by the address of any of their functions. */
export class DeviceIndex {
  readonly all: PlacedDevice[];
  private readonly byRef = new Map<string, PlacedDevice>();

  constructor(t: Topology) {
    this.all = placedDevices(t);
    for (const d of this.all) {
      if (d.device.name !== undefined && !this.byRef.has(d.device.name))
        this.byRef.set(d.device.name, d);
      for (const f of d.functions) if (!this.byRef.has(f)) this.byRef.set(f, d);
    }
  }

  /** The device a reference (name or `DDDD:BB:DD.F`) names. */
  resolve(ref: string): PlacedDevice | undefined {
    return this.byRef.get(ref) ?? this.byRef.get(ref.toLowerCase());
  }

  /** Endpoints (devices that are not switches). */
  endpoints(): PlacedDevice[] {
    return this.all.filter((d) => d.device.model !== 'pcie_switch');
  }
}
