/**
 * Translations from the scenario's sections to the builder inputs of the
 * machine's layers, so the machine does not re-interpret the file format.
 * MACHINE: extend with the guest / VMM / workload builder inputs when they
 * land (src/vmm, src/guest).
 */
import type { DeviceSpec, PeSpec, PhbSpec, TopologySpec } from '../hw/topology.js';
import { VFIO_DEVICE_SET_ADDR_MAPPING } from '../uapi/experimental.js';
import { RTAS_EEH_CALLS, RTAS_ERRINJCT_CALLS, RTAS_XICS_CALLS } from '../uapi/rtas.js';
import { VFIO_IOCTLS } from '../uapi/vfio.js';
import { type Scenario, VFIO_EEH_PE_OPS } from './schema/index.js';
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

/** Token and name of an RTAS step's call (a name from src/uapi/rtas.ts, or a raw token). */
export function rtasCallOf(call: string | number): { token: number; name: string | undefined } {
  if (typeof call === 'number') {
    const spec = ALL_RTAS.find((c) => c.token === call);
    return { token: call, name: spec?.name };
  }
  const spec = ALL_RTAS.find((c) => c.name === call);
  if (!spec) throw new RangeError(`unknown RTAS call ${call}`);
  return { token: spec.token, name: spec.name };
}

/** Request number of a VFIO step (a name from src/uapi/vfio.ts, or a raw number). */
export function vfioRequestOf(request: string | number): number {
  if (typeof request === 'number') return request;
  if (request === 'VFIO_DEVICE_SET_ADDR_MAPPING') return VFIO_DEVICE_SET_ADDR_MAPPING;
  for (const fd of Object.values(VFIO_IOCTLS)) {
    const n = (fd as Record<string, number>)[request];
    if (n !== undefined) return n;
  }
  throw new RangeError(`unknown VFIO request ${request}`);
}

/** Op number of a VFIO_EEH_PE_OP step (`VFIO_EEH_PE_GET_STATE` -> 4). */
export function eehOpOf(op: string | number): number {
  if (typeof op === 'number') return op;
  const i = (VFIO_EEH_PE_OPS as readonly string[]).indexOf(op);
  if (i < 0) throw new RangeError(`unknown VFIO_EEH_PE_OP op ${op}`);
  return i;
}

const ALL_RTAS = [...RTAS_EEH_CALLS, ...RTAS_ERRINJCT_CALLS, ...RTAS_XICS_CALLS];
