import { describe, expect, it } from 'vitest';
import { runHwDemo, runHwDemoSim } from '../../src/cli/hw_demo.js';

describe('hardware demo', () => {
  it('shows the freeze, the all-1s reads, dropped writes, and recovery', () => {
    const { summary, result } = runHwDemo({ seed: 3 });
    expect(result.workload.verified).toBe(true);
    expect(result.falsePositive).toEqual({ linkStatus: '0xffffffff', freezeState: 0 });
    expect(result.inject.rc).toBe('OPAL_SUCCESS');
    expect(result.frozen).toMatchObject({
      dmaBlocked: true,
      memoryUnchanged: true,
      freezeState: 3,
      pciErrorType: 5,
      severity: 4,
      mmioLoads: ['0xffffffff', '0xffffffff'],
      configVendor: '0xffff',
      droppedStores: 2,
      deviceScratchAfterStore: 'unchanged',
    });
    expect(result.frozen.diag[0]).toMatchObject({
      source: 'dma',
      dir: 'write',
      kind: 'injected_addr',
    });
    expect(result.recovery).toEqual({
      states: [3, 2, 0, 4, 0],
      resetRc: ['OPAL_SUCCESS', 'OPAL_SUCCESS'],
      idAfter: '0x544e4943',
      dmaAfter: true,
    });
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
    expect(summary).toContain('freeze state 3');
  });

  it('is deterministic: same seed, byte-identical trace; another seed, other data', () => {
    const a = runHwDemoSim(11);
    const b = runHwDemoSim(11);
    expect(a.sim.trace.toText()).toBe(b.sim.trace.toText());
    expect(a.summary).toBe(b.summary);
    expect(a.sim.trace.records.length).toBeGreaterThan(20);
    const c = runHwDemoSim(12);
    expect(c.result.seed).toBe(12);
    expect(c.summary).not.toBe(a.summary);
  });
});
