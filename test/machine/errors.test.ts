/** Scenarios the machine cannot assemble are reported as scenario errors, never as crashes. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { implementedDesigns } from '../../src/machine/designs.js';
import { Machine } from '../../src/machine/machine.js';
import { ScenarioError } from '../../src/scenario/load.js';
import { DESIGNS } from '../../src/scenario/schema/design.js';
import { scenario } from './helpers.js';

function buildError(input: Record<string, unknown>): ScenarioError {
  try {
    new Machine(scenario(input));
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error('the machine was built');
}

describe('scenario errors of the machine', () => {
  it('implements the four options, the variants of (a) and every +notify / +notify-only', () => {
    expect(implementedDesigns()).toEqual(
      expect.arrayContaining([
        'd',
        'a',
        'a-realmode',
        'a-vfio',
        'b',
        'c',
        'd+notify',
        'a+notify',
        'b+notify',
        'c+notify',
        'd+notify-only',
        'a-vfio+notify-only',
      ]),
    );
  });

  it('every design the scenario format accepts has an implementation', () => {
    expect(DESIGNS.filter((d) => !implementedDesigns().includes(d))).toEqual([]);
  });

  it('one virtual PHB with devices of two IOMMU groups', () => {
    const e = buildError({
      guests: [{ name: 'vm0', phbs: [{ devices: [{ device: 'nic0' }, { device: 'nic1' }] }] }],
    });
    expect(e.message).toContain('guests[0].phbs[0].devices');
    expect(e.message).toContain('must be in one IOMMU group');
    expect(e.message).toMatch(/group 0: 0000:00:01.0; group 1: 0000:00:02.0/);
  });

  it('one IOMMU group split between two guests', () => {
    const e = buildError({
      topology: {
        phbs: [
          {
            id: 0,
            devices: [
              { name: 'nic0', model: 'testnic', bdf: '00:01.0', pe: 3 },
              { name: 'nic1', model: 'testnic', bdf: '00:02.0', pe: 3 },
            ],
          },
        ],
      },
      guests: [
        { name: 'vm0', phbs: [{ devices: [{ device: 'nic0' }] }] },
        { name: 'vm1', phbs: [{ devices: [{ device: 'nic1' }] }] },
      ],
    });
    expect(e.message).toContain('guests[0].phbs[0].devices');
    expect(e.message).toContain(
      'IOMMU group 0 is split between virtual PHBs (0000:00:02.0 on guests[1].phbs[0])',
    );
  });

  it('a group passed through without all its functions', () => {
    const e = buildError({
      topology: {
        phbs: [{ id: 0, devices: [{ name: 'df0', model: 'dual_function', bdf: '00:01.0' }] }],
      },
      guests: [{ name: 'vm0', phbs: [{ devices: [{ device: '0000:00:01.1' }] }] }],
    });
    expect(e.message).toContain('guests[0].phbs[0].devices');
    expect(e.message).toContain('IOMMU group 0 also holds 0000:00:01.0');
  });

  it('a BUID QEMU would not give a virtual PHB', () => {
    const e = buildError({
      guests: [{ name: 'vm0', phbs: [{ buid: '0x1234', devices: [{ device: 'nic0' }] }] }],
    });
    expect(e.message).toContain('guests[0].phbs[0].buid');
    expect(e.message).toContain('SPAPR_PCI_BASE_BUID');
  });

  it('an RTAS step naming a device its guest does not have', () => {
    const e = buildError({
      guests: [{ name: 'vm0', phbs: [{ devices: [{ device: 'nic0' }] }] }],
      steps: [
        {
          kind: 'rtas',
          at: '1ms',
          guest: 'vm0',
          call: 'ibm,read-slot-reset-state2',
          args: ['pe_addr(nic1)', 0, 0],
          nret: 4,
        },
      ],
    });
    expect(e.message).toContain('steps[0].args[0]');
    expect(e.message).toContain("device 'nic1' is not passed through to vm0");
  });

  it('a host workload on a device without the host testnic driver', () => {
    const e = buildError({
      topology: {
        phbs: [{ id: 0, devices: [{ name: 'df0', model: 'dual_function', bdf: '00:01.0' }] }],
      },
      workloads: [{ kind: 'mmio-read', device: 'df0' }],
    });
    expect(e.message).toContain('workloads[0].device');
  });

  it('eehsim run --design <unknown> exits 2 and lists the designs', async () => {
    let err = '';
    const code = await runCli(['run', 'default', '--design', 'e'], {
      out: () => {},
      err: (t) => {
        err += t;
      },
      progress: process.stderr,
      signals: false,
    });
    expect(code).toBe(2);
    expect(err).toContain("argument 'e' is invalid");
    for (const d of DESIGNS) expect(err).toContain(d);
  });
});
