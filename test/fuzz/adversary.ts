/**
 * An adversarial guest: fast-check arbitraries for sequences of raw
 * hypercalls from one VM's vCPU, and the process that issues them the way a
 * guest kernel would (struct rtas_args written into its own RAM, then
 * `sc 1`). Nothing here goes around a boundary: the only way out of the
 * guest is Vm.hcall().
 */
import fc from 'fast-check';
import type { Machine } from '../../src/machine/machine.js';
import type { Task } from '../../src/sim/scheduler.js';
import { H_PUT_TCE, H_RTAS, KVMPPC_HCALL_BASE } from '../../src/uapi/hcall.js';
import {
  RTAS_EEH_CALLS,
  RTAS_ERR_TYPE_IOA_BUS_ERROR,
  RTAS_ERR_TYPE_IOA_BUS_ERROR_64,
  RTAS_ERRINJCT_CALLS,
  RTAS_IBM_CLOSE_ERRINJCT,
  RTAS_IBM_ERRINJCT,
  RTAS_IBM_OPEN_ERRINJCT,
  RTAS_IBM_READ_PCI_CONFIG,
  RTAS_IBM_WRITE_PCI_CONFIG,
  RTAS_TOKEN_BASE,
  RTAS_TOKEN_MAX,
  RTAS_XICS_CALLS,
} from '../../src/uapi/rtas.js';
import { registerPciRtas } from '../../src/vmm/spapr_rtas.js';
import { guestOf, type Targets } from './world.js';

/** Where the rtas_args buffer is, relative to vm1's RAM. */
export type BufAt =
  | { readonly at: 'scratch'; readonly off: number }
  | { readonly at: 'unaligned'; readonly off: number }
  | { readonly at: 'ram-end'; readonly back: number }
  | { readonly at: 'beyond-ram'; readonly off: number }
  | { readonly at: 'top-bits'; readonly top: number }
  | { readonly at: 'foreign'; readonly i: number; readonly off: number }
  | { readonly at: 'raw'; readonly gpa: bigint };

export type Op =
  | {
      readonly kind: 'rtas';
      readonly token: number;
      readonly nargs: number;
      readonly nret: number;
      /** Words written after the header (how many is independent of nargs). */
      readonly args: readonly number[];
      readonly buf: BufAt;
      /** Words of the errinjct work buffer (at Targets.work). */
      readonly work: readonly number[];
    }
  | {
      readonly kind: 'put-tce';
      readonly liobn: number;
      readonly ioba: bigint;
      readonly tce: bigint;
    }
  | { readonly kind: 'hcall'; readonly nr: number; readonly args: readonly bigint[] };

const u32 = fc.nat({ max: 0xffff_ffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

/** Config access (QEMU's tokens, not in the EEH table), then every call the model names. */
const CALLS = [
  { token: RTAS_IBM_READ_PCI_CONFIG, nargs: [4], nret: [2] },
  { token: RTAS_IBM_WRITE_PCI_CONFIG, nargs: [5], nret: [1] },
  ...RTAS_EEH_CALLS,
  ...RTAS_ERRINJCT_CALLS,
  ...RTAS_XICS_CALLS,
];
const KNOWN_TOKENS = CALLS.map((c) => c.token);
const COUNTS = CALLS.flatMap((c) => [...c.nargs, ...c.nret]);
const ERR_IOA = RTAS_ERR_TYPE_IOA_BUS_ERROR;
const ERR_IOA_64 = RTAS_ERR_TYPE_IOA_BUS_ERROR_64;

export function opArb(t: Targets): fc.Arbitrary<Op> {
  const word = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...t.words) },
    { weight: 2, arbitrary: fc.nat({ max: 8 }) },
    { weight: 1, arbitrary: fc.constantFrom(t.scratch, t.work, t.ramSize - 4, t.ramSize) },
    { weight: 1, arbitrary: fc.constantFrom(...t.foreign.map((a) => a >>> 0)) },
    { weight: 2, arbitrary: u32 },
  );
  const token = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...KNOWN_TOKENS) },
    { weight: 2, arbitrary: fc.constantFrom(RTAS_IBM_READ_PCI_CONFIG, RTAS_IBM_WRITE_PCI_CONFIG) },
    { weight: 1, arbitrary: fc.integer({ min: RTAS_TOKEN_BASE, max: RTAS_TOKEN_MAX + 4 }) },
    { weight: 1, arbitrary: u32 },
  );
  const count = fc.oneof(
    // nargs >= 16 stops the VM under an in-kernel token (KVM_RUN -EINVAL): rarer.
    { weight: 20, arbitrary: fc.constantFrom(...COUNTS) },
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 15 }) },
    { weight: 1, arbitrary: fc.constantFrom(16, 17, 20, 0x7fff_ffff, 0xffff_ffff) },
    { weight: 1, arbitrary: u32 },
  );
  const buf: fc.Arbitrary<BufAt> = fc.oneof(
    // Outside RAM stops the VM under an in-kernel token (KVM_RUN -EFAULT): rarer.
    {
      weight: 40,
      arbitrary: fc.nat({ max: 64 }).map((k) => ({ at: 'scratch' as const, off: 8 * k })),
    },
    {
      weight: 6,
      arbitrary: fc.integer({ min: 1, max: 7 }).map((off) => ({ at: 'unaligned' as const, off })),
    },
    {
      weight: 2,
      arbitrary: fc.integer({ min: 1, max: 100 }).map((back) => ({ at: 'ram-end' as const, back })),
    },
    {
      weight: 1,
      arbitrary: fc.nat({ max: 1 << 30 }).map((off) => ({ at: 'beyond-ram' as const, off })),
    },
    {
      weight: 3,
      arbitrary: fc.integer({ min: 1, max: 15 }).map((top) => ({ at: 'top-bits' as const, top })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ i: fc.nat({ max: t.foreign.length - 1 }), off: fc.nat({ max: 0x1000 }) })
        .map((r) => ({ at: 'foreign' as const, ...r })),
    },
    { weight: 1, arbitrary: u64.map((gpa) => ({ at: 'raw' as const, gpa })) },
  );
  const pair = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...t.buids) },
    { weight: 1, arbitrary: fc.tuple(u32, u32) },
  );
  const small = fc.oneof(
    { weight: 6, arbitrary: fc.nat({ max: 3 }) },
    { weight: 2, arbitrary: fc.nat({ max: 8 }) },
    { weight: 1, arbitrary: word },
  );
  // Anything at all.
  const rawRtas = fc.record({
    kind: fc.constant('rtas' as const),
    token,
    nargs: count,
    nret: count,
    args: fc.array(word, { maxLength: 20 }),
    buf,
    work: fc.array(word, { minLength: 12, maxLength: 12 }),
  });
  // A call shaped like a real one (its token and counts, a BUID pair in
  // args 1-2, small option words), aimed at any BUID: reaches the handlers'
  // bodies, not only their checks.
  const wellFormed = fc
    .record({
      spec: fc.constantFrom(...CALLS),
      wrongCounts: fc.nat({ max: 9 }).map((n) => n === 0),
      nargs: count,
      nret: count,
      addr: word,
      pair,
      errType: fc.oneof(fc.constantFrom(ERR_IOA, ERR_IOA_64), small),
      rest: fc.tuple(small, word, fc.constantFrom(t.scratch, t.work, t.ramSize - 4), small, small),
      buf,
      work: fc.tuple(word, word, word, pair, small, fc.array(word, { minLength: 4, maxLength: 4 })),
    })
    .map((r): Op => {
      const [w0, w1, cfg, [bh, bl], func, tail] = r.work;
      const is64 = r.errType === ERR_IOA_64;
      const work = is64
        ? [w0, w1, w0, w1, cfg, bh, bl, func, ...tail]
        : [w0, w1, cfg, bh, bl, func, ...tail, w0, w1];
      const args =
        r.spec.token === RTAS_IBM_ERRINJCT
          ? [r.errType, 1, t.work]
          : r.spec.token === RTAS_IBM_CLOSE_ERRINJCT
            ? [1]
            : [r.addr, r.pair[0], r.pair[1], r.rest[0], r.rest[1], r.rest[2], r.rest[3], r.rest[4]];
      return {
        kind: 'rtas',
        token: r.spec.token,
        nargs: r.wrongCounts ? r.nargs : (r.spec.nargs[0] as number),
        nret: r.wrongCounts ? r.nret : (r.spec.nret[r.rest[3] % r.spec.nret.length] as number),
        args,
        buf: r.buf,
        work,
      };
    });
  const rtas = fc.oneof({ weight: 2, arbitrary: wellFormed }, { weight: 1, arbitrary: rawRtas });
  const gpaTce = fc.oneof(
    fc.nat({ max: t.ramSize / 4096 - 1 }).map((p) => BigInt(p * 4096)),
    fc.constantFrom(...t.foreign.map(BigInt), BigInt(t.ramSize), BigInt(t.ramSize) - 4096n),
    u64,
  );
  const putTce = fc.record({
    kind: fc.constant('put-tce' as const),
    liobn: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...t.liobns) },
      { weight: 1, arbitrary: u32 },
    ),
    ioba: fc.oneof(
      { weight: 4, arbitrary: fc.nat({ max: 1 << 18 }).map((p) => BigInt(p) * 4096n) },
      { weight: 1, arbitrary: u64 },
    ),
    tce: fc
      .tuple(gpaTce, fc.nat({ max: 3 }))
      .map(([g, perm]) => BigInt.asUintN(64, (g & ~0xfffn) | BigInt(perm))),
  });
  const hcall = fc.record({
    kind: fc.constant('hcall' as const),
    nr: fc.oneof(
      fc.constantFrom(
        0,
        4,
        8,
        0x1c,
        0x24,
        0x2c,
        0x58,
        0x64,
        KVMPPC_HCALL_BASE,
        KVMPPC_HCALL_BASE + 4,
      ),
      u32,
    ),
    args: fc.array(u64, { maxLength: 9 }),
  });
  return fc.oneof(
    { weight: 7, arbitrary: rtas },
    { weight: 2, arbitrary: putTce },
    { weight: 1, arbitrary: hcall },
  );
}

/** ibm,open-errinjct as the guest's errinjct tool issues it first (session token 1). */
const OPEN_ERRINJCT: Op = {
  kind: 'rtas',
  token: RTAS_IBM_OPEN_ERRINJCT,
  nargs: 0,
  nret: 2,
  args: [],
  buf: { at: 'scratch', off: 0 },
  work: [],
};

/** 1-12 ops, half of the sequences opening an error-injection session first. */
export const sequenceArb = (t: Targets) =>
  fc
    .tuple(fc.boolean(), fc.array(opArb(t), { minLength: 1, maxLength: 12 }))
    .map(([open, ops]) => (open ? [OPEN_ERRINJCT, ...ops] : ops));

/** The GPA r4 holds for an rtas op. */
export function bufGpa(t: Targets, b: BufAt): bigint {
  switch (b.at) {
    case 'scratch':
      return BigInt(t.scratch + b.off);
    case 'unaligned':
      return BigInt(t.scratch + b.off);
    case 'ram-end':
      return BigInt(t.ramSize - b.back);
    case 'beyond-ram':
      return BigInt(t.ramSize + b.off);
    case 'top-bits':
      // KVM masks with KVM_PAM, QEMU with ppc64_phys_to_real(): both see scratch.
      return (BigInt(b.top) << 60n) | BigInt(t.scratch);
    case 'foreign':
      return BigInt((t.foreign[b.i] as number) + b.off);
    case 'raw':
      return b.gpa;
  }
}

/** What the adversary's guest sees of its calls. */
export interface AdversaryLog {
  readonly r3: bigint[];
  done: boolean;
}

/** Writes `bytes` at `gpa` as far as it is vm1's RAM (the guest can only store to its RAM). */
function storeInRam(m: Machine, gpa: bigint, bytes: Uint8Array): void {
  const ram = guestOf(m, 'vm1').vm.ram;
  if (gpa < 0n || gpa >= BigInt(ram.size)) return;
  const n = Math.min(bytes.length, ram.size - Number(gpa));
  ram.write(Number(gpa) as never, bytes.subarray(0, n));
}

function words(ws: readonly number[]): Uint8Array {
  const b = new Uint8Array(4 * ws.length);
  const v = new DataView(b.buffer);
  for (const [i, w] of ws.entries()) v.setUint32(4 * i, w >>> 0);
  return b;
}

/** The guest's instruction stream: each op stored into RAM, then `sc 1`. */
export function* adversary(
  m: Machine,
  t: Targets,
  ops: readonly Op[],
  log: AdversaryLog,
): Task<void> {
  const vm = guestOf(m, 'vm1').vm;
  for (const op of ops) {
    let r3: bigint;
    switch (op.kind) {
      case 'rtas': {
        const gpa = bufGpa(t, op.buf);
        storeInRam(m, BigInt(t.work), words(op.work));
        storeInRam(m, gpa & ((1n << 60n) - 1n), words([op.token, op.nargs, op.nret, ...op.args]));
        r3 = yield* vm.hcall(H_RTAS, [gpa]);
        break;
      }
      case 'put-tce':
        r3 = yield* vm.hcall(H_PUT_TCE, [BigInt(op.liobn), op.ioba, op.tce]);
        break;
      case 'hcall':
        r3 = yield* vm.hcall(op.nr, op.args);
        break;
    }
    log.r3.push(r3);
  }
  log.done = true;
}

/**
 * vm1's VMM with the optional RTAS calls on (the error-injection RFC and the
 * slot-error-detail log), so the adversary reaches every handler.
 */
export function widenVm1(m: Machine): void {
  const vmm = guestOf(m, 'vm1').vmm;
  registerPciRtas(vmm.rtasTable, (phb) => vmm.preReset(phb), { rtasErrinjct: true });
  (vmm.options as { slotErrorDetailLog: boolean }).slotErrorDetailLog = true;
}
