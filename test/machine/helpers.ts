/** Builds and runs machines from scenario objects or built-in names, for the machine tests. */
import { Machine } from '../../src/machine/machine.js';
import { machineResult } from '../../src/machine/result.js';
import { loadScenario } from '../../src/scenario/builtin.js';
import { validateScenario } from '../../src/scenario/load.js';
import type { Scenario } from '../../src/scenario/schema/index.js';

/** One PHB with testnics nic0 (00:01.0) and nic1 (00:02.0), each its own PE. */
export const TWO_NICS = {
  phbs: [
    {
      id: 0,
      devices: [
        { name: 'nic0', model: 'testnic', bdf: '00:01.0' },
        { name: 'nic1', model: 'testnic', bdf: '00:02.0' },
      ],
    },
  ],
} as const;

/** A scenario from a plain object (validated as a file would be). */
export function scenario(input: Record<string, unknown>): Scenario {
  return validateScenario({ name: 'test', topology: TWO_NICS, ...input }, 'test scenario');
}

/** Builds, runs and returns the machine with its result. */
export function runMachine(s: Scenario | string, trace = false) {
  const sc = typeof s === 'string' ? loadScenario(s).scenario : s;
  const m = new Machine(sc, { trace }).run();
  return { m, r: machineResult(m) };
}

/** A guest vm0 with nic0 passed through (driver behaviour `driver`). */
export function oneGuest(driver = 'full') {
  return [{ name: 'vm0', phbs: [{ devices: [{ device: 'nic0', driver }] }] }];
}
