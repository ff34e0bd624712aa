/**
 * Machines of growing size (1, 10, 100, 1000 testnics) built from generated
 * scenario objects and run for a fixed virtual time with tracing off. Reports
 * wall time per simulated event (`sim.sched.executed`) and per device, each
 * as a ratio against the 1-device machine measured in the same run: a model
 * that scales linearly keeps the per-event ratio near 1. Numbers only - the
 * target is informational (per-event cost of the largest machine within
 * TARGET_RATIO of the smallest's).
 *
 * The generated topology respects the model's limits:
 * - at most DEVICES_PER_PHB testnics per PHB, on the root bus (devices
 *   00..1f: no switches, so no extra bus numbers);
 * - each PHB gets an explicit 32 MiB MMIO window (the default 256 MiB
 *   windows from 2 GiB leave room for only 8 PHBs below 4 GiB); 64 PHBs fit;
 * - every second device (the first included) is passed through, each on its
 *   own virtual PHB (each device is its own PE, so its own IOMMU group: one
 *   group per vPHB), VPHBS_PER_GUEST vPHBs per guest (QEMU's index limit is
 *   255); the others stay with the host testnic driver.
 * Every device runs a light DMA ping-pong and takes one DMA fault, staggered
 * over the run so recoveries overlap.
 *
 * `npm run bench scale` runs only this one; SCALE_SIZES=1,10,100 overrides
 * the sizes.
 */
import { Machine } from '../src/machine/machine.js';
import { type Scenario, type ScenarioInput, ScenarioSchema } from '../src/scenario/schema/index.js';
import type { Benchmark, BenchmarkReport } from './benchmark.js';

const SIZES = (process.env.SCALE_SIZES ?? '1,10,100,1000')
  .split(',')
  .map((s) => Number.parseInt(s, 10))
  .filter((n) => n > 0);
const DEVICES_PER_PHB = 32;
const WINDOW_BASE = 0x8000_0000;
const WINDOW_SIZE = 32 * 2 ** 20;
const VPHBS_PER_GUEST = 64;
/** Virtual run length: long enough for the first recoveries (3.85 s each) to finish. */
const RUN_FOR_MS = 5000;
const INTERVAL_MS = 20;
/** Repetitions per size (small machines more: their runs are short); each reports its fastest. */
const repeatsOf = (n: number): number => (n <= 10 ? 8 : n <= 100 ? 3 : 2);
const TARGET_RATIO = 2;

/** The scenario of an `n`-device machine. */
export function scaleScenario(n: number): Scenario {
  const phbs: NonNullable<ScenarioInput['topology']>['phbs'] = [];
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = Math.floor(i / DEVICES_PER_PHB);
    if (!phbs[p]) {
      phbs[p] = {
        id: p,
        mmio_window: { base: WINDOW_BASE + p * WINDOW_SIZE, size: WINDOW_SIZE },
        devices: [],
      };
    }
    const name = `nic${i}`;
    names.push(name);
    const dev = (i % DEVICES_PER_PHB).toString(16).padStart(2, '0');
    phbs[p]?.devices.push({ name, model: 'testnic', bdf: `00:${dev}.0` });
  }
  const passed = names.filter((_, i) => i % 2 === 0);
  const guests: NonNullable<ScenarioInput['guests']> = [];
  passed.forEach((name, k) => {
    const gi = Math.floor(k / VPHBS_PER_GUEST);
    const g = guests[gi] ?? { name: `vm${gi}`, phbs: [] };
    guests[gi] = g;
    g.phbs?.push({ devices: [{ device: name }] });
  });
  const guestOf = new Map<string, string>();
  for (const g of guests)
    for (const p of g.phbs ?? []) for (const d of p.devices) guestOf.set(d.device, g.name);
  const input: ScenarioInput = {
    name: `scale-${n}`,
    seed: 1,
    topology: { phbs },
    guests,
    workloads: names.map((device) => {
      const guest = guestOf.get(device);
      return {
        kind: 'dma-pingpong' as const,
        device,
        interval: `${INTERVAL_MS}ms`,
        ...(guest ? { guest } : {}),
      };
    }),
    // Staggered so the recoveries overlap (each takes ~3.85 s of virtual time).
    faults: names.map((target, i) => ({
      kind: 'dma' as const,
      target,
      at: `${5 + (i % 100) * 10}ms`,
    })),
    run_for: `${RUN_FOR_MS}ms`,
  };
  return ScenarioSchema.parse(input);
}

export interface ScaleRun {
  readonly devices: number;
  readonly buildMs: number;
  readonly runMs: number;
  readonly events: number;
}

/** Builds and runs the `n`-device machine once (trace off). */
export function runScale(n: number): ScaleRun {
  const scenario = scaleScenario(n);
  const t0 = performance.now();
  const m = new Machine(scenario, { trace: false });
  const t1 = performance.now();
  m.run();
  const t2 = performance.now();
  return { devices: n, buildMs: t1 - t0, runMs: t2 - t1, events: m.sim.sched.executed };
}

export const scaleBenchmark: Benchmark = {
  name: 'scale',
  description: `machines of ${SIZES.join(', ')} testnics: wall time per event and per device vs 1 device`,
  async run(): Promise<BenchmarkReport> {
    // Warm-up: the JIT compiles the model's hot paths before the 1-device
    // baseline is measured (else the baseline pays for compilation).
    for (let i = 0; i < 3; i++) runScale(10);
    const runs: ScaleRun[] = SIZES.map((n) => {
      let best: ScaleRun | undefined;
      for (let r = 0; r < repeatsOf(n); r++) {
        const x = runScale(n);
        if (!best || x.buildMs + x.runMs < best.buildMs + best.runMs) best = x;
      }
      return best as ScaleRun;
    });
    const base = runs[0] as ScaleRun;
    const perEvent = (r: ScaleRun): number => (r.runMs * 1e3) / Math.max(1, r.events);
    const perDevice = (r: ScaleRun): number => (r.buildMs + r.runMs) / r.devices;
    const lines = [
      'devices  build ms    run ms     events  us/event  x(1)  ms/device  x(1)',
      ...runs.map((r) =>
        [
          String(r.devices).padStart(7),
          r.buildMs.toFixed(1).padStart(9),
          r.runMs.toFixed(1).padStart(9),
          String(r.events).padStart(10),
          perEvent(r).toFixed(2).padStart(9),
          (perEvent(r) / perEvent(base)).toFixed(2).padStart(5),
          perDevice(r).toFixed(2).padStart(10),
          (perDevice(r) / perDevice(base)).toFixed(2).padStart(5),
        ].join(' '),
      ),
      `(${RUN_FOR_MS} ms virtual, trace off, best of 8/3/2 runs by size; x(1): ratio to the ${base.devices}-device run)`,
    ];
    const last = runs[runs.length - 1] as ScaleRun;
    const ratio = perEvent(last) / perEvent(base);
    lines.push(
      `per-event ratio ${last.devices}/${base.devices}: ${ratio.toFixed(2)} (target <= ${TARGET_RATIO})`,
    );
    return { name: this.name, lines, targetMet: ratio <= TARGET_RATIO };
  },
};
