/**
 * The `machine` scenario runner (registered in src/scenario/runner.ts): the
 * end-to-end machine assembled from the scenario, run to `run_for`, with
 * its result, trace and readable summary. Deterministic: the same scenario
 * (seed included) gives the same result and the same trace, byte for byte.
 */
import type { RunOutput, ScenarioRunner } from '../scenario/runner.js';
import { Machine } from './machine.js';
import { machineResult } from './result.js';
import { machineSummary } from './summary.js';

export const runScenario = ((scenario, opts): RunOutput => {
  const m = new Machine(scenario, { trace: opts.trace }).run();
  const result = machineResult(m);
  return {
    result,
    trace: opts.trace ? m.sim.trace.records : [],
    summary: machineSummary(m, result, result.details),
  };
}) satisfies ScenarioRunner;
