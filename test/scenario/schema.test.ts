import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  listBuiltins,
  loadScenario,
  resolveScenarioPath,
  SCENARIO_DIR,
} from '../../src/scenario/builtin.js';
import { parseScenario, validateScenario } from '../../src/scenario/load.js';
import { parseDesign, scenarioJsonSchema } from '../../src/scenario/schema/index.js';

const builtins = listBuiltins();

describe('built-in scenarios', () => {
  it('exist, default first', () => {
    expect(builtins[0]?.name).toBe('default');
    expect(builtins.map((b) => b.name)).toEqual(
      expect.arrayContaining([
        'default',
        'two-guests',
        'no-handlers',
        'false-positive',
        'max-freezes',
        'rtas-steps',
      ]),
    );
    for (const b of builtins) expect(b.description).not.toBe('');
  });

  it('resolve by name or path', () => {
    expect(resolveScenarioPath('default')).toBe(`${SCENARIO_DIR}default.yaml`);
    expect(resolveScenarioPath('scenarios/default.yaml')).toBe('scenarios/default.yaml');
    expect(resolveScenarioPath('nope')).toBeUndefined();
    expect(() => loadScenario('nope')).toThrow(/no scenario 'nope'.*built-ins: default/);
  });

  it.each(builtins.map((b) => b.name))('%s validates and round-trips', (name) => {
    const { scenario } = loadScenario(name);
    // output -> input: the validated object is itself a valid scenario, unchanged
    expect(validateScenario(JSON.parse(JSON.stringify(scenario)))).toEqual(scenario);
    // and through YAML text
    expect(parseScenario(stringify(scenario))).toEqual(scenario);
  });

  it('default is one guest, one passed-through testnic, a DMA error at 5 ms, full recovery', () => {
    const { scenario: s } = loadScenario('default');
    expect(s.guests).toHaveLength(1);
    expect(s.topology.phbs[0]?.devices).toEqual([
      { name: 'nic0', model: 'testnic', bdf: '00:01.0' },
    ]);
    expect(s.guests[0]?.phbs[0]?.devices).toEqual([{ device: 'nic0', driver: 'full' }]);
    expect(s.faults).toEqual([{ kind: 'dma', target: 'nic0', at: 5_000_000, count: 1 }]);
    expect(s.expect.recovered).toEqual(['nic0']);
    expect(s.guests[0]?.phbs[0]?.buid).toBe('0x800000020000000');
  });
});

describe('JSON Schema export', () => {
  const schema = scenarioJsonSchema();
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);

  it.each(builtins.map((b) => [b.name, b.file]))('accepts the built-in %s', (_name, file) => {
    const ok = validate(parse(readFileSync(file, 'utf8')));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('rejects what the loader rejects (types, unknown fields, enums, negative times)', () => {
    const base = parse(readFileSync(`${SCENARIO_DIR}default.yaml`, 'utf8'));
    const bad = [
      { ...base, seed: 'x' },
      { ...base, fualts: [] },
      { ...base, design: 'e' },
      { ...base, run_for: -1 },
      { ...base, faults: [{ kind: 'dma', target: 'nic0', at: '-1ms' }] },
      {
        ...base,
        topology: { phbs: [{ id: 0, devices: [{ name: 'n', model: 'gpu', bdf: '00:01.0' }] }] },
      },
    ];
    for (const b of bad) {
      expect(validate(b), JSON.stringify(b).slice(0, 80)).toBe(false);
      expect(() => validateScenario(b)).toThrow();
    }
  });

  it('is the committed scenarios/eehsim.schema.json (regenerate: eehsim schema -o scenarios/eehsim.schema.json)', () => {
    const committed = JSON.parse(readFileSync(`${SCENARIO_DIR}eehsim.schema.json`, 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(schema)));
  });
});

describe('field forms', () => {
  const minimal = (extra: string) => `
name: t
topology:
  phbs:
    - id: 1
      devices:
        - { name: nic0, model: testnic, bdf: "00:01.0" }
        - { name: nic1, model: testnic, bdf: "00:02.0" }
guests:
  - name: vm0
    phbs: [{ devices: [{ device: nic0 }] }]
${extra}`;

  it('parses durations in every unit and as integer ns', () => {
    const s = parseScenario(
      minimal(`
run_for: 2s
costs: { hcall_kernel: 7.6us, pe_reset_hold: 100ms, mmio_read: 900, dma_page: 250ns }
faults:
  - { kind: dma, target: nic0, at: 1.5ms }`),
    );
    expect(s.run_for).toBe(2e9);
    expect(s.costs).toEqual({
      hcall_kernel: 7600,
      pe_reset_hold: 100_000_000,
      mmio_read: 900,
      dma_page: 250,
    });
    expect(s.faults[0]?.at).toBe(1_500_000);
  });

  it('fills in defaults', () => {
    const s = parseScenario(minimal(''));
    expect(s).toMatchObject({
      seed: 1,
      design: 'd',
      run_for: 10e9,
      faults: [],
      steps: [],
      expect: {},
    });
    expect(s.guests[0]).toMatchObject({ vcpus: 1, memory_mb: 256 });
    expect(s.topology.host.max_freezes).toBe(5);
  });

  it('accepts a BUID as an unquoted 64-bit integer, hex string or small number', () => {
    for (const [text, want] of [
      ['0x800000020000000', '0x800000020000000'],
      ['"0x800000020000001"', '0x800000020000001'],
      ['576460752840294402', '0x800000020000002'],
      ['16', '0x10'],
    ]) {
      const s = parseScenario(
        minimal('').replace('phbs: [{ devices', `phbs: [{ buid: ${text}, devices`),
      );
      expect(s.guests[0]?.phbs[0]?.buid).toBe(want);
    }
  });

  it('refers to devices by name or by DDDD:BB:DD.F (domain = PHB id)', () => {
    const s = parseScenario(
      minimal('faults: [{ kind: mmio, target: "0001:00:02.0", after_ops: 10 }]'),
    );
    expect(s.faults[0]?.target).toBe('0001:00:02.0');
    expect(() =>
      parseScenario(minimal('faults: [{ kind: mmio, target: "0000:02:00.0", at: 1ms }]')),
    ).toThrow(/no device '0000:02:00.0'/);
  });

  it('accepts the three step kinds', () => {
    const s = parseScenario(
      minimal(`
steps:
  - { id: st, kind: rtas, at: 1ms, guest: vm0, call: 'ibm,read-slot-reset-state2', args: [pe_addr(nic0), buid_hi(nic0), buid_lo(nic0)], nret: 4 }
  - { kind: rtas, at: 1ms, guest: vm0, call: 0x2022, args: [1, 2], nargs: 3, nret: 4 }
  - { kind: vfio, at: 2ms, guest: vm0, fd: container, request: VFIO_EEH_PE_OP, op: VFIO_EEH_PE_GET_STATE }
  - { kind: vfio, at: 2ms, guest: vm0, fd: device, device: nic0, request: 15205, data: "0c000000" }
  - { kind: knob, at: 3ms, knob: eeh_dev_break, device: nic1 }
  - { kind: knob, at: 3ms, knob: eeh_max_freezes, value: 2 }
expect:
  steps: { st: { rc: 0, rets: [2] } }`),
    );
    expect(s.steps.map((x) => x.kind)).toEqual(['rtas', 'rtas', 'vfio', 'vfio', 'knob', 'knob']);
  });

  it('parses designs', () => {
    expect(parseDesign('a+notify')).toEqual({ mapping: 'a', notify: true });
    expect(parseDesign('d')).toEqual({ mapping: 'd', notify: false });
  });
});

describe('README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  it('shows scenarios/tour.yaml as the full example, and it validates', () => {
    const block = /A full example, `scenarios\/tour\.yaml`:\n\n```yaml\n([\s\S]*?)```/.exec(readme);
    expect(block?.[1]).toBe(readFileSync(`${SCENARIO_DIR}tour.yaml`, 'utf8'));
    expect(loadScenario('tour').scenario.name).toBe('tour');
  });
  it('documents every command and exit code', () => {
    for (const c of [
      'run',
      'list',
      'schema',
      'inspect',
      'replay',
      'campaign',
      'worker',
      'compare',
    ]) {
      expect(readme).toContain(`\`eehsim ${c}`);
    }
    for (const code of [0, 1, 2, 3, 130])
      expect(readme).toMatch(new RegExp(`\\n\\| ${code} +\\| `));
  });
});
