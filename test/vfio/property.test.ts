/**
 * Property tests: random requests and random user buffers on every fd kind
 * never throw, always return an integer, and never change any state when
 * they are rejected.
 *
 * Calls are of three sorts: fully random (any request, any argument, any
 * fd), coherent (a real request of the fd's kind with a valid argument,
 * then one mutation - so that calls get past the first checks and often
 * succeed, building up state for later calls), and pread / pwrite / mmap on
 * device fds.
 *
 * "State" is everything VFIO and the fake host hold (VfioSnapshot, the TCE
 * tables, config space, reset counts, PE flags / pass_dev_cnt / frozen
 * state, the experimental mapping table). Two kernel behaviours change
 * state on a failing call and are kept out of the property on purpose:
 * - VFIO_EEH_PE_OP returning -EIO: the EEH core asked the platform to thaw
 *   and the PE did not come back (eeh_pci_enable) - an action that failed,
 *   not a rejected request;
 * - the lazily created default DMA window (tce_iommu_create_default_window
 *   runs before MAP/UNMAP/TCE_CREATE check their arguments): the setup
 *   creates the windows up front, and a unit test below shows the effect.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EINVAL, EIO, ENXIO, EPERM } from '../../src/uapi/errno.js';
import { VFIO_DEVICE_SET_ADDR_MAPPING } from '../../src/uapi/experimental.js';
import { _IO } from '../../src/uapi/ioctl.js';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_EEH_PE_OP,
  VFIO_GET_API_VERSION,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_IOCTLS,
  VFIO_IOMMU_DISABLE,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
  VFIO_IOMMU_SPAPR_TCE_CREATE,
  VFIO_IOMMU_SPAPR_TCE_GET_INFO,
  VFIO_IOMMU_SPAPR_TCE_REMOVE,
  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
} from '../../src/uapi/vfio.js';
import { PowernvAddrMapping } from '../../src/vfio/experimental_addr_mapping.js';
import { encode } from './encode.js';
import { cstr, hostState, makeHost, ready, s32, User } from './fake_backend.js';

const MEM = 0x1_0000_0000;
const CFG = 7 * 2 ** 40;

// ---- the world: two processes and their fds ------------------------------------

const ROLES = [
  'c1', // v1 container, group 1, device 01:00.0
  'c2', // v2 container, groups 2 + 3, device 03:00.0
  'cEmpty', // container without groups
  'g1',
  'g2',
  'g3',
  'g4', // open, in no container, no PE
  'd1',
  'd3',
  'passed', // c1 in the second process (another mm)
  'own', // the second process's own container
  'bad', // an fd number that is not open
] as const;
type Role = (typeof ROLES)[number];

function world() {
  const h = makeHost();
  const arch = new PowernvAddrMapping(h.sim);
  h.vfio.setPciArch(arch);
  const a = ready(h, { type: 'v1', groups: [1], devices: ['0000:01:00.0'] });
  const u = a.u;
  const b = ready(h, { type: 'v2', groups: [2, 3], devices: ['0000:03:00.0'], user: u });
  // Materialize the default windows (see the file comment).
  for (const c of [a.container, b.container]) {
    const map = encode.map({ flags: VFIO_DMA_MAP_FLAG_READ, vaddr: MEM, iova: 0, size: 0x1000 });
    if (u.ioctl(c, VFIO_IOMMU_MAP_DMA, map) !== 0) throw new Error('setup map');
  }
  const other = new User(h, 200);
  other.addMemory(0x3_0000_0000, 0x1_0000);
  const fds: Record<Role, [User, number]> = {
    c1: [u, a.container],
    c2: [u, b.container],
    cEmpty: [u, u.open('/dev/vfio/vfio')],
    g1: [u, a.groupFds[0] as number],
    g2: [u, b.groupFds[0] as number],
    g3: [u, b.groupFds[1] as number],
    g4: [u, u.open('/dev/vfio/4')],
    d1: [u, a.deviceFds[0] as number],
    d3: [u, b.deviceFds[0] as number],
    passed: [other, h.vfio.passFd(u.proc, a.container, other.proc)],
    own: [other, other.open('/dev/vfio/vfio')],
    bad: [u, 99],
  };
  const state = () => ({
    host: hostState(h),
    arch: arch.entries().map((e) => ({ ...e, pe: e.pe.label, buid: e.buid.toString() })),
  });
  return { h, fds, state };
}
type World = ReturnType<typeof world>;

// ---- arguments ---------------------------------------------------------------------

type Arg = ArrayBuffer | number;
type Template = (w: World) => Arg;

const peOps: Template[] = Array.from(
  { length: 11 },
  (_, op) => () => encode.peOp({ op, err: { type: 1, func: op * 2, addr: 0x1000n, mask: 0xffn } }),
);
const maps: Template[] = [
  () => encode.map({ flags: 3, vaddr: MEM, iova: 0x2000, size: 0x2000 }),
  () => encode.map({ flags: 1, vaddr: MEM + 0x8000, iova: 0x0fff_f000, size: 0x1000 }),
  () => encode.map({ flags: 2, vaddr: 0x3_0000_0000, iova: 0x3000, size: 0x1000 }),
];
const irqSets: Template[] = [
  () => encode.irqSet({ flags: 0x24, index: 2, start: 0, count: 2 }, { fds: [10, 11] }),
  () => encode.irqSet({ flags: 0x24, index: 2, start: 3, count: 1 }, { fds: [12] }),
  () => encode.irqSet({ flags: 0x21, index: 2, start: 0, count: 0 }),
  () => encode.irqSet({ flags: 0x24, index: 1, start: 0, count: 1 }, { fds: [5] }),
  () => encode.irqSet({ flags: 0x24, index: 0, start: 0, count: 1 }, { fds: [7] }),
  () => encode.irqSet({ flags: 0x09, index: 0, start: 0, count: 1 }),
  () => encode.irqSet({ flags: 0x11, index: 0, start: 0, count: 1 }),
  () => encode.irqSet({ flags: 0x24, index: 3, start: 0, count: 1 }, { fds: [42] }),
  () => encode.irqSet({ flags: 0x22, index: 3, start: 0, count: 1 }, { bools: [1] }),
  () => encode.irqSet({ flags: 0x21, index: 4, start: 0, count: 0 }),
];

/** Real requests of each fd kind with valid arguments. */
const COHERENT: Array<{ roles: Role[]; request: number; args: Template[] }> = [
  { roles: ['c1', 'c2', 'passed'], request: VFIO_EEH_PE_OP, args: peOps },
  { roles: ['c1', 'c2', 'passed'], request: VFIO_IOMMU_MAP_DMA, args: maps },
  {
    roles: ['c1', 'c2'],
    request: VFIO_IOMMU_UNMAP_DMA,
    args: [
      () => encode.unmap({ iova: 0, size: 0x4000 }),
      () => encode.unmap({ iova: 0x2000, size: 0x1000 }),
    ],
  },
  {
    roles: ['c2'],
    request: VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
    args: [
      () => encode.registerMemory({ vaddr: MEM + 0x10_0000, size: 0x1000 }),
      () => encode.registerMemory({ vaddr: MEM, size: 0x10_0000 }),
    ],
  },
  {
    roles: ['c2'],
    request: VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
    args: [() => encode.registerMemory({ vaddr: MEM, size: 0x10_0000 })],
  },
  {
    roles: ['c2'],
    request: VFIO_IOMMU_SPAPR_TCE_CREATE,
    args: [() => encode.tceCreate({ page_shift: 16, window_size: 0x1000_0000n, levels: 1 })],
  },
  { roles: ['c2'], request: VFIO_IOMMU_SPAPR_TCE_REMOVE, args: [() => encode.tceRemove({})] },
  {
    roles: ['c1', 'c2', 'cEmpty'],
    request: VFIO_IOMMU_SPAPR_TCE_GET_INFO,
    args: [() => encode.tceInfo()],
  },
  { roles: ['c1'], request: VFIO_IOMMU_ENABLE, args: [() => 0] },
  { roles: ['c1'], request: VFIO_IOMMU_DISABLE, args: [() => 0] },
  {
    roles: ['c1', 'cEmpty', 'own'],
    request: VFIO_SET_IOMMU,
    args: [() => VFIO_SPAPR_TCE_IOMMU, () => VFIO_SPAPR_TCE_v2_IOMMU],
  },
  { roles: ['c1', 'cEmpty', 'passed'], request: VFIO_CHECK_EXTENSION, args: [() => 5, () => 7] },
  { roles: ['cEmpty', 'own'], request: VFIO_GET_API_VERSION, args: [() => 0] },
  {
    roles: ['g1', 'g2', 'g3', 'g4'],
    request: VFIO_GROUP_GET_STATUS,
    args: [() => encode.groupStatus()],
  },
  {
    roles: ['g1', 'g2', 'g3', 'g4'],
    request: VFIO_GROUP_SET_CONTAINER,
    args: [(w) => s32(w.fds.cEmpty[1]), (w) => s32(w.fds.c2[1]), (w) => s32(w.fds.c1[1])],
  },
  { roles: ['g1', 'g2', 'g3', 'g4'], request: VFIO_GROUP_UNSET_CONTAINER, args: [() => 0] },
  {
    roles: ['g1', 'g3', 'g4'],
    request: VFIO_GROUP_GET_DEVICE_FD,
    args: [() => cstr('0000:01:00.0'), () => cstr('0000:03:00.1'), () => cstr('0000:04:00.0')],
  },
  { roles: ['d1', 'd3'], request: VFIO_DEVICE_GET_INFO, args: [() => encode.deviceInfo()] },
  {
    roles: ['d1', 'd3'],
    request: VFIO_DEVICE_GET_REGION_INFO,
    args: Array.from({ length: 10 }, (_, index) => () => encode.regionInfo({ index })),
  },
  {
    roles: ['d1', 'd3'],
    request: VFIO_DEVICE_GET_IRQ_INFO,
    args: Array.from({ length: 6 }, (_, index) => () => encode.irqInfo({ index })),
  },
  { roles: ['d1', 'd3'], request: VFIO_DEVICE_SET_IRQS, args: irqSets },
  { roles: ['d1', 'd3'], request: VFIO_DEVICE_RESET, args: [() => 0] },
  {
    roles: ['d1', 'd3'],
    request: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
    args: [() => new Uint32Array([12, 0, 0]).buffer],
  },
  {
    roles: ['d1', 'd3'],
    request: VFIO_DEVICE_PCI_HOT_RESET,
    args: [() => new Uint32Array([16, 0, 1, 4]).buffer],
  },
  {
    roles: ['d1', 'd3'],
    request: VFIO_DEVICE_SET_ADDR_MAPPING,
    args: [
      () => encode.addrMapping({ buid: 0x800000020000000n, config_addr: 0x1_0000 }),
      () => encode.addrMapping({ buid: 0x800000020000000n, config_addr: 0x3_0000 }),
    ],
  },
];

/** Applies one mutation to a valid argument: none, argsz, a flags bit, a byte, a cut. */
function mutate(a: Arg, how: number, at: number, value: number): Arg {
  if (typeof a === 'number') return how === 0 ? a : value;
  const v = new DataView(a);
  switch (how) {
    case 1:
      if (a.byteLength >= 4) v.setUint32(0, value % 64, true);
      return a;
    case 2:
      if (a.byteLength >= 8) v.setUint32(4, 2 ** (value % 32), true);
      return a;
    case 3:
      if (a.byteLength > 0) v.setUint8(at % a.byteLength, value & 0xff);
      return a;
    case 4:
      return a.slice(0, at % (a.byteLength + 1));
    default:
      return a;
  }
}

const KNOWN = [
  ...new Set([
    ...Object.values(VFIO_IOCTLS.container),
    ...Object.values(VFIO_IOCTLS.group),
    ...Object.values(VFIO_IOCTLS.device),
    VFIO_DEVICE_SET_ADDR_MAPPING,
    _IO(0x3b, 100 + 17), // VFIO_DEVICE_FEATURE on a device fd
    _IO(0x3b, 100 + 22),
    _IO(0x3b, 99),
  ]),
];

const anyRequest = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...KNOWN) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) },
);

const u32 = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 16, 19, 20, 24, 31, 32, 39, 40, 4096),
  fc.integer({ min: 0, max: 0xffff_ffff }),
);

/** argsz, flags, a third u32, random bytes; sometimes cut short. */
const structured = fc
  .tuple(u32, u32, u32, fc.uint8Array({ maxLength: 48 }), fc.option(fc.nat(64)))
  .map(([argsz, flags, third, rest, cut]) => {
    const full = new Uint8Array(12 + rest.length);
    const v = new DataView(full.buffer);
    v.setUint32(0, argsz, true);
    v.setUint32(4, flags, true);
    v.setUint32(8, third, true);
    full.set(rest, 12);
    return full.slice(0, cut ?? full.length).buffer;
  });

const anyArg: fc.Arbitrary<Arg> = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
  fc.uint8Array({ maxLength: 64 }).map((a) => a.slice().buffer),
  structured,
);

// ---- calls ---------------------------------------------------------------------------

type Call =
  | { kind: 'random'; role: Role; request: number; arg: Arg }
  | {
      kind: 'coherent';
      entry: number;
      role: number;
      tmpl: number;
      how: number;
      at: number;
      value: number;
    }
  | { kind: 'rw'; dev: number; write: boolean; offset: number; bytes: Uint8Array }
  | { kind: 'mmap'; dev: number; offset: number; length: number };

const offset = fc.oneof(
  fc.integer({ min: 0, max: 4200 }).map((o) => CFG + o),
  fc.integer({ min: 0, max: 2 ** 45 }),
  fc.integer({ min: -10, max: 0x5000 }),
);

const callArb: fc.Arbitrary<Call> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('random' as const),
      role: fc.constantFrom(...ROLES),
      request: anyRequest,
      arg: anyArg,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('coherent' as const),
      entry: fc.nat(COHERENT.length - 1),
      role: fc.nat(),
      tmpl: fc.nat(),
      how: fc.nat(6), // 0, 5, 6: unmutated
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 0xffff_ffff }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('rw' as const),
      dev: fc.nat(1),
      write: fc.boolean(),
      offset,
      bytes: fc.uint8Array({ maxLength: 9 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('mmap' as const),
      dev: fc.nat(1),
      offset,
      length: fc.integer({ min: -1, max: 0x6000 }),
    }),
  },
);

/** Runs a call; returns its rc and the request, for the exemption. */
function perform(w: World, c: Call): { rc: number; request?: number } {
  switch (c.kind) {
    case 'random': {
      const [user, fd] = w.fds[c.role];
      return { rc: user.ioctl(fd, c.request, c.arg), request: c.request };
    }
    case 'coherent': {
      const e = COHERENT[c.entry] as (typeof COHERENT)[number];
      const [user, fd] = w.fds[e.roles[c.role % e.roles.length] as Role];
      const tmpl = e.args[c.tmpl % e.args.length] as Template;
      const arg = mutate(tmpl(w), c.how, c.at, c.value);
      return { rc: user.ioctl(fd, e.request, arg), request: e.request };
    }
    case 'rw': {
      const [user, fd] = w.fds[c.dev ? 'd3' : 'd1'];
      const buf = new Uint8Array(c.bytes);
      return { rc: c.write ? user.pwrite(fd, c.offset, buf) : user.pread(fd, c.offset, buf) };
    }
    case 'mmap': {
      const [user, fd] = w.fds[c.dev ? 'd3' : 'd1'];
      return { rc: user.mmap(fd, c.offset, c.length) };
    }
  }
}

function replacer(_k: string, v: unknown) {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof ArrayBuffer) return [...new Uint8Array(v)];
  if (v instanceof Uint8Array) return [...v];
  return v;
}

describe('property: random requests and buffers on every fd kind', () => {
  it('never throw, return integers, and change nothing when rejected', () => {
    let ok = 0;
    let rejected = 0;
    fc.assert(
      fc.property(fc.array(callArb, { minLength: 1, maxLength: 16 }), (calls) => {
        const w = world();
        for (const c of calls) {
          const before = w.state();
          let r: { rc: number; request?: number };
          try {
            r = perform(w, c);
          } catch (e) {
            throw new Error(`threw on ${JSON.stringify(c, replacer)}: ${String(e)}`);
          }
          expect(Number.isInteger(r.rc)).toBe(true);
          if (r.rc >= 0) ok++;
          else rejected++;
          const exempt = r.request === VFIO_EEH_PE_OP && r.rc === -EIO;
          if (r.rc < 0 && !exempt) expect(w.state()).toEqual(before);
        }
      }),
      { numRuns: 300 },
    );
    // The generator reaches past the argument checks often enough to matter.
    expect(ok).toBeGreaterThan(rejected / 4);
  });

  it('the second process (another mm) gets -EPERM for every container ioctl but three', () => {
    fc.assert(
      fc.property(anyRequest, anyArg, (req, a) => {
        const w = world();
        const [other, passed] = w.fds.passed;
        const before = w.state();
        const rc = other.ioctl(passed, req, a);
        if (req === VFIO_GET_API_VERSION) expect(rc).toBe(0);
        else if (req === VFIO_CHECK_EXTENSION) expect(rc).toBeGreaterThanOrEqual(0);
        else if (req === VFIO_SET_IOMMU)
          expect(rc).toBe(-EINVAL); // container.c: already set
        else expect(rc).toBe(-EPERM);
        expect(w.state()).toEqual(before);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the lazily created default window (kept out of the property)', () => {
  it('a MAP_DMA rejected after tce_iommu_create_default_window still created the window', () => {
    const h = makeHost();
    const { u, container: c } = ready(h, { type: 'v2' });
    expect(h.vfio.snapshot().containers[0]?.iommu?.defWindowPending).toBe(true);
    const bad = encode.map({ flags: 3, vaddr: MEM, iova: 0x1_0000_0000, size: 0x1000 });
    expect(u.ioctl(c, VFIO_IOMMU_MAP_DMA, bad)).toBe(-ENXIO);
    expect(h.vfio.snapshot().containers[0]?.iommu).toMatchObject({
      defWindowPending: false,
      tables: [{ start: 0, size: 0x1000_0000, pageShift: 12 }, null],
    });
  });
});
