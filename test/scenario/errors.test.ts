import { describe, expect, it } from 'vitest';
import { loadScenarioFile, parseScenario, ScenarioError } from '../../src/scenario/load.js';

const GOOD = `name: t
topology:
  phbs:
    - id: 0
      devices:
        - name: nic0
          model: testnic
          bdf: "00:01.0"
guests:
  - name: vm0
    phbs:
      - devices:
          - device: nic0
faults:
  - kind: dma
    target: nic0
    at: 5ms
run_for: 1s
`;

/** Replaces `from` (must occur once) in the good file and returns the error text. */
function errorOf(from: string, to: string): string {
  expect(GOOD.split(from).length, `'${from}' occurs once`).toBe(2);
  try {
    parseScenario(GOOD.replace(from, to), 'bad.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    const msg = (err as Error).message;
    expect(msg).not.toMatch(/\n\s+at /); // never a stack trace
    return msg;
  }
  throw new Error('expected the file to be rejected');
}

describe('scenario errors name the field and the line', () => {
  it('accepts the good file', () => {
    expect(parseScenario(GOOD).name).toBe('t');
  });
  it('wrong type', () => {
    expect(errorOf('run_for: 1s', 'run_for: [1]')).toBe(
      'bad.yaml:18:10: run_for: expected a duration (durations are e.g. 250ms, 1.5us, 2s or an integer number of ns)',
    );
    expect(errorOf('name: t', 'name: 3')).toBe('bad.yaml:1:7: name: expected string, got number 3');
  });
  it('negative time', () => {
    expect(errorOf('at: 5ms', 'at: -5ms')).toMatch(
      /^bad\.yaml:17:9: faults\[0\]\.at: negative time '-5ms'/,
    );
    expect(errorOf('run_for: 1s', 'run_for: -100')).toMatch(
      /^bad\.yaml:18:10: run_for: negative time -100 \([^\n]*$/,
    );
  });
  it('not a duration', () => {
    expect(errorOf('at: 5ms', 'at: 5 min')).toMatch(
      /^bad\.yaml:17:9: faults\[0\]\.at: '5 min' is not a duration/,
    );
  });
  it('unknown device model', () => {
    expect(errorOf('model: testnic', 'model: gpu')).toMatch(
      /^bad\.yaml:7:18: topology\.phbs\[0\]\.devices\[0\]\.model: unknown device model 'gpu' \(known: testnic, dual_function, pcie_switch\)/,
    );
  });
  it('fault on a BDF (or name) that does not exist', () => {
    expect(errorOf('target: nic0', 'target: "0000:02:00.0"')).toMatch(
      /^bad\.yaml:16:13: faults\[0\]\.target: no device '0000:02:00\.0' in the topology \(devices: nic0\)/,
    );
    expect(errorOf('target: nic0', 'target: nic7')).toMatch(
      /^bad\.yaml:16:13: faults\[0\]\.target: no device 'nic7'/,
    );
  });
  it('fault after the end of the run', () => {
    expect(errorOf('at: 5ms', 'at: 2s')).toMatch(
      /^bad\.yaml:17:9: faults\[0\]\.at: fault at .* is not before run_for/,
    );
  });
  it('unknown cost', () => {
    expect(errorOf('run_for: 1s', 'run_for: 1s\ncosts:\n  hcall_kernal: 5us')).toMatch(
      /^bad\.yaml:20:3: costs\.hcall_kernal: unknown cost 'hcall_kernal' \(known: mmio_read, .*hcall_kernel/,
    );
  });
  it('unknown field, pointing at the key', () => {
    expect(errorOf('faults:', 'fualts:')).toMatch(
      /^bad\.yaml:14:1: fualts: unknown field 'fualts'/,
    );
  });
  it('missing required field, pointing at its parent', () => {
    expect(errorOf('          model: testnic\n', '')).toMatch(
      /^bad\.yaml:6:11: topology\.phbs\[0\]\.devices\[0\]\.model: missing \(required\)/,
    );
  });
  it('hardware topology errors (from the hardware builder), with the line', () => {
    expect(errorOf('bdf: "00:01.0"', 'bdf: "03:00.0"')).toMatch(
      /^bad\.yaml:8:16: topology\.phbs\[0\]\.devices\[0\]\.bdf: .*bus 03/,
    );
  });
  it('both at and after_ops', () => {
    expect(errorOf('at: 5ms', 'at: 5ms\n    after_ops: 3')).toMatch(
      /faults\[0\]\.after_ops: give exactly one of at \(a time\) or after_ops \(a count\)/,
    );
  });
  it('host workload on a passed-through device', () => {
    expect(
      errorOf('faults:', 'workloads:\n  - { kind: mmio-read, device: nic0 }\nfaults:'),
    ).toMatch(
      /^bad\.yaml:15:5: workloads\[0\]\.guest: device 'nic0' is passed through to vm0: name that guest/,
    );
  });
  it('device passed through to two guests', () => {
    expect(
      errorOf('faults:', '  - name: vm1\n    phbs: [{ devices: [{ device: nic0 }] }]\nfaults:'),
    ).toMatch(
      /^bad\.yaml:15:34: guests\[1\]\.phbs\[0\]\.devices\[0\]\.device: device 'nic0' is already passed through to vm0/,
    );
  });
  it('step on an unknown guest, expectation on an unknown step', () => {
    const msg = errorOf(
      'run_for: 1s',
      'run_for: 1s\nsteps:\n  - { kind: vfio, at: 1ms, guest: vm9, fd: container, request: VFIO_EEH_PE_OP }\nexpect:\n  steps: { nope: { rc: 0 } }',
    );
    expect(msg).toMatch(/bad\.yaml:20:35: steps\[0\]\.guest: no guest 'vm9' \(guests: vm0\)/);
    expect(msg).toMatch(/bad\.yaml:22:18: expect\.steps\.nope: no step with id 'nope'/);
  });
  it('bad YAML, with the line', () => {
    expect(errorOf('  - kind: dma', '  - kind: [dma')).toMatch(
      /^bad\.yaml:1[67]:\d+: bad YAML\/JSON: /,
    );
    expect(errorOf('name: t', 'name: t\nname: u')).toMatch(
      /^bad\.yaml:2:1: bad YAML\/JSON: Map keys must be unique/,
    );
  });
  it('bad JSON, with the line', () => {
    expect(() => parseScenario('{\n  "name": "x",\n  "topology": 3,,\n}', 'bad.json')).toThrow(
      /^bad\.json:3:17: bad YAML\/JSON/,
    );
  });
  it('JSON files get line numbers too', () => {
    const json = '{\n  "name": "x",\n  "seed": -1,\n  "topology": {"phbs": []}\n}';
    expect(() => parseScenario(json, 'x.json')).toThrow(
      /x\.json:3:11: seed: -1 is negative[^\n]*\nx\.json:4:24: topology\.phbs: the topology needs at least one PHB/,
    );
  });
  it('empty file and missing file', () => {
    expect(() => parseScenario('', 'e.yaml')).toThrow(/e\.yaml:1:1: the scenario is empty/);
    expect(() => loadScenarioFile('/nonexistent/x.yaml')).toThrow(/x\.yaml: no such file/);
  });
  it('reports every problem, in line order', () => {
    const msg = errorOf('name: t', 'name: 3\nseed: x');
    expect(msg.split('\n').map((l) => l.split(':')[1])).toEqual(['1', '2']);
  });
});
