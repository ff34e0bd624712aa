/**
 * The VMM boundary under fuzzing: a second VMM process (it opened
 * /dev/kvm and /dev/vfio/vfio itself, so it has fds of its own) issues
 * random ioctl requests with random buffers - and pread/pwrite/mmap/close -
 * on fd numbers the first VMM (vm0's) holds and it does not. A process
 * reaches kernel objects only through its own fd table
 * (Syscalls.ioctl -> fdget), so every call gets -EBADF and nothing changes:
 * neither vm0's state (the protected snapshot, equal to the same machine run
 * without the intruder) nor either process's fd table.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import type { DesignName } from '../../src/scenario/schema/design.js';
import { EBADF } from '../../src/uapi/errno.js';
import * as kvm from '../../src/uapi/kvm.js';
import * as vfio from '../../src/uapi/vfio.js';
import { ADVERSARY_START, fuzzMachine, guestOf, protectedState, runTo } from './world.js';

const SEED = Number(process.env.EEHSIM_FUZZ_SEED ?? 20_261_125);
const END = ADVERSARY_START + 1_000_000;

/** Every VFIO and KVM request number the uapi defines. */
const KNOWN_REQUESTS = [...Object.entries(vfio), ...Object.entries(kvm)]
  .filter(([k, v]) => /^(VFIO|KVM)_[A-Z0-9_]+$/.test(k) && typeof v === 'number' && v > 0xffff)
  .map(([, v]) => v as number);

type Call =
  | {
      readonly sys: 'ioctl';
      readonly fd: number;
      readonly request: number;
      readonly arg: ArrayBuffer | number;
    }
  | {
      readonly sys: 'pread' | 'pwrite';
      readonly fd: number;
      readonly offset: number;
      readonly len: number;
    }
  | { readonly sys: 'mmap'; readonly fd: number; readonly offset: number; readonly len: number }
  | { readonly sys: 'close'; readonly fd: number };

function callArb(fds: readonly number[]): fc.Arbitrary<Call> {
  const fd = fc.constantFrom(...fds);
  const request = fc.oneof(fc.constantFrom(...KNOWN_REQUESTS), fc.nat({ max: 0xffff_ffff }));
  const arg = fc.oneof(
    fc.uint8Array({ maxLength: 256 }).map((b) => b.slice().buffer as ArrayBuffer),
    fc.nat({ max: 0xffff_ffff }),
  );
  const off = fc.oneof(fc.nat({ max: 0x1_0000 }), fc.constantFrom(0x70000000000, 0x10000000000));
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ sys: fc.constant('ioctl' as const), fd, request, arg }) },
    {
      weight: 1,
      arbitrary: fc.record({
        sys: fc.constantFrom('pread' as const, 'pwrite' as const, 'mmap' as const),
        fd,
        offset: off,
        len: fc.integer({ min: 1, max: 4096 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ sys: fc.constant('close' as const), fd }) },
  );
}

/** vm0's VMM fd numbers, and a second VMM with two fds of its own (a subset of those numbers). */
function intruder(m: Machine) {
  const sys = m.host.syscalls;
  const p2 = sys.spawnProcess('vmm2');
  m.sim.spawn(
    'vmm2:open',
    (function* () {
      yield* sys.open(p2, '/dev/kvm');
      yield* sys.open(p2, '/dev/vfio/vfio');
    })(),
    'vmm2',
  );
  runTo(m, ADVERSARY_START);
  const own = new Set(p2.listFds().map((f) => f.fd));
  const theirs = guestOf(m, 'vm0')
    .vmm.proc.listFds()
    .map((f) => f.fd)
    .filter((fd) => !own.has(fd));
  return { p2, theirs };
}

describe.each(['d', 'a', 'a-vfio', 'b'] as DesignName[])(
  "design %s: a second VMM on the first VMM's fds",
  (design) => {
    const ref = fuzzMachine(design);
    const { p2: refP2, theirs } = intruder(ref);
    runTo(ref, END);
    const expected = { state: protectedState(ref), p2: refP2.listFds() };

    it("has fds of its own, and the fd numbers it fuzzes are vm0's only", () => {
      expect(refP2.listFds().length).toBe(2);
      expect(theirs.length).toBeGreaterThan(3);
    });

    it('random ioctls (and read/write/mmap/close) get -EBADF and change nothing', () => {
      fc.assert(
        fc.property(fc.array(callArb(theirs), { minLength: 1, maxLength: 20 }), (calls) => {
          const m = fuzzMachine(design);
          const { p2 } = intruder(m);
          const sys = m.host.syscalls;
          const rcs: number[] = [];
          m.sim.spawn(
            'vmm2:fuzz',
            (function* () {
              for (const c of calls) {
                switch (c.sys) {
                  case 'ioctl':
                    rcs.push(yield* sys.ioctl(p2, c.fd, c.request, c.arg));
                    break;
                  case 'pread':
                    rcs.push(yield* sys.pread(p2, c.fd, c.offset, new Uint8Array(c.len)));
                    break;
                  case 'pwrite':
                    rcs.push(
                      yield* sys.pwrite(p2, c.fd, c.offset, new Uint8Array(c.len).fill(0xa5)),
                    );
                    break;
                  case 'mmap':
                    rcs.push(sys.mmap(p2, c.fd, c.offset, c.len));
                    break;
                  case 'close':
                    rcs.push(yield* sys.close(p2, c.fd));
                    break;
                }
              }
            })(),
            'vmm2',
          );
          runTo(m, END);
          expect(rcs).toEqual(calls.map(() => -EBADF));
          expect({ state: protectedState(m), p2: p2.listFds() }).toEqual(expected);
        }),
        { seed: SEED, numRuns: 40 },
      );
    });
  },
);

/** vm1's VMM writes (pwrite) config space of its own device, nic1, through its VFIO device fd. */
function* configWrites(
  m: Machine,
  writes: ReadonlyArray<{ reg: number; bytes: Uint8Array }>,
  rcs: number[],
) {
  const p = m.passthrough('vm1', 'nic1');
  if (!p) throw new Error('nic1 not passed to vm1');
  for (const w of writes) {
    rcs.push(yield* m.host.syscalls.pwrite(p.vmm.proc, p.dev.fd, CONFIG_REGION + w.reg, w.bytes));
  }
}
const CONFIG_REGION = vfio.VFIO_PCI_CONFIG_REGION_INDEX * 2 ** 40;

describe("a VMM writing its own device's config space through VFIO", () => {
  const design: DesignName = 'd';
  const ref = fuzzMachine(design);
  runTo(ref, END);
  const expected = protectedState(ref);
  const le32 = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return b;
  };

  it.each(['nic0', 'nic2'])(
    "regression: moving nic1's BAR0 onto %s's BAR0 is not written to the device (vfio-pci virtualizes BARs)",
    (victim) => {
      const m = fuzzMachine(design);
      const f = m.functionOf(victim);
      const nic1 = m.functionOf('nic1');
      const bar0 = f.bars[0];
      if (!bar0) throw new Error(`${victim} has no BAR0`);
      const at = f.barAddress(bar0);
      const before = nic1.bars.map((b) => nic1.barAddress(b));
      runTo(m, ADVERSARY_START);
      const rcs: number[] = [];
      m.sim.spawn('vmm1', configWrites(m, [{ reg: 0x10, bytes: le32(at) }], rcs), 'vm1');
      runTo(m, END);
      expect(rcs).toEqual([4]);
      expect(nic1.bars.map((b) => nic1.barAddress(b))).toEqual(before);
      expect(m.hw.phbs[0]?.decode(at)?.fn).toBe(f);
      expect(protectedState(m)).toEqual(expected);
    },
  );

  it('random config writes (offsets, sizes, values, BARs and ROM included) change only its own PE', () => {
    const reg = fc.oneof(
      fc.constantFrom(0x04, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x30, 0x3c),
      fc.nat({ max: 0xfff }),
    );
    const victimBars = ['nic0', 'nic2'].flatMap((r) => {
      const f = ref.functionOf(r);
      return f.bars.map((b) => f.barAddress(b));
    });
    const bytes = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 8 }),
      fc.constantFrom(...victimBars).map(le32),
    );
    const write = fc.record({ reg, bytes });
    fc.assert(
      fc.property(fc.array(write, { minLength: 1, maxLength: 12 }), (writes) => {
        const m = fuzzMachine(design);
        runTo(m, ADVERSARY_START);
        const rcs: number[] = [];
        m.sim.spawn('vmm1', configWrites(m, writes, rcs), 'vm1');
        runTo(m, END);
        expect(protectedState(m)).toEqual(expected);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });
});
