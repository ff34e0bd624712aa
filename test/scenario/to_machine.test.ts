import { describe, expect, it } from 'vitest';
import { buildHardware } from '../../src/hw/topology.js';
import { listBuiltins, loadScenario } from '../../src/scenario/builtin.js';
import { parseScenario } from '../../src/scenario/load.js';
import { RTAS_CALLS, VFIO_EEH_PE_OPS, VFIO_REQUESTS } from '../../src/scenario/schema/index.js';
import {
  eehOpOf,
  rtasCallOf,
  topologySpecOf,
  vfioRequestOf,
} from '../../src/scenario/to_machine.js';
import { Sim } from '../../src/sim/sim.js';
import { VFIO_DEVICE_SET_ADDR_MAPPING } from '../../src/uapi/experimental.js';
import { RTAS_IBM_READ_SLOT_RESET_STATE2 } from '../../src/uapi/rtas.js';
import * as vfio from '../../src/uapi/vfio.js';

describe('scenario -> hardware builder (src/hw TopologySpec)', () => {
  it.each(listBuiltins().map((b) => b.name))('%s builds', (name) => {
    const s = loadScenario(name).scenario;
    const hw = buildHardware(new Sim(), topologySpecOf(s));
    for (const phb of s.topology.phbs) {
      for (const d of phb.devices) if (d.name) expect(hw.named(d.name).length).toBeGreaterThan(0);
    }
  });

  it('switches, two-function devices, PE numbers and explicit PEs reach the builder', () => {
    const s = parseScenario(`
name: tree
topology:
  pes:
    - { number: 9, devices: [nic0, df0] }
  phbs:
    - id: 0
      devices:
        - { name: nic0, model: testnic, bdf: "00:01.0" }
        - { name: df0, model: dual_function, bdf: "00:02.0" }
        - { name: sw0, model: pcie_switch, bdf: "00:03.0", ports: 2 }
        - { name: nic1, model: testnic, bdf: "02:00.0" }
        - { name: nic2, model: testnic, bdf: "03:00.0", pe: 20 }
    - id: 1
      model: phb4
      pe_grouping: bus
      devices:
        - { name: nic3, model: testnic, bdf: "00:01.0" }
        - { name: nic4, model: testnic, bdf: "00:02.0" }
`);
    const hw = buildHardware(new Sim(), topologySpecOf(s));
    const phb0 = hw.phb(0)!;
    const peOf = (name: string) =>
      phb0.pes().find((p) => p.functions.includes(hw.named(name)[0]!))!;
    expect(peOf('nic0').number).toBe(9);
    expect(peOf('df0')).toBe(peOf('nic0'));
    expect(peOf('df0').functions).toHaveLength(3); // nic0 + both functions of df0
    expect(peOf('nic2').number).toBe(20);
    expect(peOf('nic1')).not.toBe(peOf('sw0'));
    // bus grouping on PHB 1: both root-bus devices in one PE
    const phb1 = hw.phb(1)!;
    expect(phb1.pes()).toHaveLength(1);
    expect(phb1.pes()[0]!.functions).toHaveLength(2);
  });

  it('bus numbering mistakes are reported at the device, with the line', () => {
    expect(() =>
      parseScenario(
        'name: x\ntopology:\n  phbs:\n    - id: 0\n      devices:\n        - { name: n, model: testnic, bdf: "00:01.0" }\n        - { name: m, model: testnic, bdf: "05:00.0" }\n',
        'x.yaml',
      ),
    ).toThrow(/^x\.yaml:7:43: topology\.phbs\[0\]\.devices\[1\]\.bdf: /);
  });
});

describe('step names resolve to the uapi numbers', () => {
  it('RTAS calls', () => {
    expect(rtasCallOf('ibm,read-slot-reset-state2')).toEqual({
      token: RTAS_IBM_READ_SLOT_RESET_STATE2,
      name: 'ibm,read-slot-reset-state2',
    });
    for (const name of RTAS_CALLS) expect(rtasCallOf(rtasCallOf(name).token).name).toBe(name);
    expect(rtasCallOf(0x7777)).toEqual({ token: 0x7777, name: undefined });
  });
  it('VFIO requests and EEH ops', () => {
    for (const name of VFIO_REQUESTS) {
      const want =
        name === 'VFIO_DEVICE_SET_ADDR_MAPPING'
          ? VFIO_DEVICE_SET_ADDR_MAPPING
          : (vfio as unknown as Record<string, number>)[name];
      expect(vfioRequestOf(name), name).toBe(want);
    }
    VFIO_EEH_PE_OPS.forEach((op) => {
      expect(eehOpOf(op)).toBe((vfio as unknown as Record<string, number>)[op]);
    });
    expect(VFIO_REQUESTS).toContain('VFIO_EEH_PE_OP');
  });
});
