import { describe, expect, it } from 'vitest';
import { syntheticRunner } from '../../src/campaign/synthetic.js';
import {
  applyVariant,
  formatVariant,
  parseVary,
  runSeed,
  VaryError,
} from '../../src/campaign/vary.js';
import { loadScenario } from '../../src/scenario/builtin.js';
import { parseScenario } from '../../src/scenario/load.js';

const base = loadScenario('default').scenario;

describe('parseVary', () => {
  it('parses names, choices and ranges', () => {
    const specs = parseVary(
      'fault.at=1ms..50ms, fault.kind=dma|mmio,design,cost.hcall_kernel=1us..20us,fault[1].count=2..3',
    );
    expect(specs.map((s) => s.key)).toEqual([
      'fault.at',
      'fault.kind',
      'design',
      'cost.hcall_kernel',
      'fault[1].count',
    ]);
    expect(specs[0]?.domain).toEqual({ type: 'range', lo: 1_000_000, hi: 50_000_000, unit: 'ns' });
    expect(specs[1]?.domain).toEqual({ type: 'choice', values: ['dma', 'mmio'] });
    expect(specs[2]?.domain).toBeUndefined();
    expect(specs[4]).toMatchObject({ index: 1, field: 'fault.count' });
    expect(parseVary(undefined)).toEqual([]);
  });
  it.each([
    ['fault.when', /unknown --vary dimension/],
    ['fault.kind=dma|laser', /unknown value 'laser'/],
    ['fault.at=5ms..1ms', /empty range/],
    ['fault.at=soon', /expected a range/],
    ['fault.count=a..b', /bad range/],
    ['cost.warp_drive', /unknown cost 'warp_drive'/],
    ['design=e', /unknown value 'e'/],
    ['fault.at,fault.at', /given twice/],
  ])('rejects %s', (text, re) => {
    expect(() => parseVary(text)).toThrow(VaryError);
    expect(() => parseVary(text)).toThrow(re);
  });
});

describe('applyVariant', () => {
  const specs = parseVary('fault.at=1ms..2s,fault.kind,driver,design,cost.pe_reset_settle');

  it('is a pure function of the seed', () => {
    const a = applyVariant(base, specs, 12345);
    const b = applyVariant(base, specs, 12345);
    expect(a).toEqual(b);
    expect(a.scenario.seed).toBe(12345);
    expect(applyVariant(base, specs, 12346).values).not.toEqual(a.values);
  });

  it('draws within the given domains and returns a valid scenario', () => {
    for (let i = 0; i < 200; i++) {
      const { scenario, values } = applyVariant(base, specs, runSeed(9, i));
      const at = values['fault.at'] as number;
      expect(at).toBeGreaterThanOrEqual(1_000_000);
      expect(at).toBeLessThanOrEqual(2_000_000_000);
      expect(scenario.faults[0]).toMatchObject({ at, kind: values['fault.kind'] });
      expect(scenario.guests[0]?.phbs[0]?.devices[0]?.driver).toBe(values.driver);
      expect(scenario.design).toBe(values.design);
      const settle = values['cost.pe_reset_settle'] as number;
      expect(settle).toBeGreaterThanOrEqual(900_000_000);
      expect(settle).toBeLessThanOrEqual(3_600_000_000);
      expect(scenario.costs.pe_reset_settle).toBe(settle);
    }
  });

  it('adding a dimension does not change the values drawn for the others', () => {
    const a = applyVariant(base, parseVary('fault.at,fault.kind'), 77).values;
    const b = applyVariant(base, parseVary('fault.at,fault.kind,design'), 77).values;
    expect(b['fault.at']).toBe(a['fault.at']);
    expect(b['fault.kind']).toBe(a['fault.kind']);
  });

  it('adds a fault to a scenario without one', () => {
    const s = parseScenario(
      'name: nf\ntopology: {phbs: [{id: 0, devices: [{name: n0, model: testnic, bdf: "00:01.0"}]}]}\nrun_for: 1s',
    );
    const v = applyVariant(s, parseVary('fault.kind=mmio'), 1);
    expect(v.scenario.faults).toEqual([{ kind: 'mmio', target: 'n0', at: 100_000_000, count: 1 }]);
  });

  it('replaces after_ops by at', () => {
    const s = {
      ...base,
      faults: [{ kind: 'dma' as const, target: 'nic0', after_ops: 5, count: 1 }],
    };
    const v = applyVariant(s, parseVary('fault.at=1ms..1ms'), 1);
    expect(v.scenario.faults[0]).toEqual({ kind: 'dma', target: 'nic0', at: 1_000_000, count: 1 });
  });

  it('formats variants for people', () => {
    expect(formatVariant({ 'fault.at': 5_000_000, 'fault.kind': 'dma' })).toBe(
      'fault.at=5.000ms fault.kind=dma',
    );
  });

  it('run seeds are distinct and stable', () => {
    const seeds = Array.from({ length: 1000 }, (_, i) => runSeed(1, i));
    expect(new Set(seeds).size).toBe(1000);
    expect(runSeed(1, 0)).toBe(seeds[0]);
    expect(runSeed(2, 0)).not.toBe(seeds[0]);
  });
});

describe('the synthetic runner (campaign test double)', () => {
  it('gives results that depend on the variant', () => {
    const statuses = new Set<string>();
    const specs = parseVary('fault.kind,driver');
    for (let i = 0; i < 50; i++) {
      const { scenario } = applyVariant(base, specs, runSeed(3, i));
      const out = syntheticRunner(scenario, { trace: false });
      statuses.add(
        (out as { result: { devices: { status: string }[] } }).result.devices[0]!.status,
      );
    }
    expect(statuses).toEqual(new Set(['recovered', 'failed', 'unaffected']));
  });
  it('is deterministic, trace included', () => {
    const a = syntheticRunner(base, { trace: true });
    const b = syntheticRunner(base, { trace: true });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});
