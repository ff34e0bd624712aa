/** Every built-in scenario runs on the machine and meets its own `expect` section. */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/machine/runner.js';
import { listBuiltins, loadScenario } from '../../src/scenario/builtin.js';
import { checkExpectations } from '../../src/scenario/expect.js';

describe('built-in scenarios on the machine', () => {
  const names = listBuiltins().map((b) => b.name);

  it('lists the seven built-ins', () => {
    expect(names).toEqual(
      expect.arrayContaining([
        'default',
        'two-guests',
        'no-handlers',
        'false-positive',
        'max-freezes',
        'rtas-steps',
        'tour',
      ]),
    );
  });

  it.each(names)('%s meets its expectations', async (name) => {
    const { scenario } = loadScenario(name);
    const out = await runScenario(scenario, { trace: false });
    expect(out.result).toBeDefined();
    const failed = checkExpectations(scenario, out.result as never).filter((v) => !v.ok);
    expect(failed).toEqual([]);
    expect(out.summary).toContain('machine:');
  });
});
