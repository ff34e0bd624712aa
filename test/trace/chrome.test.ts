import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sleep, type Task } from '../../src/sim/scheduler.js';
import { Sim } from '../../src/sim/sim.js';
import type { Phase, TraceRecord } from '../../src/sim/trace.js';
import { type ChromeEvent, chromeTraceToJson, toChromeTrace } from '../../src/trace/chrome.js';
import { validateChromeTrace } from '../../src/trace/validate.js';

declare module '../../src/sim/trace.js' {
  interface TraceEvents {
    'vmm.test.rtas': { call: string };
    'vfio.test.ioctl': { req: string };
    'hw.test.freeze': { pe: number };
    'host.test.phase': { phase: string };
  }
}

let seq = 0;
const rec = (t: number, ph: Phase, name: string, owner = 'host', fields = {}): TraceRecord => ({
  seq: seq++,
  t,
  ph,
  name,
  owner,
  fields,
});

const events = (records: TraceRecord[]): ChromeEvent[] =>
  toChromeTrace(records).traceEvents.filter((e) => e.ph !== 'M');

describe('toChromeTrace', () => {
  it('puts each owner in a process and each layer in a named thread, ts in us', () => {
    const t = toChromeTrace([
      rec(1500, 'i', 'hw.pe.freeze', 'host', { pe: 2 }),
      rec(2000, 'B', 'vmm.rtas', 'vm1', { call: 'x' }),
      rec(2250, 'E', 'vmm.rtas', 'vm1', { status: 0 }),
      rec(3000, 'i', 'guest.io', 'vm0'),
      rec(3001, 'i', 'guest.io', 'vm10'),
    ]);
    const meta = t.traceEvents.filter((e) => e.ph === 'M');
    const procs = meta.filter((e) => e.name === 'process_name').map((e) => [e.pid, e.args?.name]);
    expect(procs).toEqual([
      [1, 'host'],
      [2, 'vm0'],
      [3, 'vm1'],
      [4, 'vm10'],
    ]);
    const threads = meta
      .filter((e) => e.name === 'thread_name')
      .map((e) => `${e.pid}:${e.args?.name}`);
    expect(threads).toEqual(['1:hw', '2:guest', '3:vmm', '4:guest']);
    const ev = t.traceEvents.filter((e) => e.ph !== 'M');
    expect(ev[0]).toMatchObject({
      name: 'hw.pe.freeze',
      ph: 'i',
      s: 't',
      ts: 1.5,
      cat: 'hw',
      args: { pe: 2 },
    });
    expect(ev[1]).toMatchObject({ ph: 'B', ts: 2, pid: 3, args: { call: 'x' } });
    expect(ev[2]).toMatchObject({ ph: 'E', ts: 2.25, pid: 3, args: { status: 0 } });
    // same layer -> same tid in every process
    expect(ev[3]?.tid).toBe(ev[4]?.tid);
    expect(validateChromeTrace(t)).toEqual([]);
  });

  it('orders tracks bottom to top, fw.* with the firmware', () => {
    const t = toChromeTrace([
      rec(0, 'i', 'guest.a'),
      rec(0, 'i', 'vfio.b'),
      rec(0, 'i', 'fw.c'),
      rec(0, 'i', 'hw.d'),
    ]);
    const names = t.traceEvents.filter((e) => e.name === 'thread_name').map((e) => e.args?.name);
    expect(names).toEqual(['hw', 'fw', 'vfio', 'guest']);
  });

  it('exports spans that do not nest on their track as async pairs', () => {
    const records = [
      rec(0, 'B', 'host.a'),
      rec(10, 'B', 'host.b'),
      rec(20, 'E', 'host.a'),
      rec(30, 'E', 'host.b'),
    ];
    const ev = events(records);
    expect(ev.map((e) => `${e.name}:${e.ph}`)).toEqual([
      'host.a:b',
      'host.b:B',
      'host.a:e',
      'host.b:E',
    ]);
    expect(ev[0]?.id).toBe(ev[2]?.id);
    expect(validateChromeTrace(toChromeTrace(records))).toEqual([]);
  });

  it('pairs same-name spans innermost first and keeps them B/E', () => {
    const ev = events([
      rec(0, 'B', 'host.x'),
      rec(1, 'B', 'host.x'),
      rec(2, 'E', 'host.x', 'host', { k: 'inner' }),
      rec(3, 'E', 'host.x', 'host', { k: 'outer' }),
    ]);
    expect(ev.map((e) => e.ph)).toEqual(['B', 'B', 'E', 'E']);
  });

  it('closes spans left open at the end and turns a lone E into an instant', () => {
    const records = [
      rec(0, 'E', 'vfio.ioctl'),
      rec(5, 'B', 'guest.recovery', 'vm0'),
      rec(9, 'i', 'guest.io', 'vm0'),
    ];
    const t = toChromeTrace(records);
    const ev = t.traceEvents.filter((e) => e.ph !== 'M');
    expect(ev[0]).toMatchObject({ ph: 'i', args: { unmatched_end: true } });
    expect(ev.at(-1)).toMatchObject({
      ph: 'E',
      name: 'guest.recovery',
      ts: 0.009,
      args: { unfinished: true },
    });
    expect(validateChromeTrace(t)).toEqual([]);
  });

  it('writes one event per line, as valid JSON with the replay data', () => {
    const t = toChromeTrace([rec(0, 'i', 'hw.a'), rec(1, 'i', 'hw.b')], {
      otherData: { eehsim: { x: 1 } },
    });
    const text = chromeTraceToJson(t);
    expect(JSON.parse(text)).toEqual(t);
    expect(text.split('\n').length).toBe(t.traceEvents.length + 3);
  });

  it('exports a real Sim trace (processes, nested spans) to a valid trace', () => {
    const sim = new Sim({ seed: 3 });
    function* guest(n: number): Task<void> {
      for (let i = 0; i < 3; i++) {
        const rtas = sim.trace.begin('vmm.test.rtas', { call: `call${n}` });
        yield* sleep(500);
        const io = sim.trace.begin('vfio.test.ioctl', { req: 'VFIO_EEH_PE_OP' });
        yield* sleep(250 + sim.rng.int(0, 100));
        sim.trace.end(io, { rc: 0 });
        sim.trace.end(rtas, { status: 0 });
        yield* sleep(1000);
      }
    }
    function* host(): Task<void> {
      const p = sim.trace.begin('host.test.phase', { phase: 'reset' });
      sim.trace.emit('hw.test.freeze', { pe: 1 });
      yield* sleep(2500);
      sim.trace.end(p);
    }
    sim.spawn('g0', guest(0), 'vm0');
    sim.spawn('g1', guest(1), 'vm1');
    sim.spawn('h', host(), 'host');
    sim.run();
    const t = toChromeTrace(sim.trace.records);
    expect(validateChromeTrace(t)).toEqual([]);
    expect(t.traceEvents.filter((e) => e.ph === 'B').length).toBe(13);
  });

  it('a span closing around a span left open is exported as async (found by the property)', () => {
    const t = toChromeTrace([
      rec(0, 'B', 'guest.g', 'vm1'),
      rec(0, 'B', 'guest.h', 'vm1'),
      rec(0, 'E', 'guest.g', 'vm1'),
    ]);
    expect(validateChromeTrace(t)).toEqual([]);
    expect(t.traceEvents.filter((e) => e.name === 'guest.g').map((e) => e.ph)).toEqual(['b', 'e']);
  });

  it('gives a valid trace for any record sequence (property)', () => {
    const owners = ['host', 'vm0', 'vm1'];
    const names = ['hw.a', 'fw.b', 'host.c', 'vfio.d', 'kvm.e', 'vmm.f', 'guest.g', 'guest.h'];
    const step = fc.record({
      dt: fc.integer({ min: 0, max: 5000 }),
      ph: fc.constantFrom<Phase>('i', 'B', 'E'),
      name: fc.constantFrom(...names),
      owner: fc.constantFrom(...owners),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let t = 0;
        const records = steps.map((s, i) => {
          t += s.dt;
          return { seq: i, t, ph: s.ph, name: s.name, owner: s.owner, fields: { i } };
        });
        const out = toChromeTrace(records);
        expect(validateChromeTrace(out)).toEqual([]);
        // nothing dropped: every record is an event (plus closings of open spans)
        expect(out.traceEvents.filter((e) => e.ph !== 'M').length).toBeGreaterThanOrEqual(
          records.length,
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe('validateChromeTrace', () => {
  const named = (extra: unknown[]): unknown => ({
    traceEvents: [
      { name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: 'host' } },
      { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: 'hw' } },
      ...extra,
    ],
  });
  const ev = (o: Record<string, unknown>) => ({ name: 'x', ph: 'i', pid: 1, tid: 1, ts: 0, ...o });

  it('accepts a well-formed trace', () => {
    expect(validateChromeTrace(named([ev({ ph: 'B' }), ev({ ph: 'E', ts: 1 })]))).toEqual([]);
  });
  it('requires the object form', () => {
    expect(validateChromeTrace([])).toHaveLength(1);
  });
  it.each([
    ['missing name', { name: undefined }, /missing name/],
    ['bad phase', { ph: 'Q' }, /bad ph/],
    ['missing ts', { ts: undefined }, /ts must be/],
    ['negative ts', { ts: -1 }, /ts must be/],
    ['non-integer pid', { pid: 1.5 }, /pid and tid/],
    ['args not an object', { args: 3 }, /args must be an object/],
    ['bad instant scope', { s: 'x' }, /scope/],
  ])('reports %s', (_what, o, re) => {
    const problems = validateChromeTrace(named([ev(o)]));
    expect(problems.join('\n')).toMatch(re);
  });
  it('reports ts going back on a track', () => {
    expect(validateChromeTrace(named([ev({ ts: 5 }), ev({ ts: 4 })])).join()).toMatch(/goes back/);
    // but not across tracks
    expect(
      validateChromeTrace({
        traceEvents: [
          { name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: 'a' } },
          { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: 'a' } },
          { name: 'thread_name', ph: 'M', pid: 1, tid: 2, args: { name: 'b' } },
          ev({ ts: 5 }),
          ev({ ts: 4, tid: 2 }),
        ],
      }),
    ).toEqual([]);
  });
  it('reports unbalanced and crossed spans', () => {
    expect(validateChromeTrace(named([ev({ ph: 'B' })])).join()).toMatch(/B without E/);
    expect(validateChromeTrace(named([ev({ ph: 'E' })])).join()).toMatch(/E without an open B/);
    expect(
      validateChromeTrace(
        named([
          ev({ ph: 'B', name: 'a' }),
          ev({ ph: 'B', name: 'b' }),
          ev({ ph: 'E', name: 'a' }),
          ev({ ph: 'E', name: 'b' }),
        ]),
      ).join(),
    ).toMatch(/do not nest/);
    expect(validateChromeTrace(named([ev({ ph: 'b', cat: 'c', id: '1' })])).join()).toMatch(
      /begin without end/,
    );
    expect(validateChromeTrace(named([ev({ ph: 'b' })])).join()).toMatch(/cat and id/);
  });
  it('reports tracks without names', () => {
    expect(validateChromeTrace({ traceEvents: [ev({})] }).join()).toMatch(/no process_name/);
    expect(validateChromeTrace(named([ev({ tid: 7 })])).join()).toMatch(/no thread_name/);
  });
});
