/**
 * The machine as `eehsim inspect` reads it (src/machine/layout.ts): built to
 * the end of the set-up without workloads or faults, and the values it
 * reports are the ones a full machine of the same scenario has.
 */
import { describe, expect, it } from 'vitest';
import { pciName } from '../../src/guest/kernel.js';
import { bootForInspect, machineLayout } from '../../src/machine/layout.js';
import { Machine } from '../../src/machine/machine.js';
import { loadScenario } from '../../src/scenario/builtin.js';
import { ScenarioError } from '../../src/scenario/load.js';
import { scenario } from './helpers.js';

/** The machine `eehsim run` builds (workloads, faults and steps scheduled), booted. */
function runMachine(name: string): Machine {
  const m = new Machine(loadScenario(name).scenario, { trace: false });
  m.sim.run(m.t0 + 2_000_000); // the guests boot in about 1.6 ms of virtual time; faults come later
  return m;
}

describe('machine layout (eehsim inspect)', () => {
  for (const name of ['default', 'tour', 'two-guests']) {
    it(`${name}: the PEs, groups, BUIDs and guest addresses of the machine eehsim run builds`, () => {
      const layout = machineLayout(bootForInspect(loadScenario(name).scenario));
      const m = runMachine(name);
      expect(layout.setupNs).toBe(m.t0);
      // Host: every PHB, every PE with its functions, the host's groups and BARs.
      expect(layout.phbs.map((p) => p.id)).toEqual(m.hw.phbs.map((p) => p.id));
      m.hw.phbs.forEach((phb, i) => {
        const lp = layout.phbs[i];
        expect(lp?.mmioWindow).toEqual({ base: phb.window.base, size: phb.window.size });
        expect(lp?.pes.map((pe) => pe.number)).toEqual(phb.pes().map((pe) => pe.number));
        phb.pes().forEach((pe, k) => {
          const le = lp?.pes[k];
          expect(le?.parent).toBe(pe.parent?.number ?? null);
          expect(le?.functions.map((f) => f.address)).toEqual(
            pe.functions.map((fn) => pciName(phb.id, fn.bdf)),
          );
          for (const f of le?.functions ?? []) {
            const pdev = m.host.device(f.address);
            expect(pdev?.peNumber).toBe(pe.number);
            expect(f.iommuGroup).toBe(pdev?.iommuGroup);
            expect(f.driver).toBe(pdev?.driver?.name ?? null);
            expect(f.bars).toEqual(
              pdev?.hostResources.map((r) => ({ index: r.index, start: r.start, size: r.size })),
            );
          }
        });
      });
      // Guests: BUID, LIOBN, guest addresses, config and PE addresses, BARs.
      expect(layout.guests.map((g) => g.name)).toEqual(m.guests.map((g) => g.name));
      m.guests.forEach((g, gi) => {
        const lg = layout.guests[gi];
        expect(lg?.eeh).toBe(true);
        expect(lg?.phbs.map((p) => p.buid)).toEqual(
          g.vmm.phbs.map((p) => `0x${p.buid.toString(16)}`),
        );
        expect(Object.fromEntries(lg?.rtas.map((t) => [t.name, t.token]) ?? [])).toMatchObject({
          'ibm,read-slot-reset-state2': g.vmm.deviceTree?.rtasTokens['ibm,read-slot-reset-state2'],
          'ibm,set-slot-reset': g.vmm.deviceTree?.rtasTokens['ibm,set-slot-reset'],
        });
        for (const pt of g.passthrough) {
          const lp = lg?.phbs.find((p) => p.index === pt.phb.index);
          expect(lp?.liobn).toBe(pt.phb.liobn);
          expect(lp?.iommuGroup).toBe(pt.phb.iommuGroup);
          const d = lp?.devices.find((x) => x.host === pt.hostAddress);
          expect(d).toMatchObject({
            device: pt.ref,
            address: pt.guestAddress,
            configAddr: pt.dev.configAddr,
            peAddr: (pt.dev.bus << 16) + 1,
          });
          expect(d?.peAddr).toBe(g.kernel.kernel.device(pt.guestAddress)?.peAddr);
          expect(d?.bars).toEqual(
            pt.dev.bars.map((b) => ({ index: b.index, gpa: b.gpa, size: b.size, hpa: b.hpa })),
          );
        }
      });
    });
  }

  it('tour: the explicit PE 7 below the switch, and vm1 on its own BUID 0x800000020000000', () => {
    const layout = machineLayout(bootForInspect(loadScenario('tour').scenario));
    const pe7 = layout.phbs[0]?.pes.find((p) => p.number === 7);
    expect(pe7).toMatchObject({ parent: 2, explicit: 'topology.pes[0]' });
    expect(pe7?.functions[0]).toMatchObject({
      device: 'nic1',
      passedTo: 'vm1',
      driver: 'vfio-pci',
    });
    const vm1 = layout.guests[1]?.phbs[0];
    expect(vm1).toMatchObject({ buid: '0x800000020000000', hostPe: 'PHB#0-PE#7' });
    expect(vm1?.devices[0]).toMatchObject({
      address: '0000:00:01.0',
      configAddr: 0x800,
      peAddr: 1,
    });
  });

  it('a set-up-only machine starts no workload, fault or step', () => {
    const m = bootForInspect(loadScenario('tour').scenario);
    m.sim.run(m.t0 + 20_000_000_000);
    expect(m.faultLog).toEqual([]);
    expect(m.stepResults).toEqual([]);
    expect(m.hostWorkloads).toEqual([]);
    expect(m.guests.every((g) => g.workloads.length === 0)).toBe(true);
    expect(m.hw.phbs[0]?.pes().every((pe) => !pe.frozen)).toBe(true);
  });

  it('a set-up-only machine still checks workloads against the machine', () => {
    const s = scenario({
      topology: {
        phbs: [{ id: 0, devices: [{ name: 'df0', model: 'dual_function', bdf: '00:01.0' }] }],
      },
      workloads: [{ kind: 'link-status', device: 'df0', ops: 1 }],
    });
    expect(() => bootForInspect(s)).toThrow(ScenarioError);
    expect(() => bootForInspect(s)).toThrow(/workloads\[0\]\.device: 'df0' has no host testnic/);
  });
});
