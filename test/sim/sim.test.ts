import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COST_NAMES, CostError, CostModel, DEFAULT_COSTS } from '../../src/sim/costs.js';
import { Rng } from '../../src/sim/rng.js';
import { sleep, type Task } from '../../src/sim/scheduler.js';
import { Sim } from '../../src/sim/sim.js';
import { formatNs, ms, parseDuration, us } from '../../src/sim/time.js';

declare module '../../src/sim/trace.js' {
  interface TraceEvents {
    'sim.test.tick': { n: number; who: string };
  }
}

describe('time', () => {
  it('converts and parses durations', () => {
    expect(us(1.5)).toBe(1500);
    expect(ms(250)).toBe(250_000_000);
    expect(parseDuration('1.5us')).toBe(1500);
    expect(parseDuration('250 ms')).toBe(250_000_000);
    expect(parseDuration('2s')).toBe(2_000_000_000);
    expect(parseDuration(42)).toBe(42);
    expect(parseDuration('-1ms')).toBeUndefined();
    expect(parseDuration('1.5')).toBeUndefined();
    expect(parseDuration('fast')).toBeUndefined();
    expect(formatNs(28_080)).toBe('28.08 us');
  });
});

describe('Rng', () => {
  it('is reproducible per seed and differs across seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const sa = Array.from({ length: 8 }, () => a.u32());
    expect(Array.from({ length: 8 }, () => b.u32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.u32())).not.toEqual(sa);
  });

  it('int stays in range', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: -1000, max: 1000 }),
        fc.nat(1000),
        (seed, lo, span) => {
          const r = new Rng(seed);
          for (let i = 0; i < 20; i++) {
            const v = r.int(lo, lo + span);
            if (v < lo || v > lo + span || !Number.isInteger(v)) return false;
          }
          return true;
        },
      ),
    );
  });

  it('fork gives stable independent streams', () => {
    expect(new Rng(1).fork('x').u32()).toBe(new Rng(1).fork('x').u32());
    expect(new Rng(1).fork('x').u32()).not.toBe(new Rng(1).fork('y').u32());
  });
});

describe('CostModel', () => {
  it('has every row of the cost-model reference with a source', () => {
    for (const name of [
      'mmio_read',
      'mmio_write',
      'opal_call_null',
      'phb_reg_read',
      'hcall_realmode',
      'hcall_kernel',
      'exit_to_userspace',
      'qemu_rtas_dispatch',
      'syscall_ioctl',
      'guest_rtas_entry',
      'msi_delivery',
      'pe_reset_hold',
      'pe_reset_settle',
      'state_unavailable_retry',
    ]) {
      expect(COST_NAMES).toContain(name);
    }
    for (const row of DEFAULT_COSTS) expect(row.source.length).toBeGreaterThan(3);
    const m = new CostModel();
    expect(m.ns('opal_call_null')).toBe(430);
    expect(m.ns('pe_reset_settle')).toBe(ms(1800));
  });

  it('applies overrides and rejects unknown names and bad values', () => {
    const m = new CostModel({ hcall_kernel: '5us', mmio_read: 800 });
    expect(m.ns('hcall_kernel')).toBe(5000);
    expect(m.ns('mmio_read')).toBe(800);
    expect(m.row('hcall_kernel').source).toMatch(/override/);
    expect(() => new CostModel({ nope: '1us' })).toThrow(CostError);
    expect(() => new CostModel({ mmio_read: 'soon' })).toThrow(/not a duration/);
  });
});

describe('Sim', () => {
  function run(seed: number): string {
    const sim = new Sim({ seed });
    function* worker(who: string): Task<void> {
      for (let n = 0; n < 5; n++) {
        yield* sim.charge('hcall_kernel');
        yield* sleep(sim.rng.int(1, 1000));
        sim.trace.emit('sim.test.tick', { n, who });
      }
    }
    sim.spawn('a', worker('a'), 'vm0');
    sim.spawn('b', worker('b'), 'vm1');
    sim.run();
    return sim.trace.toText();
  }

  it('same seed gives a byte-identical trace; another seed differs', () => {
    expect(run(3)).toBe(run(3));
    expect(run(3)).not.toBe(run(4));
  });

  it('charges costs to the owner and layer of the running process', () => {
    const sim = new Sim({ seed: 1 });
    sim.spawn(
      'g',
      (function* (): Task<void> {
        yield* sim.charge('hcall_kernel', 2);
        yield* sim.charge('syscall_ioctl');
      })(),
      'vm0',
    );
    sim.run();
    expect(sim.now).toBe(2 * 7600 + 1000);
    expect(sim.accounting.layersOf('vm0')).toEqual({
      kvm: { count: 2, ns: 15200 },
      vfio: { count: 1, ns: 1000 },
    });
    expect(sim.accounting.count('hcall_kernel')).toBe(2);
  });

  it('trace spans and the text format', () => {
    const sim = new Sim();
    const tok = sim.trace.begin('sim.test.tick', { n: 1, who: 'x y' });
    sim.trace.end(tok, { rc: 0 });
    expect(sim.trace.toText()).toBe(
      '            0 B host  sim.test.tick n=1 who="x y"\n            0 E host  sim.test.tick rc=0\n',
    );
    expect(sim.trace.count('sim.test.tick')).toBe(1);
    sim.trace.enabled = false;
    sim.trace.emit('sim.test.tick', { n: 2, who: 'z' });
    expect(sim.trace.records).toHaveLength(2);
    expect(sim.trace.count('sim.test.tick')).toBe(2);
  });
});
