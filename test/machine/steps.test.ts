/**
 * Raw steps through the real actors: RTAS calls built in guest RAM and made
 * with H_RTAS from the VM, VFIO ioctls from the VMM's process on its own fds,
 * host debug knobs.
 */
import { describe, expect, it } from 'vitest';
import { VFIO_EEH } from '../../src/uapi/vfio.js';
import { oneGuest, runMachine, scenario } from './helpers.js';

const ADDR = ['pe_addr(nic0)', 'buid_hi(nic0)', 'buid_lo(nic0)'];

describe('scenario steps', () => {
  const { m, r } = runMachine(
    scenario({
      guests: [
        { name: 'vm0', phbs: [{ buid: '0x800000020000003', devices: [{ device: 'nic0' }] }] },
      ],
      steps: [
        { id: 'break', kind: 'knob', at: '1ms', knob: 'eeh_dev_break', device: 'nic0' },
        { id: 'sysfs', kind: 'knob', at: '2ms', knob: 'eeh_pe_state', device: 'nic0' },
        {
          id: 'state',
          kind: 'rtas',
          at: '3ms',
          guest: 'vm0',
          call: 'ibm,read-slot-reset-state2',
          args: ADDR,
          nret: 4,
        },
        {
          id: 'mode',
          kind: 'rtas',
          at: '3ms',
          guest: 'vm0',
          call: 'ibm,get-config-addr-info2',
          args: ['config_addr(nic0)', 'buid_hi(nic0)', 'buid_lo(nic0)', 1],
          nret: 2,
        },
        {
          id: 'bad-buid',
          kind: 'rtas',
          at: '3ms',
          guest: 'vm0',
          call: 'ibm,read-slot-reset-state2',
          args: ['pe_addr(nic0)', 0x0800_0000, 0x2000_0000],
          nret: 4,
        },
        {
          id: 'bad-nret',
          kind: 'rtas',
          at: '3ms',
          guest: 'vm0',
          call: 'ibm,read-slot-reset-state2',
          args: ADDR,
          nret: 2,
        },
        {
          id: 'enable',
          kind: 'rtas',
          at: '4ms',
          guest: 'vm0',
          call: 'ibm,set-eeh-option',
          args: [...ADDR, 1],
          nret: 1,
        },
        {
          id: 'ext',
          kind: 'vfio',
          at: '5ms',
          guest: 'vm0',
          fd: 'container',
          request: 'VFIO_CHECK_EXTENSION',
          op: VFIO_EEH,
        },
        {
          id: 'group',
          kind: 'vfio',
          at: '5ms',
          guest: 'vm0',
          fd: 'group',
          device: 'nic0',
          request: 'VFIO_GROUP_GET_STATUS',
        },
        {
          id: 'info',
          kind: 'vfio',
          at: '5ms',
          guest: 'vm0',
          fd: 'device',
          device: 'nic0',
          request: 'VFIO_DEVICE_GET_INFO',
        },
        {
          id: 'short',
          kind: 'vfio',
          at: '5ms',
          guest: 'vm0',
          fd: 'container',
          request: 'VFIO_EEH_PE_OP',
          op: 'VFIO_EEH_PE_GET_STATE',
          argsz: 8,
        },
        {
          id: 'raw',
          kind: 'vfio',
          at: '5ms',
          guest: 'vm0',
          fd: 'container',
          request: 'VFIO_EEH_PE_OP',
          data: '0c0000000000000004000000',
        },
        { id: 'limit', kind: 'knob', at: '6ms', knob: 'eeh_max_freezes', value: 3 },
      ],
      run_for: '10ms',
    }),
    true,
  );
  const step = (id: string) => r.steps.find((s) => s.id === id);

  it('run in order with their results', () => {
    expect(r.steps.map((s) => s.id)).toEqual([
      'break',
      'sysfs',
      'state',
      'mode',
      'bad-buid',
      'bad-nret',
      'enable',
      'ext',
      'group',
      'info',
      'short',
      'raw',
      'limit',
    ]);
  });

  it('a host knob breaks the PE; sysfs shows it frozen', () => {
    expect(step('break')?.rc).toBe(0);
    // platform state: no MMIO/DMA active or enabled bit (0x78 when healthy); pe->state ISOLATED
    expect(step('sysfs')).toMatchObject({ rc: 0, rets: [0, 1] });
    expect(step('limit')?.rc).toBe(0);
    expect(m.host.eeh.maxFreezes).toBe(3);
  });

  it('RTAS calls from the guest with symbolic arguments on a non-default BUID', () => {
    expect(step('state')).toMatchObject({ rc: 0, rets: [2, 1, 1000] });
    expect(step('mode')).toMatchObject({ rc: 0, rets: [2] }); // shared
    expect(step('bad-buid')?.rc).toBe(-3);
    expect(step('bad-nret')?.rc).toBe(-3);
    expect(step('enable')?.rc).toBe(0);
    // each went through KVM as an exit to the VMM, from the VM's process
    const spans = m.sim.trace.find('scenario.step').filter((t) => t.fields.kind === 'rtas');
    expect(spans.every((t) => t.owner === 'vm0')).toBe(true);
    expect(r.details.guests[0]?.rtas['ibm,read-slot-reset-state2']?.exits).toBeGreaterThanOrEqual(
      3,
    );
  });

  it('VFIO ioctls from the VMM on its container, group and device fds', () => {
    expect(step('ext')?.rc).toBe(1);
    expect(step('group')?.rc).toBe(0);
    expect(step('info')?.rc).toBe(0);
    expect(step('short')?.rc).toBe(-22); // argsz < 12: -EINVAL
    expect(step('raw')?.rc).toBe(0); // GET_STATE after the ENABLE thawed the PE
    expect(r.peStates.nic0).toBe(0);
  });

  it('the PHB has the BUID the scenario gave it', () => {
    expect(m.guests[0]?.vmm.phbs[0]?.buid).toBe(0x800000020000003n);
    expect(m.guests[0]?.passthrough[0]?.guestAddress).toBe('0003:00:00.0');
  });
});

describe('guests and their virtual PHBs', () => {
  it('a guest with two virtual PHBs, one IOMMU group each', () => {
    const { m, r } = runMachine(
      scenario({
        guests: [
          {
            name: 'vm0',
            phbs: [{ devices: [{ device: 'nic0' }] }, { devices: [{ device: 'nic1' }] }],
          },
        ],
        workloads: [
          { kind: 'mmio-read', guest: 'vm0', device: 'nic0', interval: '1ms' },
          { kind: 'mmio-read', guest: 'vm0', device: 'nic1', interval: '1ms' },
        ],
        faults: [{ kind: 'mmio', target: 'nic1', at: '3ms' }],
        run_for: '4.5s',
      }),
    );
    expect(m.guests[0]?.passthrough.map((p) => p.guestAddress)).toEqual([
      '0000:00:00.0',
      '0001:00:00.0',
    ]);
    expect(r.devices.map((d) => [d.device, d.status])).toEqual([
      ['nic0', 'unaffected'],
      ['nic1', 'recovered'],
    ]);
  });

  it('the same guest with the oneGuest helper boots with its driver', () => {
    const { m } = runMachine(scenario({ guests: oneGuest('no-handlers'), run_for: '5ms' }));
    expect(m.guests[0]?.kernel.kernel.devices[0]?.pdev.driver?.name).toBe('testnic:no-handlers');
  });
});
