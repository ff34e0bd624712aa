/**
 * The machine the adversarial-guest fuzz runs on, and the state a guest
 * must never reach: one PHB with nic0 (passed to vm0, which runs a DMA
 * workload), nic1 (passed to vm1, the adversary) and nic2 (kept by the
 * host, whose driver runs a workload). `protectedState()` is everything
 * outside vm1's own PE and RAM; a run with the adversary must leave it equal
 * to the same machine run to the same virtual time without one.
 */
import type { HostMemory, MemoryRegion } from '../../src/hw/memory.js';
import { hostPeBuid, identityBuid } from '../../src/kvm/uapi_eeh_identity.js';
import { Machine } from '../../src/machine/machine.js';
import { validateScenario } from '../../src/scenario/load.js';
import type { DesignName } from '../../src/scenario/schema/design.js';
import { ms } from '../../src/sim/time.js';

/** Virtual time the adversary starts at and the run ends at (scenario time). */
export const ADVERSARY_START = ms(2);
export const HORIZON = ms(1500);

export function fuzzScenario(design: DesignName) {
  return validateScenario(
    {
      name: 'adversarial-guest',
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
        { name: 'vm0', memory_mb: 64, phbs: [{ devices: [{ device: 'nic0' }] }] },
        { name: 'vm1', memory_mb: 64, phbs: [{ devices: [{ device: 'nic1' }] }] },
      ],
      workloads: [
        { kind: 'dma-pingpong', guest: 'vm0', device: 'nic0', interval: '20ms', bytes: 4096 },
        { kind: 'link-status', device: 'nic2', interval: '25ms' },
      ],
      run_for: HORIZON,
    },
    'adversarial-guest fuzz',
  );
}

/** A fresh machine of `design`, set up (not run). */
export function fuzzMachine(design: DesignName): Machine {
  return new Machine(fuzzScenario(design), { trace: false });
}

/** Runs `m` to scenario time `t`. */
export function runTo(m: Machine, t: number): void {
  m.sim.run(m.t0 + t);
}

export function guestOf(m: Machine, name: string) {
  const g = m.guest(name);
  if (!g) throw new Error(`no guest ${name}`);
  return g;
}

/** vm1's own host RAM: the regions its VMM process mapped. */
export function vm1Regions(m: Machine): MemoryRegion[] {
  return guestOf(m, 'vm1').vmm.proc.memory;
}

/**
 * FNV-1a over the non-zero pages of host memory outside `excluded`.
 * Test-only peek at HostMemory's page map (digest() covers all of memory;
 * here vm1's own RAM is what it may write).
 */
export function digestOutside(mem: HostMemory, excluded: readonly MemoryRegion[]): string {
  const pages = (mem as unknown as { pages: Map<number, Uint8Array> }).pages;
  const inExcluded = (addr: number) =>
    excluded.some((r) => addr >= (r.base as number) && addr < (r.base as number) + r.size);
  let h = 0x811c9dc5;
  for (const k of [...pages.keys()].sort((a, b) => a - b)) {
    if (inExcluded(k * 4096)) continue;
    const p = pages.get(k) as Uint8Array;
    if (p.every((b) => b === 0)) continue;
    h = Math.imul(h ^ (k & 0xffff_ffff), 0x01000193);
    for (let i = 0; i < p.length; i++) h = Math.imul(h ^ (p[i] as number), 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** A TCE table's entries (test-only peek). */
function tceEntries(t: unknown): Array<[number, number]> {
  const e = (t as { entries?: Map<number, number> } | undefined)?.entries;
  return e ? [...e].sort((a, b) => a[0] - b[0]) : [];
}

/**
 * Everything vm1 must not change: the hardware PEs other than nic1's
 * (freeze state, reset, stats, TCE entries), the PHB's fence/reset, the
 * host EEH core's PEs other than nic1's, vm0 (VM, VMM, guest kernel,
 * workload), the host driver's workload, and host memory outside vm1's RAM.
 */
export function protectedState(m: Machine) {
  const nic1 = m.functionOf('nic1');
  const nic1Host = m.hostAddress('nic1');
  const vm0 = guestOf(m, 'vm0');
  return {
    phbs: m.hw.phbs.map((p) => ({ id: p.id, fenced: p.fenced, dead: p.dead, inReset: p.inReset })),
    hwPes: m.hw.phbs.flatMap((p) =>
      p
        .pes()
        .filter((pe) => !pe.functions.includes(nic1))
        .map((pe) => ({
          phb: pe.phbId,
          pe: pe.number,
          mmioFrozen: pe.mmioFrozen,
          dmaFrozen: pe.dmaFrozen,
          errorPending: pe.errorPending,
          reset: pe.reset ?? null,
          stats: { ...pe.stats },
          tce: tceEntries(pe.tce),
        })),
    ),
    hostPes: m.host.debugfs.pes().filter((pe) => !pe.devices.includes(nic1Host)),
    // Where MMIO to each BAR of nic0 and nic2 goes (the PHB decodes the BAR registers).
    decode: ['nic0', 'nic2'].flatMap((ref) => {
      const f = m.functionOf(ref);
      return f.bars.map((b) => {
        const d = m.hw.phbs.map((p) => p.decode(f.barAddress(b))).find((x) => x);
        return { ref, bar: b.index, fn: d?.fn.bdf ?? null, pe: d?.pe.number ?? null };
      });
    }),
    vm0: {
      fatal: vm0.vm.fatal ?? null,
      paused: vm0.vm.pausedAt ?? null,
      vm: vm0.vm.stats.summary(),
      vmm: {
        rtas: [...vm0.vmm.stats.rtas],
        hcalls: [...vm0.vmm.stats.hcalls],
        eehOps: [...vm0.vmm.stats.eehOps],
        tce: [vm0.vmm.stats.tceMaps, vm0.vmm.stats.tceUnmaps, vm0.vmm.stats.tceErrors],
        runError: vm0.vmm.stats.runError ?? null,
        stopped: vm0.vmm.stats.stopped ?? null,
        fds: vm0.vmm.proc.listFds(),
        errinjct: vm0.vmm.errinjctToken ?? null,
      },
      kernel: vm0.kernel.kernel.snapshot(),
      workloads: vm0.workloads.map((w) => ({ ...w.stats })),
    },
    hostWorkloads: m.hostWorkloads.map((w) => ({ ...w.stats })),
    memory: digestOutside(m.hw.memory, vm1Regions(m)),
  };
}

export type ProtectedState = ReturnType<typeof protectedState>;

/** vm1's view of the world the adversary draws "valid-looking" numbers from. */
export interface Targets {
  /** vm1's RAM size (GPAs [0, ramSize) are its RAM). */
  readonly ramSize: number;
  /** Scratch areas in vm1's RAM for rtas_args and the errinjct work buffer. */
  readonly scratch: number;
  readonly work: number;
  /** Words naming vm0's device, the host device and vm1's own one, in every design's encoding. */
  readonly words: readonly number[];
  /** BUIDs (hi, lo words) in every design's encoding: vm0's and vm1's vPHBs, the host PE / identity tags. */
  readonly buids: ReadonlyArray<readonly [number, number]>;
  /** LIOBNs of both guests' PHBs (QEMU gives both the same numbers). */
  readonly liobns: readonly number[];
  /** GPAs/HPAs pointing at memory vm1 does not own (vm0's RAM HPA, the host device's DMA buffer). */
  readonly foreign: readonly number[];
}

const hi = (b: bigint) => Number((b >> 32n) & 0xffff_ffffn);
const lo = (b: bigint) => Number(b & 0xffff_ffffn);

/** The numbers of `m` the adversary mixes into its calls. */
export function targetsOf(m: Machine): Targets {
  const words = new Set<number>();
  const buids = new Map<string, readonly [number, number]>();
  const addBuid = (b: bigint) => buids.set(b.toString(), [hi(b), lo(b)]);
  for (const [guest, ref] of [
    ['vm0', 'nic0'],
    ['vm1', 'nic1'],
  ] as const) {
    const p = m.passthrough(guest, ref);
    if (!p) throw new Error(`${ref} not passed to ${guest}`);
    addBuid(p.phb.buid);
    for (const w of [hi(p.phb.buid), lo(p.phb.buid), p.dev.configAddr, (p.dev.bus << 16) + 1])
      words.add(w >>> 0);
  }
  // Host identities (designs b and c name host PEs / host functions).
  for (const ref of ['nic0', 'nic1', 'nic2']) {
    const dev = m.host.resolve(m.hostAddress(ref))[0];
    const pe = dev && m.host.peOf(dev);
    if (!pe) throw new Error(`${ref} has no host PE`);
    const f = m.functionOf(ref);
    addBuid(hostPeBuid(pe.phb));
    addBuid(identityBuid(pe.phb));
    for (const w of [
      hi(hostPeBuid(pe.phb)),
      lo(hostPeBuid(pe.phb)),
      pe.addr,
      hi(identityBuid(pe.phb)),
      lo(identityBuid(pe.phb)),
      (f.bdf << 8) >>> 0,
    ])
      words.add(w >>> 0);
  }
  const vm1 = guestOf(m, 'vm1');
  const foreign = [
    ...guestOf(m, 'vm0').vmm.proc.memory.map((r) => r.base as number),
    ...m.hw.memory
      .allocated()
      .filter((r) => r.owner.startsWith('host'))
      .map((r) => r.base as number),
  ];
  return {
    ramSize: vm1.vm.ram.size,
    // The top of vm1's RAM: its kernel's bump allocator never gets there.
    scratch: vm1.vm.ram.size - 0x10000,
    work: vm1.vm.ram.size - 0x8000,
    words: [...words],
    buids: [...buids.values()],
    liobns: [...new Set(m.guests.flatMap((g) => g.vmm.phbs.map((p) => p.liobn)))],
    foreign,
  };
}
