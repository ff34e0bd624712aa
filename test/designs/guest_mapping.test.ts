/**
 * Seed options (b) "tell the guest kernel the mapping" and (c) "identity
 * mapping" as designs over the same layers. The state query is answered in
 * KVM (the same in-kernel path and cost as design a); what differs is where
 * the mapping lives - the guest's device tree (b) or the guest's PCI layout
 * itself (c) - and so what KVM must check: the guest is not trusted, any
 * number can be in its RTAS buffer.
 */
import { describe, expect, it } from 'vitest';
import {
  hostPeBuid,
  identityBuid,
  KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID,
} from '../../src/kvm/uapi_eeh_identity.js';
import type { Machine } from '../../src/machine/machine.js';
import { rtasStep } from '../../src/machine/steps.js';
import { loadScenario } from '../../src/scenario/builtin.js';
import { CostModel } from '../../src/sim/costs.js';
import { KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING } from '../../src/uapi/experimental.js';
import {
  KVM_DEV_VFIO_GROUP_ADD,
  KVM_DEV_VFIO_GROUP_DEL,
  KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE,
} from '../../src/uapi/kvm.js';
import { buidHi, buidLo } from '../../src/uapi/rtas.js';
import { vfioFileEehPe } from '../../src/vfio/kvm_export.js';
import { runMachine, scenario } from '../machine/helpers.js';

const Q = 'ibm,read-slot-reset-state2';

/** The default scenario (one guest, nic0, DMA ping-pong, a DMA error at 5 ms) on the test topology. */
function defaultLike() {
  return {
    guests: [{ name: 'vm0', phbs: [{ devices: [{ device: 'nic0', driver: 'full' }] }] }],
    workloads: [{ kind: 'dma-pingpong', guest: 'vm0', device: 'nic0', interval: '2ms' }],
    faults: [{ kind: 'dma', target: 'nic0', at: '5ms' }],
    run_for: '5s',
  };
}

function guestQueries(m: Machine, guest = 'vm0') {
  const q = m.guest(guest)?.kernel.kernel.snapshot().rtas[Q];
  return { calls: q?.calls ?? 0, ns: q?.ns ?? 0 };
}

/** The host PE of a device passed to `guest` (through the VMM's own group file). */
function hostPe(m: Machine, guest: string, ref: string) {
  const p = m.passthrough(guest, ref);
  const f = p?.vmm.proc.file(p.phb.groupFd as number);
  const t = f && vfioFileEehPe(f);
  if (!t) throw new Error(`no host PE for ${ref}`);
  return t.pe;
}

/** A raw guest RTAS call (as a scenario `rtas` step) run to completion now. */
function rawRtas(m: Machine, guest: string, args: number[], nret = 4) {
  const step = { kind: 'rtas', at: 0, guest, call: Q, args, nret } as unknown as Parameters<
    typeof rtasStep
  >[1];
  const p = m.sim.spawn('raw-rtas', rtasStep(m, step), guest);
  m.sim.run(m.sim.now + 1_000_000);
  if (!p.done) throw new Error('rtas did not finish');
  return p.result as { rc: number; rets: number[] };
}

// The state query in KVM and the end-to-end recovery of b and c are checked with a's
// in in_kernel.test.ts ('design %s on the default scenario').

describe('b and c cost per state query what a costs (from the cost table)', () => {
  const c = new CostModel();
  const run = (design: string) =>
    guestQueries(runMachine(scenario({ ...defaultLike(), design })).m);
  const d = run('d');
  const a = run('a');

  it.each(['b', 'c'])('%s: same queries, same in-kernel path as a', (design) => {
    const x = run(design);
    expect(x.calls).toBe(d.calls);
    const saved =
      c.ns('exit_to_userspace') +
      c.ns('qemu_rtas_dispatch') +
      c.ns('syscall_ioctl') -
      c.ns('kvm_rtas_lookup');
    expect(d.ns - x.ns).toBe(saved * d.calls);
    expect(x.ns).toBe(a.ns);
  });
});

describe('design b: the VMM tells the guest the host PE identity', () => {
  const { m } = runMachine(scenario({ ...defaultLike(), faults: [], design: 'b', run_for: '1ms' }));
  const vmm = m.guest('vm0')?.vmm;
  const node = vmm?.deviceTree?.phbs[0]?.devices[0];

  it('the device tree carries (host PHB, PE number) of the PCI function; the vPHB keeps its BUID', () => {
    const pe = hostPe(m, 'vm0', 'nic0');
    expect(node?.hostEehPe).toEqual({ buid: hostPeBuid(pe.phb), peAddr: pe.addr });
    expect(vmm?.deviceTree?.phbs[0]?.buid).toBe(vmm?.phbs[0]?.buid);
  });

  it('the experimental GET attribute number collides with no kvm-vfio attribute', () => {
    const used = [
      KVM_DEV_VFIO_GROUP_ADD,
      KVM_DEV_VFIO_GROUP_DEL,
      KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE,
      KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
    ];
    expect(used).not.toContain(KVM_DEV_VFIO_GROUP_GET_EEH_PE_ID);
  });

  it('other designs put no host identity in the device tree', () => {
    const { m: a } = runMachine(
      scenario({ ...defaultLike(), faults: [], design: 'a', run_for: '1ms' }),
    );
    expect(a.guest('vm0')?.vmm.deviceTree?.phbs[0]?.devices[0]?.hostEehPe).toBeUndefined();
  });
});

/** vm0: nic0, vm1: nic1, nic2 stays with the host; nic1's and nic2's PEs frozen. */
function threeNics(design: 'b' | 'c') {
  const m = runMachine(
    scenario({
      design,
      topology: {
        phbs: [
          {
            id: 0,
            devices: [
              { name: 'nic0', model: 'testnic', bdf: '00:01.0' },
              { name: 'nic1', model: 'testnic', bdf: '00:02.0' },
              { name: 'nic2', model: 'testnic', bdf: '00:03.0' },
            ],
          },
        ],
      },
      guests: [
        { name: 'vm0', phbs: [{ devices: [{ device: 'nic0' }] }] },
        { name: 'vm1', phbs: [{ devices: [{ device: 'nic1' }] }] },
      ],
      steps: [
        { kind: 'knob', at: '1ms', knob: 'eeh_dev_break', device: 'nic1' },
        { kind: 'knob', at: '1ms', knob: 'eeh_dev_break', device: 'nic2' },
      ],
      run_for: '2ms',
    }),
  ).m;
  const snapshot = () => ({
    pes: m.host.debugfs.pes(),
    hwFrozen: m.hw.phbs.flatMap((p) =>
      p.pes().map((pe) => [pe.mmioFrozen, pe.dmaFrozen, pe.stats]),
    ),
    exits: m.guests.map((g) => g.vm.stats.exits),
    eehOps: m.guests.map((g) => [...g.vmm.stats.eehOps]),
  });
  return { m, snapshot };
}

describe('design b: a guest naming a PE it does not own is refused, nothing is touched', () => {
  const { m, snapshot } = threeNics('b');
  const own = hostPe(m, 'vm0', 'nic0');
  const other = hostPe(m, 'vm1', 'nic1');
  const hostOwned = m.host.peOf(m.host.resolve('nic2')[0] as never);
  if (!hostOwned) throw new Error('nic2 has no PE');
  const words = (phb: number, pe: number) => [pe, buidHi(hostPeBuid(phb)), buidLo(hostPeBuid(phb))];

  it('the forged identities are real host PEs (frozen: a query would mark them ISOLATED)', () => {
    expect(other.phb).toBe(own.phb);
    expect(other.addr).not.toBe(own.addr);
    expect(hostOwned.addr).not.toBe(own.addr);
    expect(m.host.debugfs.pes().find((p) => p.addr === other.addr)?.passDevCnt).toBeGreaterThan(0);
  });

  it("vm0's own identity is answered in KVM", () => {
    expect(rawRtas(m, 'vm0', words(own.phb, own.addr))).toMatchObject({
      rc: 0,
      rets: [0, 1, 1000],
    });
  });

  it.each([
    ["another VM's PE (vm1's nic1)", () => words(other.phb, other.addr)],
    ['a host-owned PE (nic2)', () => words(hostOwned.phb, hostOwned.addr)],
    ['a PE number nobody has', () => words(own.phb, 0xfff)],
    ['the right PE number on another host PHB', () => words(own.phb + 1, own.addr)],
    [
      "vm0's PE under its virtual BUID (not a host identity)",
      () => [own.addr, 0x0800_0000, 0x2000_0000],
    ],
  ])('%s -> -3, no host PE, hardware PE, VMM or exit touched', (_what, args) => {
    const before = snapshot();
    const r = rawRtas(m, 'vm0', args());
    expect(r.rc).toBe(-3);
    expect(snapshot()).toEqual(before);
  });

  it("control: vm1 asking for its own frozen PE is answered and changes the snapshot (powernv's ISOLATED mark)", () => {
    const before = snapshot();
    expect(rawRtas(m, 'vm1', words(other.phb, other.addr))).toMatchObject({
      rc: 0,
      rets: [2, 1, 1000],
    });
    expect(snapshot()).not.toEqual(before);
  });
});

describe('design c: guest addresses are host addresses; foreign ones are refused', () => {
  const { m, snapshot } = threeNics('c');
  const cfg = (bus: number, dev: number, fn = 0) => (bus << 16) | (((dev << 3) | fn) << 8);
  const at = (phb: number, addr: number) => [
    addr,
    buidHi(identityBuid(phb)),
    buidLo(identityBuid(phb)),
  ];

  it("each vPHB has the host PHB's identity and each function its host bus/devfn", () => {
    for (const [guest, ref, dev] of [
      ['vm0', 'nic0', 1],
      ['vm1', 'nic1', 2],
    ] as const) {
      const p = m.passthrough(guest, ref);
      expect(p?.phb.buid).toBe(identityBuid(0));
      expect(p?.dev.configAddr).toBe(cfg(0, dev));
      expect(p?.hostAddress).toBe(`0000:00:0${dev}.0`);
    }
  });

  it("the PE address the VMM gives is the config address of the PE's first function", () => {
    const pe = m.guest('vm0')?.kernel.kernel.phbs[0]?.pe.children[0];
    expect(pe?.addr).toBe(cfg(0, 1));
    expect(rawRtas(m, 'vm0', at(0, cfg(0, 1)))).toMatchObject({ rc: 0, rets: [0, 1, 1000] });
  });

  it.each([
    ["vm1's nic1 (00:02.0)", () => at(0, cfg(0, 2))],
    ['host-owned nic2 (00:03.0)', () => at(0, cfg(0, 3))],
    ['an empty slot', () => at(0, cfg(0, 9))],
    ["nic0's address on another host PHB", () => at(1, cfg(0, 1))],
    ['a BUID outside the identity space', () => [cfg(0, 1), 0x4545_4800, 0]],
  ])('%s -> -3, nothing touched', (_what, args) => {
    const before = snapshot();
    expect(rawRtas(m, 'vm0', args()).rc).toBe(-3);
    expect(snapshot()).toEqual(before);
  });
});

describe('design c: the host dictates the layout', () => {
  it('two groups of one host PHB cannot be two vPHBs of one VM (one BUID per host PHB)', () => {
    expect(() =>
      runMachine(
        scenario({
          design: 'c',
          guests: [
            {
              name: 'vm0',
              phbs: [{ devices: [{ device: 'nic0' }] }, { devices: [{ device: 'nic1' }] }],
            },
          ],
          run_for: '1ms',
        }),
      ),
    ).toThrow(/duplicate index/);
  });

  it('devices of two host PHBs get two vPHBs with BUIDs from the host PHB ids (design-a)', () => {
    const s = loadScenario('design-a').scenario;
    const { m } = runMachine({ ...s, design: 'c', run_for: 1_000_000 });
    expect(m.passthrough('vm0', 'nic0')?.phb.buid).toBe(identityBuid(0));
    expect(m.passthrough('vm0', 'nic1')?.phb.buid).toBe(identityBuid(1));
  });
});
