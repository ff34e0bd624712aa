/** A host kernel on real hardware + firmware, booted, for host tests. */
import { expect } from 'vitest';
import { Opal } from '../../src/firmware/opal.js';
import { type HostConfig, HostKernel } from '../../src/host/host_kernel.js';
import type { HostPciDev } from '../../src/host/pci_dev.js';
import { buildHardware, type TopologySpec } from '../../src/hw/topology.js';
import type { Task } from '../../src/sim/scheduler.js';
import { Sim } from '../../src/sim/sim.js';

/** PHB 0: testnics nic0 / nic1 on the root bus, a dual-function device. */
export const ROOT_TOPOLOGY: TopologySpec = {
  phbs: [
    {
      id: 0,
      model: 'phb3',
      devices: [
        { model: 'testnic', bdf: '00:01.0', name: 'nic0' },
        { model: 'testnic', bdf: '00:02.0', name: 'nic1' },
        { model: 'dual_function', bdf: '00:03.0', name: 'dual' },
      ],
    },
  ],
};

/**
 * PHB 0 with a two-port switch at 00:01.0 (internal bus 1) and a testnic
 * below each port (buses 2 and 3), PEs by bus: PE of the upstream port,
 * a bus PE for the downstream ports (bus 1) and one bus PE per testnic.
 */
export const SWITCH_TOPOLOGY: TopologySpec = {
  phbs: [
    {
      id: 0,
      model: 'phb3',
      peGrouping: 'bus',
      devices: [
        { model: 'pcie_switch', bdf: '00:01.0', name: 'sw', ports: 2 },
        { model: 'testnic', bdf: '02:00.0', name: 'nic0' },
        { model: 'testnic', bdf: '03:00.0', name: 'nic1' },
      ],
    },
  ],
};

export interface Machine {
  sim: Sim;
  opal: Opal;
  host: HostKernel;
}

export function bootHost(spec: TopologySpec, config: HostConfig = {}, seed = 1): Machine {
  const sim = new Sim({ seed });
  const hw = buildHardware(sim, spec);
  const opal = new Opal(sim, hw);
  const host = new HostKernel(sim, hw, opal, config);
  const p = sim.spawn('boot', host.boot());
  sim.run();
  expect(p.done).toBe(true);
  return { sim, opal, host };
}

/** Runs a task as a host process until the machine is idle; returns its result. */
export function run<T>(m: Machine, task: Task<T>): T {
  const p = m.sim.spawn('test', task);
  m.sim.run();
  expect(p.done).toBe(true);
  return p.result as T;
}

export function dev(m: Machine, name: string): HostPciDev {
  const d = m.host.resolve(name)[0];
  if (!d) throw new Error(`no device ${name}`);
  return d;
}
