/**
 * The VMM and KVM over the real layers below (hardware, OPAL, host kernel,
 * VFIO) with the real guest kernel on top: the guest boots from the VMM's
 * device tree, does MMIO straight to the passthrough BAR and DMA through
 * H_PUT_TCE -> VFIO MAP_DMA -> the PHB's TCEs, and recovers from a freeze
 * through RTAS exits -> VFIO_EEH_PE_OP -> the host EEH core -> OPAL.
 */
import { describe, expect, it } from 'vitest';
import { Opal } from '../../src/firmware/opal.js';
import { registerTestnicDrivers, testnicSlot } from '../../src/guest/drivers/testnic.js';
import { GuestKernel } from '../../src/guest/kernel.js';
import { startWorkload } from '../../src/guest/workloads/index.js';
import { HostKernel } from '../../src/host/host_kernel.js';
import { buildHardware } from '../../src/hw/topology.js';
import { Kvm } from '../../src/kvm/kvm.js';
import type { Task } from '../../src/sim/scheduler.js';
import { Sim } from '../../src/sim/sim.js';
import { ms, us } from '../../src/sim/time.js';
import { Vfio } from '../../src/vfio/vfio.js';
import { Vmm, type VmmStartResult } from '../../src/vmm/vmm.js';
import { ROOT_TOPOLOGY } from '../host/helpers.js';

function machine() {
  const sim = new Sim({ seed: 1 });
  const hw = buildHardware(sim, ROOT_TOPOLOGY);
  const opal = new Opal(sim, hw);
  const host = new HostKernel(sim, hw, opal, { vfio: ['nic0'] });
  const run = <T>(task: Task<T>, owner = 'host'): T => {
    const p = sim.spawn('t', task, owner);
    sim.run();
    expect(p.done).toBe(true);
    return p.result as T;
  };
  run(host.boot());
  const vfio = new Vfio(sim, host.vfioBackend());
  vfio.register(host.syscalls);
  const kvm = new Kvm(sim, { memory: hw.memory, mmio: hw });
  kvm.register(host.syscalls);
  const group = host
    .vfioBackend()
    .iommuGroups()
    .find((g) => g.devices().some((d) => d.vfioBound));
  if (!group) throw new Error('no vfio group');
  const vmm = new Vmm(
    sim,
    { syscalls: host.syscalls, memory: hw.memory, kvm },
    {
      name: 'vm0',
      ramSize: 64 << 20,
      phbs: [{ iommuGroup: group.id, devices: group.devices().map((d) => ({ host: d.name })) }],
    },
  );
  const started = run<VmmStartResult>(vmm.start(), 'vm0');
  const vm = kvm.vmOf(vmm.proc, vmm.vmFd);
  if (!vm) throw new Error('no vm');
  const kernel = new GuestKernel(sim, vm, {});
  registerTestnicDrivers(kernel);
  const boot = kernel.start();
  sim.run();
  expect(boot.done).toBe(true);
  const dev = kernel.devices[0];
  if (!dev) throw new Error('no guest device');
  return { sim, hw, host, vfio, kvm, vmm, vm, kernel, boot: boot.result, dev, started, run };
}

describe('VMM + KVM over the real host, with the real guest kernel', () => {
  it('boots the guest: devices from the device tree, EEH probed through RTAS exits', () => {
    const m = machine();
    expect(m.started).toEqual({ ok: true });
    expect(m.boot).toEqual({ phbs: 1, devices: 1, eeh: true, probe: { '0000:00:00.0': 0 } });
    // the guest's EEH probe and config accesses all went to the VMM
    const s = m.vm.stats.summary();
    expect(s.inKernelRtas).toBe(0);
    expect(s.byRtas['ibm,get-config-addr-info2']?.exits).toBeGreaterThan(0);
    expect(s.byRtas['ibm,read-pci-config']?.exits).toBeGreaterThan(0);
    // the driver mapped its DMA buffers with H_PUT_TCE, mirrored into VFIO
    expect(m.vmm.stats.tceMaps).toBe(s.byHcall.H_PUT_TCE?.calls);
    expect(m.vmm.stats.tceErrors).toBe(0);
  });

  it('healthy I/O: MMIO without exits, DMA ping-pong through the host TCEs', () => {
    const m = machine();
    const slot = testnicSlot(m.kernel, m.dev);
    const exits = m.vm.stats.exits;
    expect(m.run(slot.readId(), 'vm0')).toMatchObject({ ok: true, value: 0x544e_4943 });
    expect(m.vm.stats.exits).toBe(exits);
    expect(m.run(slot.dmaPingPong(6000), 'vm0')).toMatchObject({
      ok: true,
      value: { ok: true, bad: 0, bytes: 6000 },
    });
  });

  it('drives the guest recovery of a frozen PE through the VMM: state, thaw, hot reset, deactivate, configure', () => {
    const m = machine();
    startWorkload(m.kernel, { kind: 'mmio-read', device: 0, intervalNs: us(100), ops: 30 });
    const [fn] = m.hw.named('nic0');
    if (!fn) throw new Error('no nic0');
    const phb = m.hw.phbOf(fn);
    m.sim.sched.after(ms(1), () => phb.freezeSet(phb.peOf(fn), true, true));
    m.sim.run(ms(2100));
    const ops = m.sim.trace.find('vmm.eeh_op').map((r) => `${r.fields.op}:${r.fields.rc}`);
    // machine reset, the guest's boot-time ENABLE, then the recovery
    expect(ops.slice(0, 2)).toEqual(['ENABLE:0', 'ENABLE:0']);
    expect(ops.slice(2)).toEqual([
      'GET_STATE:2', // check_failure: frozen
      'GET_STATE:2',
      'GET_STATE:2',
      'UNFREEZE_IO:0', // eeh_reset_device tries MMIO first
      'GET_STATE:4',
      'CONFIGURE:0',
      'RESET_HOT:0',
      'RESET_DEACTIVATE:0',
    ]);
    expect(m.kernel.recoveriesOf(m.dev)).toHaveLength(1);
    expect(m.dev.pdev.driver?.name).toBe('testnic:full');
    // every guest state query cost one exit to the VMM and nothing in KVM
    const q = m.vm.stats.summary().byRtas['ibm,read-slot-reset-state2'];
    expect(q).toMatchObject({ inKernel: 0, exits: 4 });
  });

  // After RESET_DEACTIVATE the host restores the passed-through device's BARs
  // while its PE is still frozen (eeh_pe_reenable_devices()); config writes
  // reach a frozen PE's device (src/hw/phb.ts configWrite), so the device
  // comes back decoding its BARs and the driver's slot_reset succeeds.
  it('end to end: the guest recovers the frozen passthrough device and its I/O completes', () => {
    const m = machine();
    const w = startWorkload(m.kernel, {
      kind: 'mmio-read',
      device: 0,
      intervalNs: us(100),
      ops: 30,
    });
    const [fn] = m.hw.named('nic0');
    if (!fn) throw new Error('no nic0');
    const phb = m.hw.phbOf(fn);
    m.sim.sched.after(ms(1), () => phb.freezeSet(phb.peOf(fn), true, true));
    m.sim.run(ms(6000));
    const [rec] = m.kernel.recoveriesOf(m.dev);
    expect(rec).toMatchObject({ outcome: 'recovered', reset: true, result: 'RECOVERED' });
    expect(w.stats).toMatchObject({ done: true, completed: 30, lost: 0, badValues: 0 });
    expect(w.stats.retried).toBeGreaterThan(0);
    expect(phb.peOf(fn).frozen).toBe(false);
    const ops = m.sim.trace.find('vmm.eeh_op').map((r) => `${r.fields.op}:${r.fields.rc}`);
    // after the deactivate the guest waits for the PE and finds it normal
    const deactivate = ops.indexOf('RESET_DEACTIVATE:0');
    expect(deactivate).toBeGreaterThan(0);
    expect(ops.slice(deactivate + 1)).toContain('GET_STATE:0');
    expect(m.kernel.result(m.dev)).toMatchObject({
      status: 'recovered',
      integrity: { silentReads: 0, lostIos: 0 },
    });
  });
});
