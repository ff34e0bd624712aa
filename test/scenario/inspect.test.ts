/** src/scenario/inspect.ts without a machine (the view `eehsim run` prints when no runner exists). */
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/builtin.js';
import { formatBytes, inspectScenario } from '../../src/scenario/inspect.js';

describe('inspectScenario without a machine', () => {
  it("gives each guest's first virtual PHB QEMU's base BUID (the index counts per guest)", () => {
    const text = inspectScenario(loadScenario('two-guests').scenario);
    expect(text.match(/vPHB BUID 0x800000020000000 \(default\)/g)).toHaveLength(2);
    expect(text).toContain('(PE numbers are assigned by the hardware builder: lowest free from 1)');
  });
  it('formats sizes', () => {
    expect([4096, 65536, 2 ** 28, 2 ** 30, 1000].map(formatBytes)).toEqual([
      '4 KiB',
      '64 KiB',
      '256 MiB',
      '1 GiB',
      '1000 B',
    ]);
  });
});
