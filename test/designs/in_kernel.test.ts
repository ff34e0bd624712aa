/**
 * Seed option (a) as designs over the same layers: `a` / `a-realmode`
 * (mapping registered with KVM through the experimental kvm-vfio attribute)
 * and `a-vfio` (mapping told to VFIO with the experimental
 * VFIO_DEVICE_SET_ADDR_MAPPING). The guest's state query is answered in
 * KVM; recovery still goes through the VMM; a VM reaches only its own PEs.
 */
import { describe, expect, it } from 'vitest';
import type { HostProcess, IoctlArg } from '../../src/host/process.js';
import { Machine } from '../../src/machine/machine.js';
import { CostModel } from '../../src/sim/costs.js';
import { EBADF, EBUSY, EEXIST, EINVAL, ENOENT } from '../../src/uapi/errno.js';
import {
  KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
  kvm_vfio_eeh_mapping,
} from '../../src/uapi/experimental.js';
import {
  KVM_DEV_VFIO_GROUP,
  KVM_PPC_RTAS_DEFINE_TOKEN,
  KVM_SET_DEVICE_ATTR,
  kvm_device_attr,
  kvm_rtas_token_args,
} from '../../src/uapi/kvm.js';
import { RTAS_IBM_READ_SLOT_RESET_STATE2 } from '../../src/uapi/rtas.js';
import { PowernvAddrMapping } from '../../src/vfio/experimental_addr_mapping.js';
import { runMachine, scenario } from '../machine/helpers.js';

const Q = 'ibm,read-slot-reset-state2';
const IN_KERNEL = ['a', 'a-realmode', 'a-vfio'] as const;

/** The guest kernel's view of the state query: total time and calls (vm0). */
function guestQueries(m: Machine, guest = 'vm0') {
  const q = m.guest(guest)?.kernel.kernel.snapshot().rtas[Q];
  return { calls: q?.calls ?? 0, ns: q?.ns ?? 0 };
}

/** Every design that answers the state query in KVM (b and c: see guest_mapping.test.ts). */
describe.each([...IN_KERNEL, 'b', 'c'] as const)('design %s on the default scenario', (design) => {
  const { m, r } = runMachine(scenario({ ...defaultLike(), design }));
  const g = r.details.guests[0];

  it('answers the state query in KVM: no exit for it, other EEH calls still exit', () => {
    expect(g?.rtas[Q]?.calls).toBeGreaterThan(0);
    expect(g?.rtas[Q]?.exits).toBe(0);
    expect(m.guest('vm0')?.vm.stats.inKernelRtas).toBe(g?.rtas[Q]?.calls);
    expect(g?.vfioEehOps.GET_STATE).toBeUndefined();
    for (const call of ['ibm,set-slot-reset', 'ibm,configure-pe', 'ibm,set-eeh-option']) {
      expect(g?.rtas[call]?.exits).toBeGreaterThan(0);
      expect(g?.rtas[call]?.exits).toBe(g?.rtas[call]?.calls);
    }
  });

  it('still recovers end to end', () => {
    const nic0 = r.devices.find((d) => d.device === 'nic0');
    expect(nic0?.status).toBe('recovered');
    expect(nic0?.integrity.silentReads).toBe(0);
    expect(r.peStates.nic0).toBe(0);
    expect(g?.vfioEehOps).toMatchObject({ RESET_HOT: 1, RESET_DEACTIVATE: 1, CONFIGURE: 2 });
  });
});

/** The default scenario (one guest, nic0, DMA ping-pong, a DMA error at 5 ms) on the test topology. */
function defaultLike() {
  return {
    guests: [{ name: 'vm0', phbs: [{ devices: [{ device: 'nic0', driver: 'full' }] }] }],
    workloads: [{ kind: 'dma-pingpong', guest: 'vm0', device: 'nic0', interval: '2ms' }],
    faults: [{ kind: 'dma', target: 'nic0', at: '5ms' }],
    run_for: '5s',
  };
}

describe('state-query cost against design d (from the cost table)', () => {
  const c = new CostModel();
  const run = (design: string) => {
    const { m, r } = runMachine(scenario({ ...defaultLike(), design }));
    return { guest: guestQueries(m), kvm: r.details.guests[0]?.rtas[Q] };
  };
  const d = run('d');
  const a = run('a');
  const rm = run('a-realmode');
  const av = run('a-vfio');

  it('the same queries are made under each design', () => {
    expect(d.guest.calls).toBeGreaterThan(0);
    for (const x of [a, rm, av]) expect(x.guest.calls).toBe(d.guest.calls);
  });

  it('a saves the way to userspace and back, less the in-kernel table lookup', () => {
    // d: hcall_kernel + exit_to_userspace + qemu_rtas_dispatch + syscall_ioctl + OPAL chain
    // a: hcall_kernel + kvm_rtas_lookup + the same OPAL chain
    const saved =
      c.ns('exit_to_userspace') +
      c.ns('qemu_rtas_dispatch') +
      c.ns('syscall_ioctl') -
      c.ns('kvm_rtas_lookup');
    expect(d.guest.ns - a.guest.ns).toBe(saved * d.guest.calls);
    expect((d.kvm?.ns ?? 0) - (a.kvm?.ns ?? 0)).toBe(saved * d.guest.calls);
    expect(av.guest.ns).toBe(a.guest.ns);
  });

  it('a-realmode saves the virtual-mode entry on top', () => {
    const perQuery = c.ns('hcall_kernel') - c.ns('hcall_realmode');
    expect(a.guest.ns - rm.guest.ns).toBe(perQuery * a.guest.calls);
  });

  it("lands in the cost model's ranges (~28 us vs ~3.5-10 us)", () => {
    const mean = (x: { ns: number; calls: number }) => x.ns / x.calls / 1000;
    expect(mean(d.guest)).toBeGreaterThan(25);
    expect(mean(a.guest)).toBeLessThanOrEqual(10);
    expect(mean(rm.guest)).toBeGreaterThanOrEqual(3.5);
    expect(mean(rm.guest)).toBeLessThan(mean(a.guest));
  });
});

// ---- registration from the VMM's process -----------------------------------------

function sys(m: Machine, proc: HostProcess, fd: number, req: number, arg: IoctlArg): number {
  const p = m.sim.spawn('test-ioctl', m.host.syscalls.ioctl(proc, fd, req, arg), proc.name);
  m.sim.run(m.sim.now + 1_000_000);
  if (!p.done) throw new Error('ioctl did not finish');
  return p.result as number;
}

function setupOnly(design: string, guests?: unknown[]) {
  return new Machine(
    scenario({
      design,
      guests: guests ?? [{ name: 'vm0', phbs: [{ devices: [{ device: 'nic0' }] }] }],
    }),
    { trace: false },
  );
}

describe('design a: registration errors leave KVM unchanged', () => {
  const m = setupOnly('a');
  const g = m.guest('vm0');
  if (!g) throw new Error('no vm0');
  const { vmm, vm } = g;
  const snap = () => ({
    tokens: vm.rtasTokens.map((t) => [t.service.name, t.token]),
    maps: vm.eehMappings.map((x) => [x.group, x.buid, x.peConfigAddr]),
  });
  const before = snap();
  const token = (name: string, t: number) =>
    sys(
      m,
      vmm.proc,
      vmm.vmFd,
      KVM_PPC_RTAS_DEFINE_TOKEN,
      kvm_rtas_token_args.encode({ name, token: t }),
    );
  const mapping = (groupfd: number, buid = vmm.phbs[0]?.buid ?? 0n, pe = 1) =>
    sys(
      m,
      vmm.proc,
      vmm.kvmVfioFd as number,
      KVM_SET_DEVICE_ATTR,
      kvm_device_attr.encode({
        group: KVM_DEV_VFIO_GROUP,
        attr: KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
        addr: vmm.userPointer(
          new Uint8Array(kvm_vfio_eeh_mapping.encode({ groupfd, buid, pe_config_addr: pe })),
        ),
      }),
    );

  it('the VMM bound the state query and mapped its PHB', () => {
    expect(before.tokens).toEqual([[Q, BigInt(RTAS_IBM_READ_SLOT_RESET_STATE2)]]);
    expect(before.maps).toHaveLength(1);
  });

  it('-EEXIST (token taken), -ENOENT (no such service), -EBADF / -EINVAL (bad group fd)', () => {
    expect(token('ibm,set-xive', RTAS_IBM_READ_SLOT_RESET_STATE2)).toBe(-EEXIST);
    expect(token('ibm,no-such-service', 0x3000)).toBe(-ENOENT);
    expect(mapping(999)).toBe(-EBADF);
    expect(mapping(vmm.vmFd)).toBe(-EINVAL);
    expect(mapping(vmm.phbs[0]?.containerFd as number)).toBe(-EINVAL);
    expect(snap()).toEqual(before);
  });

  it('the upstream host (design d) has no in-kernel EEH service to bind', () => {
    const d = setupOnly('d');
    const v = d.guest('vm0')?.vmm;
    if (!v) throw new Error('no vm0');
    const rc = sys(
      d,
      v.proc,
      v.vmFd,
      KVM_PPC_RTAS_DEFINE_TOKEN,
      kvm_rtas_token_args.encode({ name: Q, token: 0x3000 }),
    );
    expect(rc).toBe(-ENOENT);
  });
});

describe('design a: a VMM can only map groups it opened', () => {
  const m = setupOnly('a', [
    { name: 'vm0', phbs: [{ devices: [{ device: 'nic0' }] }] },
    { name: 'vm1', phbs: [{ devices: [{ device: 'nic1' }] }] },
  ]);
  const vm0 = m.guest('vm0');
  const vm1 = m.guest('vm1');
  if (!vm0 || !vm1) throw new Error('no guests');
  const group0 = vm0.vmm.proc.file(vm0.vmm.phbs[0]?.groupFd as number);

  it("vm1's VMM cannot open vm0's group", () => {
    const p = m.sim.spawn(
      'open',
      m.host.syscalls.open(vm1.vmm.proc, `/dev/vfio/${vm0.vmm.phbs[0]?.iommuGroup}`),
      'vm1',
    );
    m.sim.run(m.sim.now + 1_000_000);
    expect(p.result).toBe(-EBUSY);
  });

  it("naming vm0's group fd number from vm1 never maps vm0's group", () => {
    const fd = vm0.vmm.phbs[0]?.groupFd as number;
    const before = vm1.vm.eehMappings.length;
    const rc = sys(
      m,
      vm1.vmm.proc,
      vm1.vmm.kvmVfioFd as number,
      KVM_SET_DEVICE_ATTR,
      kvm_device_attr.encode({
        group: KVM_DEV_VFIO_GROUP,
        attr: KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
        addr: vm1.vmm.userPointer(
          new Uint8Array(
            kvm_vfio_eeh_mapping.encode({
              groupfd: fd,
              buid: 0x800000020000005n,
              pe_config_addr: 1,
            }),
          ),
        ),
      }),
    );
    // the number is vm1's own fd (its own group, or not a group at all)
    if (vm1.vmm.proc.file(fd) === vm1.vmm.proc.file(vm1.vmm.phbs[0]?.groupFd as number)) {
      expect(rc).toBe(0);
    } else {
      expect(rc).toBeLessThan(0);
      expect(vm1.vm.eehMappings).toHaveLength(before);
    }
    expect(vm1.vm.eehMappings.some((x) => x.group === group0)).toBe(false);
  });
});

describe.each(IN_KERNEL)("design %s: a guest reaches only its own VM's PEs", (design) => {
  // vm0's nic0 on BUID base+1, vm1's nic1 on base+0: vm1 asks for base+1.
  const B1 = ['pe_addr(nic1)', 0x0800_0000, 0x2000_0001];
  const { m, r } = runMachine(
    scenario({
      design,
      guests: [
        { name: 'vm0', phbs: [{ buid: '0x800000020000001', devices: [{ device: 'nic0' }] }] },
        { name: 'vm1', phbs: [{ devices: [{ device: 'nic1' }] }] },
      ],
      steps: [
        { kind: 'knob', at: '1ms', knob: 'eeh_dev_break', device: 'nic0' },
        {
          id: 'own',
          kind: 'rtas',
          at: '2ms',
          guest: 'vm0',
          call: Q,
          args: ['pe_addr(nic0)', 'buid_hi(nic0)', 'buid_lo(nic0)'],
          nret: 4,
        },
        { id: 'other', kind: 'rtas', at: '2ms', guest: 'vm1', call: Q, args: B1, nret: 4 },
        {
          id: 'mine',
          kind: 'rtas',
          at: '2ms',
          guest: 'vm1',
          call: Q,
          args: ['pe_addr(nic1)', 'buid_hi(nic1)', 'buid_lo(nic1)'],
          nret: 4,
        },
        {
          id: 'bad-nret',
          kind: 'rtas',
          at: '2ms',
          guest: 'vm0',
          call: Q,
          args: ['pe_addr(nic0)', 'buid_hi(nic0)', 'buid_lo(nic0)'],
          nret: 3,
        },
      ],
      run_for: '3ms',
    }),
  );
  const step = (id: string) => r.steps.find((s) => s.id === id);

  it("vm0 sees its frozen PE; vm1 asking for vm0's BUID gets -3; vm1's own PE is fine", () => {
    expect(step('own')).toMatchObject({ rc: 0, rets: [2, 1, 1000] });
    expect(step('other')?.rc).toBe(-3);
    expect(step('mine')).toMatchObject({ rc: 0, rets: [0, 1, 1000] });
    expect(step('bad-nret')?.rc).toBe(-3);
  });

  it('all answered in KVM, none exited to a VMM', () => {
    for (const g of r.details.guests) {
      expect(g.rtas[Q]?.exits ?? 0).toBe(0);
      expect(g.rtas[Q]?.calls).toBeGreaterThan(0);
    }
    expect(m.guest('vm1')?.vmm.stats.eehOps.get('GET_STATE') ?? 0).toBe(0);
  });
});

describe('design a-vfio: two VMMs map the same guest address, each reaches its own PE', () => {
  const { m, r } = runMachine(
    scenario({
      design: 'a-vfio',
      guests: [
        { name: 'vm0', phbs: [{ devices: [{ device: 'nic0' }] }] },
        { name: 'vm1', phbs: [{ devices: [{ device: 'nic1' }] }] },
      ],
      steps: [
        { kind: 'knob', at: '1ms', knob: 'eeh_dev_break', device: 'nic0' },
        {
          id: 'vm0',
          kind: 'rtas',
          at: '2ms',
          guest: 'vm0',
          call: Q,
          args: ['pe_addr(nic0)', 'buid_hi(nic0)', 'buid_lo(nic0)'],
          nret: 5,
        },
        {
          id: 'vm1',
          kind: 'rtas',
          at: '2ms',
          guest: 'vm1',
          call: Q,
          args: ['pe_addr(nic1)', 'buid_hi(nic1)', 'buid_lo(nic1)'],
          nret: 5,
        },
      ],
      run_for: '3ms',
    }),
  );

  it('both VMMs registered (BUID base+0, 00:00.0) - no -EEXIST across owners', () => {
    const arch = m.vfio.pciArch;
    expect(arch).toBeInstanceOf(PowernvAddrMapping);
    if (!(arch instanceof PowernvAddrMapping)) return;
    const e = arch.entries();
    expect(e).toHaveLength(2);
    expect(e[0]?.buid).toBe(e[1]?.buid);
    expect(e[0]?.configAddr).toBe(e[1]?.configAddr);
    expect(e[0]?.owner).not.toBe(e[1]?.owner);
  });

  it("the same guest address names each VM's own PE", () => {
    expect(r.steps.find((s) => s.id === 'vm0')).toMatchObject({ rc: 0, rets: [2, 1, 1000, 0] });
    expect(r.steps.find((s) => s.id === 'vm1')).toMatchObject({ rc: 0, rets: [0, 1, 1000, 0] });
  });
});
