/**
 * Campaign variants: which fields of a scenario a campaign varies, and the
 * variant of each run, derived from a single 32-bit seed with the model's
 * RNG. The same (scenario, --vary, seed) always gives the same variant, so
 * a run is reproduced by `eehsim run <scenario> --vary <specs> --seed <seed>`.
 *
 * Spec syntax (comma-separated): `name` or `name=values`, where values are
 * `a|b|c` (a choice) or `lo..hi` (a range, durations or integers):
 *
 *   fault.at=1ms..50ms   fault.kind=dma|mmio   fault.target   fault.count=1..6
 *   design=d|a+notify    driver               workload.kind
 *   cost.hcall_kernel=1us..20us
 *
 * `fault.*` is the first fault (`fault[1].*` the second...). A scenario
 * without faults gets one (dma on its first passed-through device).
 */

import { validateScenario } from '../scenario/load.js';
import {
  DESIGNS,
  DeviceIndex,
  FAULT_KIND_NAMES,
  GUEST_DRIVER_NAMES,
  type Scenario,
  WORKLOAD_KIND_NAMES,
} from '../scenario/schema/index.js';
import { COST_NAMES, DEFAULT_COSTS, isCostName } from '../sim/costs.js';
import { Rng } from '../sim/rng.js';
import { formatNs, parseDuration } from '../sim/time.js';

export type VaryValue = string | number;

interface Choice {
  type: 'choice';
  values: string[];
}
interface Range {
  type: 'range';
  lo: number;
  hi: number;
  /** `duration` values print as durations and range over integer ns. */
  unit: 'ns' | 'int';
}

export interface VarySpec {
  /** As written, e.g. `fault.at=1ms..50ms` (used to reproduce a run). */
  text: string;
  /** Dimension key, e.g. `fault.at`, `fault[1].kind`, `cost.hcall_kernel`. */
  key: string;
  field:
    | 'fault.at'
    | 'fault.kind'
    | 'fault.target'
    | 'fault.count'
    | 'design'
    | 'driver'
    | 'workload.kind'
    | 'cost';
  index: number;
  cost?: string;
  domain?: Choice | Range;
}

export class VaryError extends Error {
  override name = 'VaryError';
}

const KEY_RE =
  /^(?:fault(?:\[(\d+)\])?\.(at|kind|target|count)|design|driver|workload(?:\[(\d+)\])?\.kind|cost\.([a-z_]+))$/;

function parseRange(text: string, unit: 'ns' | 'int', key: string): Range {
  const m = /^(.+)\.\.(.+)$/.exec(text);
  if (!m) throw new VaryError(`${key}: expected a range lo..hi, got '${text}'`);
  const conv = (s: string): number | undefined =>
    unit === 'ns' ? parseDuration(s) : /^\d+$/.test(s) ? Number(s) : undefined;
  const lo = conv(m[1] as string);
  const hi = conv(m[2] as string);
  if (lo === undefined || hi === undefined) {
    throw new VaryError(
      `${key}: bad range '${text}' (${unit === 'ns' ? 'durations, e.g. 1ms..50ms' : 'integers, e.g. 1..6'})`,
    );
  }
  if (hi < lo) throw new VaryError(`${key}: empty range '${text}'`);
  return { type: 'range', lo, hi, unit };
}

function parseChoice(text: string, allowed: readonly string[], key: string): Choice {
  const values = text.split('|').map((v) => v.trim());
  for (const v of values) {
    if (!allowed.includes(v)) {
      throw new VaryError(`${key}: unknown value '${v}' (known: ${allowed.join(', ')})`);
    }
  }
  return { type: 'choice', values };
}

/** Parses `--vary` (comma-separated specs). */
export function parseVary(text: string | undefined): VarySpec[] {
  if (!text) return [];
  const specs: VarySpec[] = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const values = eq < 0 ? undefined : part.slice(eq + 1);
    const m = KEY_RE.exec(key);
    if (!m) {
      throw new VaryError(
        `unknown --vary dimension '${key}' (known: fault.at, fault.kind, fault.target, fault.count, design, driver, workload.kind, cost.<name>; fault[N].* for other faults)`,
      );
    }
    if (specs.some((s) => s.key === key)) throw new VaryError(`--vary: '${key}' given twice`);
    let spec: VarySpec;
    if (m[2]) {
      const field = `fault.${m[2]}` as VarySpec['field'];
      spec = { text: part, key, field, index: Number(m[1] ?? 0) };
      if (values !== undefined) {
        if (m[2] === 'at') spec.domain = parseRange(values, 'ns', key);
        else if (m[2] === 'count') spec.domain = parseRange(values, 'int', key);
        else if (m[2] === 'kind') spec.domain = parseChoice(values, FAULT_KIND_NAMES, key);
        else spec.domain = { type: 'choice', values: values.split('|') };
      }
    } else if (key === 'design') {
      spec = { text: part, key, field: 'design', index: 0 };
      if (values !== undefined) spec.domain = parseChoice(values, DESIGNS, key);
    } else if (key === 'driver') {
      spec = { text: part, key, field: 'driver', index: 0 };
      if (values !== undefined) spec.domain = parseChoice(values, GUEST_DRIVER_NAMES, key);
    } else if (m[4]) {
      if (!isCostName(m[4])) {
        throw new VaryError(`${key}: unknown cost '${m[4]}' (known: ${COST_NAMES.join(', ')})`);
      }
      spec = { text: part, key, field: 'cost', index: 0, cost: m[4] };
      if (values !== undefined) spec.domain = parseRange(values, 'ns', key);
    } else {
      spec = { text: part, key, field: 'workload.kind', index: Number(m[3] ?? 0) };
      if (values !== undefined) spec.domain = parseChoice(values, WORKLOAD_KIND_NAMES, key);
    }
    specs.push(spec);
  }
  return specs;
}

/** `fault.at=5.000ms design=a` (times as durations). */
export function formatVariant(values: Readonly<Record<string, VaryValue>>): string {
  return Object.entries(values)
    .map(([k, v]) => {
      const time = k.endsWith('.at') || k.startsWith('cost.');
      return `${k}=${time && typeof v === 'number' ? formatNs(v).replace(' ', '') : v}`;
    })
    .join(' ');
}

/** The `--vary` text that reproduces these specs. */
export function varyText(specs: readonly VarySpec[]): string {
  return specs.map((s) => s.text).join(',');
}

/** Seed of run `index` of a campaign with seed `campaignSeed`. */
export function runSeed(campaignSeed: number, index: number): number {
  return new Rng(campaignSeed).fork(`run${index}`).u32();
}

function draw(domain: Choice | Range, rng: Rng): VaryValue {
  if (domain.type === 'choice') return rng.pick(domain.values);
  return domain.lo + Math.floor(rng.float() * (domain.hi - domain.lo + 1));
}

type Mutable = Record<string, unknown> & {
  faults: Record<string, unknown>[];
  guests: { phbs: { devices: Record<string, unknown>[] }[] }[];
  workloads: Record<string, unknown>[];
  costs: Record<string, unknown>;
  topology: { phbs: { devices: { name: string }[] }[] };
};

/** Endpoints of the topology (switches are not fault targets by default). */
function deviceNames(s: Scenario): string[] {
  return new DeviceIndex(s.topology).endpoints().map((d) => d.ref);
}

/**
 * Applies the variant of `seed` to a validated scenario: returns the new
 * (validated) scenario, with `seed` as its seed, and the values drawn.
 */
export function applyVariant(
  base: Scenario,
  specs: readonly VarySpec[],
  seed: number,
): { scenario: Scenario; values: Record<string, VaryValue> } {
  const s = structuredClone(base) as unknown as Mutable;
  s.seed = seed;
  const root = new Rng(seed);
  const values: Record<string, VaryValue> = {};
  const devices = deviceNames(base);
  const passed = base.guests.flatMap((g) => g.phbs.flatMap((p) => p.devices.map((d) => d.device)));
  const ensureFault = (i: number): Record<string, unknown> => {
    while (s.faults.length <= i) {
      s.faults.push({
        kind: 'dma',
        target: passed[0] ?? devices[0],
        at: Math.floor(base.run_for / 10),
        count: 1,
      });
    }
    return s.faults[i] as Record<string, unknown>;
  };
  for (const spec of specs) {
    const rng = root.fork(`vary:${spec.key}`);
    let v: VaryValue;
    switch (spec.field) {
      case 'fault.at': {
        const f = ensureFault(spec.index);
        const d = spec.domain ?? {
          type: 'range',
          lo: 0,
          hi: Math.max(0, Math.floor(base.run_for / 2)),
          unit: 'ns',
        };
        v = draw(d, rng);
        f.at = v;
        delete f.after_ops;
        break;
      }
      case 'fault.kind':
        v = draw(spec.domain ?? { type: 'choice', values: [...FAULT_KIND_NAMES] }, rng);
        ensureFault(spec.index).kind = v;
        break;
      case 'fault.target':
        v = draw(spec.domain ?? { type: 'choice', values: devices }, rng);
        ensureFault(spec.index).target = v;
        break;
      case 'fault.count':
        v = draw(spec.domain ?? { type: 'range', lo: 1, hi: 6, unit: 'int' }, rng);
        ensureFault(spec.index).count = v;
        break;
      case 'design':
        v = draw(spec.domain ?? { type: 'choice', values: [...DESIGNS] }, rng);
        s.design = v;
        break;
      case 'driver':
        v = draw(spec.domain ?? { type: 'choice', values: [...GUEST_DRIVER_NAMES] }, rng);
        for (const g of s.guests) for (const p of g.phbs) for (const d of p.devices) d.driver = v;
        break;
      case 'workload.kind': {
        const w = s.workloads[spec.index];
        if (!w) throw new VaryError(`${spec.key}: the scenario has no workload ${spec.index}`);
        v = draw(spec.domain ?? { type: 'choice', values: [...WORKLOAD_KIND_NAMES] }, rng);
        w.kind = v;
        break;
      }
      case 'cost': {
        const name = spec.cost as string;
        const current =
          (base.costs as Record<string, number>)[name] ??
          (DEFAULT_COSTS.find((c) => c.name === name)?.ns as number);
        const d = spec.domain ?? {
          type: 'range',
          lo: Math.floor(current / 2),
          hi: current * 2,
          unit: 'ns',
        };
        v = draw(d, rng);
        s.costs[name] = v;
        break;
      }
    }
    values[spec.key] = v;
  }
  // The topology does not vary: no need to build the hardware again.
  return {
    scenario: validateScenario(s, `${base.name} (variant seed ${seed})`, undefined, {
      hardware: false,
    }),
    values,
  };
}
