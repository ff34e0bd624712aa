/**
 * Roadmap "fuzzing, adversarial guests": for every design of the registry,
 * vm1 (nic1 passed through) issues fast-check-generated sequences of raw
 * hypercalls - H_RTAS with any token (EEH, config, errinjct, XICS,
 * unknown), any nargs/nret (>= 16 too), arguments mixing vm0's, the host's
 * and its own BUIDs / config / PE addresses with random words, rtas_args at
 * unaligned GPAs, across the end of RAM, outside RAM or at host addresses;
 * H_PUT_TCE with any LIOBN / IOBA / TCE; other hcall numbers. After each
 * sequence:
 *
 * - no JS exception escaped the model (a VM-fatal KVM_RUN error of vm1 is an
 *   allowed, recorded outcome);
 * - everything outside vm1's own PE and RAM (protectedState: hardware PEs,
 *   PHB, host EEH PEs, vm0's VM / VMM / kernel / workload, the host
 *   driver's workload, host memory) equals the same machine run to the same
 *   virtual time without the adversary.
 *
 * Seeds are fixed (per design), so a failure reproduces; fast-check prints
 * the shrunk counterexample and the seed.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { implementedDesigns } from '../../src/machine/designs.js';
import type { DesignName } from '../../src/scenario/schema/design.js';
import { RTAS_IBM_SET_SLOT_RESET, RTAS_SLOT_RESET_HOT } from '../../src/uapi/rtas.js';
import { type AdversaryLog, adversary, type Op, sequenceArb, widenVm1 } from './adversary.js';
import {
  ADVERSARY_START,
  fuzzMachine,
  guestOf,
  HORIZON,
  type ProtectedState,
  protectedState,
  runTo,
  type Targets,
  targetsOf,
} from './world.js';

/** Fixed seed (EEHSIM_FUZZ_SEED overrides it for exploration; failures print theirs). */
const SEED = Number(process.env.EEHSIM_FUZZ_SEED ?? 20_261_125);
/** Sequences per design; the +notify variants share their base's RTAS path, so fewer. EEHSIM_FUZZ_SCALE multiplies. */
const SCALE = Number(process.env.EEHSIM_FUZZ_SCALE ?? 1);
const runsFor = (d: DesignName) => Math.round((d.includes('+') ? 12 : 30) * SCALE);

const seedOf = (d: DesignName) =>
  [...d].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), SEED) >>> 0;

type Outcome = 'done' | 'vm-fatal' | 'in-hcall';
const outcomes = new Map<string, Record<Outcome, number>>();

/** One adversarial run: the machine at the horizon and how vm1 ended. */
function attack(design: DesignName, t: Targets, ops: readonly Op[]) {
  const m = fuzzMachine(design);
  widenVm1(m);
  const log: AdversaryLog = { r3: [], done: false };
  runTo(m, ADVERSARY_START);
  m.sim.spawn('adversary', adversary(m, t, ops, log), 'vm1');
  runTo(m, HORIZON);
  const fatal = guestOf(m, 'vm1').vm.fatal;
  const outcome: Outcome = log.done ? 'done' : fatal ? 'vm-fatal' : 'in-hcall';
  return { m, log, outcome };
}

describe.each(implementedDesigns())('design %s: adversarial vm1', (design) => {
  const ref = fuzzMachine(design);
  runTo(ref, HORIZON);
  const expected: ProtectedState = protectedState(ref);
  const t = targetsOf(ref);

  it('the reference is reproducible (same machine, no adversary, same snapshot)', () => {
    const m = fuzzMachine(design);
    widenVm1(m);
    runTo(m, HORIZON);
    expect(protectedState(m)).toEqual(expected);
  });

  it('random hypercall sequences never reach vm0, the host device or foreign memory', () => {
    const tally: Record<Outcome, number> = { done: 0, 'vm-fatal': 0, 'in-hcall': 0 };
    outcomes.set(design, tally);
    fc.assert(
      fc.property(sequenceArb(t), (ops) => {
        const { m, outcome } = attack(design, t, ops);
        tally[outcome]++;
        expect(guestOf(m, 'vm0').vm.fatal).toBeUndefined();
        expect(protectedState(m)).toEqual(expected);
      }),
      { seed: seedOf(design), numRuns: runsFor(design) },
    );
  });
});

afterAll(() => {
  const rows = [...outcomes].map(([d, o]) => `${d}: ${JSON.stringify(o)}`);
  if (rows.length) console.log(`adversarial vm1 outcomes\n${rows.join('\n')}`);
});

describe('the harness sees what it must', () => {
  const design: DesignName = 'd';
  const ref = fuzzMachine(design);
  runTo(ref, HORIZON);
  const expected = protectedState(ref);
  const t = targetsOf(ref);
  const own = guestOf(ref, 'vm1').vmm.phbs[0]?.buid ?? 0n;
  const hotReset: Op = {
    kind: 'rtas',
    token: RTAS_IBM_SET_SLOT_RESET,
    nargs: 4,
    nret: 1,
    args: [0, Number(own >> 32n), Number(own & 0xffff_ffffn), RTAS_SLOT_RESET_HOT],
    buf: { at: 'scratch', off: 0 },
    work: [],
  };

  it('vm1 resetting its own PE succeeds and stays out of the protected state', () => {
    const { m, log } = attack(design, t, [hotReset]);
    expect(log.r3).toEqual([0n]);
    expect(guestOf(m, 'vm1').vmm.stats.eehOps.get('RESET_HOT')).toBe(1);
    expect(protectedState(m)).toEqual(expected);
  });

  it("a freeze of vm0's PE (host debugfs) shows in the protected state", () => {
    const m = fuzzMachine(design);
    runTo(m, ADVERSARY_START);
    m.sim.spawn('break', m.host.debugfs.devBreak(m.hostAddress('nic0')), 'host');
    runTo(m, HORIZON);
    expect(protectedState(m)).not.toEqual(expected);
  });
});
