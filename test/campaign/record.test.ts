import { describe, expect, it } from 'vitest';
import { recordOf, type VariantRun } from '../../src/campaign/record.js';
import { formatSummary, summarize } from '../../src/campaign/summary.js';
import { resolveScenarioPath } from '../../src/scenario/builtin.js';
import { loadScenarioFile } from '../../src/scenario/load.js';
import type { DeviceOutcome, RunResult } from '../../src/scenario/result.js';
import { NO_INTEGRITY_ISSUES } from '../../src/scenario/result.js';

const scenario = loadScenarioFile(resolveScenarioPath('default') as string);

function run(index: number, statuses: DeviceOutcome['status'][]): ReturnType<typeof recordOf> {
  const task: VariantRun = { index, seed: index, scenario, variant: {}, runner: 'machine' };
  const result: RunResult = {
    scenario: 'default',
    seed: index,
    design: 'd',
    endNs: 5e9,
    devices: statuses.map((status, i) => ({
      device: `nic${i}`,
      owner: 'vm0',
      status,
      freezes: status === 'unaffected' ? 0 : 1,
      checks: 1,
      falsePositives: 0,
      integrity: NO_INTEGRITY_ISSUES,
    })),
    steps: [],
    peStates: {},
  };
  return recordOf(task, result);
}

describe('campaign records', () => {
  it('a recovery still running at the end is unfinished, not failed', () => {
    expect(run(0, ['frozen']).status).toBe('unfinished');
    expect(run(1, ['frozen', 'failed']).status).toBe('failed');
    expect(run(2, ['recovered', 'unaffected']).status).toBe('recovered');
    expect(run(3, ['disabled']).status).toBe('failed');
  });

  it('unfinished runs are counted apart and stay out of the recovery rate', () => {
    const s = summarize([run(0, ['recovered']), run(1, ['frozen']), run(2, ['failed'])]);
    expect(s).toMatchObject({ recovered: 1, failed: 1, unfinished: 1, recoveryRate: 0.5 });
    expect(formatSummary(s, (seed) => `seed ${seed}`)).toMatch(/unfinished: 1 runs ended/);
  });
});
