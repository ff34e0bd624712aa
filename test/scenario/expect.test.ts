import { describe, expect, it } from 'vitest';
import { checkExpectations } from '../../src/scenario/expect.js';
import { parseScenario } from '../../src/scenario/load.js';
import {
  type DeviceOutcome,
  NO_INTEGRITY_ISSUES,
  type RunResult,
} from '../../src/scenario/result.js';

const scenario = (expectYaml: string) =>
  parseScenario(`
name: e
topology:
  phbs:
    - id: 0
      devices:
        - { name: nic0, model: testnic, bdf: "00:01.0" }
        - { name: nic1, model: testnic, bdf: "00:02.0" }
guests:
  - name: vm0
    phbs: [{ devices: [{ device: nic0 }, { device: nic1 }] }]
steps:
  - { id: st, kind: rtas, at: 1ms, guest: vm0, call: "ibm,read-slot-reset-state2", args: [1, 2, 3], nret: 4 }
expect:
${expectYaml}`);

const dev = (device: string, o: Partial<DeviceOutcome>): DeviceOutcome => ({
  device,
  owner: 'vm0',
  status: 'unaffected',
  freezes: 0,
  checks: 0,
  falsePositives: 0,
  integrity: { ...NO_INTEGRITY_ISSUES },
  ...o,
});

const result: RunResult = {
  scenario: 'e',
  seed: 1,
  design: 'd',
  endNs: 1e9,
  devices: [
    dev('nic0', {
      status: 'recovered',
      freezes: 1,
      recoveryNs: 2_100_000_000,
      integrity: { ...NO_INTEGRITY_ISSUES, silentReads: 2 },
    }),
    dev('nic1', {}),
  ],
  steps: [{ index: 0, id: 'st', rc: 0, rets: [2, 1, 1000] }],
  peStates: { nic0: 0, nic1: 'disabled' },
};

const verdicts = (y: string) =>
  checkExpectations(scenario(y), result).map(
    (v) => `${v.ok ? 'ok' : 'FAIL'} ${v.name}: ${v.detail}`,
  );

describe('checkExpectations', () => {
  it('checks device outcomes, by name or address', () => {
    expect(
      verdicts('  recovered: [nic0]\n  unaffected: ["0000:00:02.0"]\n  failed: [nic1]'),
    ).toEqual([
      'ok recovered nic0: recovered',
      'FAIL failed nic1: unaffected',
      'ok unaffected 0000:00:02.0: unaffected',
    ]);
    expect(verdicts('  recovered: all')).toEqual(['ok recovered nic0: recovered']);
  });
  it('checks integrity and recovery time bounds', () => {
    expect(verdicts('  max_silent_reads: 1\n  max_lost_ios: 0\n  max_recovery_time: 2s')).toEqual([
      'FAIL max_silent_reads 1: 2 silent reads',
      'ok max_lost_ios 0: 0 lost I/Os',
      'FAIL max_recovery_time 2.000 s: slowest recovery 2.100 s',
    ]);
  });
  it('checks freezes and PE states', () => {
    expect(
      verdicts('  freezes: { nic0: 1 }\n  pe_state: { nic0: normal, nic1: disabled }'),
    ).toEqual([
      'ok freezes nic0 = 1: 1 freezes',
      'ok pe_state nic0 = normal: state normal (0)',
      'ok pe_state nic1 = disabled: state disabled',
    ]);
    expect(verdicts('  pe_state: { nic0: 2 }')).toEqual([
      'FAIL pe_state nic0 = frozen (2): state normal (0)',
    ]);
  });
  it('checks step results (rets as a prefix)', () => {
    expect(verdicts('  steps: { st: { rc: 0, rets: [2, 1] } }')).toEqual([
      'ok steps.st.rc = 0: rc 0',
      'ok steps.st.rets = [2, 1]: rets [2, 1, 1000]',
    ]);
    expect(verdicts('  steps: { st: { rc: -3, rets: [4] } }')).toEqual([
      'FAIL steps.st.rc = -3: rc 0',
      'FAIL steps.st.rets = [4]: rets [2, 1, 1000]',
    ]);
  });
});
