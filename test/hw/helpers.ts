/** Shared set-up for the hardware and firmware tests. */
import { assignResources } from '../../src/hw/assign.js';
import type { BarDef } from '../../src/hw/config_layout.js';
import type { PciFunction } from '../../src/hw/device.js';
import type { TestNic } from '../../src/hw/devices/testnic.js';
import type { Hardware } from '../../src/hw/hardware.js';
import type { Phb } from '../../src/hw/phb.js';
import { buildHardware, type TopologySpec } from '../../src/hw/topology.js';
import { Sim } from '../../src/sim/sim.js';

/** nic0 alone, a dual-function device, a switch with nic1 below port 0. */
export const MACHINE: TopologySpec = {
  phbs: [
    {
      id: 0,
      model: 'phb3',
      devices: [
        { model: 'testnic', bdf: '00:01.0', name: 'nic0' },
        { model: 'dual_function', bdf: '00:02.0', name: 'dual' },
        { model: 'pcie_switch', bdf: '00:03.0', name: 'sw', ports: 2 },
        { model: 'testnic', bdf: '02:00.0', name: 'nic1' },
      ],
    },
  ],
};

export interface Machine {
  sim: Sim;
  hw: Hardware;
  phb: Phb;
  nic: TestNic;
}

/** Builds `spec` (default MACHINE), assigns resources, returns nic0 and its PHB. */
export function machine(spec: TopologySpec = MACHINE, seed = 1): Machine {
  const sim = new Sim({ seed });
  const hw = buildHardware(sim, spec);
  assignResources(hw);
  const nic = (hw.named('nic0')[0] ?? hw.phbs[0]?.allFunctions()[0]) as TestNic;
  return { sim, hw, phb: hw.phbOf(nic), nic };
}

export function bar(fn: PciFunction, index: number): number {
  return fn.barAddress(fn.bars.find((b) => b.index === index) as BarDef);
}
