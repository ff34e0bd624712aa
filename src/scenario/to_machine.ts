/**
 * Translations from the scenario's sections to the builder inputs of the
 * machine's layers, so the machine does not re-interpret the file format.
 * MACHINE: extend with the guest / VMM / workload builder inputs when they
 * land (src/vmm, src/guest).
 */
import type { DeviceSpec, PeSpec, PhbSpec, TopologySpec } from '../hw/topology.js';
import type { Scenario } from './schema/index.js';
import { DeviceIndex, type TopologyDevice, type TopologyPhb } from './schema/topology.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function deviceSpec(d: TopologyDevice): DeviceSpec {
  const out: Mutable<DeviceSpec> = { model: d.model, bdf: d.bdf.toLowerCase() };
  if (d.name !== undefined) out.name = d.name;
  if (d.ports !== undefined) out.ports = d.ports;
  if (d.pe !== undefined) out.pe = d.pe;
  return out;
}

function phbSpec(p: TopologyPhb): PhbSpec {
  const out: Mutable<PhbSpec> = {
    id: p.id,
    model: p.model,
    peGrouping: p.pe_grouping,
    devices: p.devices.map(deviceSpec),
  };
  if (p.mmio_window) out.mmioWindow = p.mmio_window;
  if (p.dma_window_size !== undefined) out.dmaWindowSize = p.dma_window_size;
  return out;
}

/** The hardware builder's input (`buildHardware(sim, spec)`, src/hw/topology.ts). */
export function topologySpecOf(s: Scenario): TopologySpec {
  const index = new DeviceIndex(s.topology);
  const spec: Mutable<TopologySpec> = { phbs: s.topology.phbs.map(phbSpec) };
  if (s.topology.pes) {
    spec.pes = s.topology.pes.map((pe): PeSpec => {
      // A name selects the device (its listed address: all functions); an address is kept.
      const devices = pe.devices.map((ref) => {
        const d = index.resolve(ref);
        return /^[0-9a-f]{4}:/i.test(ref) || !d ? ref.toLowerCase() : d.address;
      });
      return pe.number === undefined ? { devices } : { number: pe.number, devices };
    });
  }
  if (s.topology.memory) spec.memory = s.topology.memory;
  return spec;
}
