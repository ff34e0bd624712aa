/**
 * The scenario file format (YAML or JSON), as a zod schema: the single
 * source of the loader's validation, of the TypeScript types and of the
 * JSON Schema that `eehsim schema` prints.
 *
 * Sections are in their own files so each can follow the builder input of
 * the layer it configures (topology -> src/hw, guests -> src/vmm + guest,
 * ...). Cross references (a fault's target, a guest's device, a step's
 * guest) are checked here, with the path of the offending field.
 */
import { z } from 'zod';
import { Duration, U32 } from './common.js';
import { CostOverrides } from './costs.js';
import { Design } from './design.js';
import { Expect } from './expect.js';
import { Fault } from './faults.js';
import { Guest } from './guests.js';
import { RTAS_ARG_RE, Step } from './steps.js';
import { DeviceIndex, Topology } from './topology.js';
import { Workload } from './workloads.js';

export * from './common.js';
export * from './costs.js';
export * from './design.js';
export * from './expect.js';
export * from './faults.js';
export * from './guests.js';
export * from './steps.js';
export * from './topology.js';
export * from './workloads.js';

const ScenarioObject = z.strictObject({
  $schema: z.string().optional().meta({ description: 'JSON Schema reference for editors' }),
  name: z.string().min(1, { error: 'name must not be empty' }),
  description: z.string().optional(),
  seed: U32.default(1).meta({ description: 'Seed of the run (same seed, same trace)' }),
  design: Design.default('d'),
  costs: CostOverrides.default({}),
  topology: Topology,
  guests: z.array(Guest).default([]),
  workloads: z.array(Workload).default([]),
  faults: z.array(Fault).default([]),
  steps: z.array(Step).default([]),
  run_for: Duration.default(10_000_000_000).meta({
    description: 'Virtual run length (default 10s)',
  }),
  expect: Expect.default({}),
});

type RawScenario = z.output<typeof ScenarioObject>;

/** Checks that every reference names something the scenario defines. */
function checkReferences(s: RawScenario, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string): void => {
    ctx.addIssue({ code: 'custom', path, message });
  };
  const seenPhb = new Set<number>();
  s.topology.phbs.forEach((phb, i) => {
    if (seenPhb.has(phb.id)) issue(['topology', 'phbs', i, 'id'], `duplicate PHB id ${phb.id}`);
    seenPhb.add(phb.id);
  });
  const index = new DeviceIndex(s.topology);
  const names = new Set<string>();
  const addresses = new Set<string>();
  for (const d of index.all) {
    if (d.device.name !== undefined) {
      if (names.has(d.device.name))
        issue([...d.path, 'name'], `duplicate device name '${d.device.name}'`);
      names.add(d.device.name);
    }
    if (d.functions.some((f) => addresses.has(f)))
      issue([...d.path, 'bdf'], `duplicate BDF ${d.address}`);
    for (const f of d.functions) addresses.add(f);
    if (d.device.ports !== undefined && d.device.model !== 'pcie_switch') {
      issue([...d.path, 'ports'], `only a pcie_switch has ports, not a ${d.device.model}`);
    }
  }
  const known = (): string => index.all.map((d) => d.ref).join(', ');
  /** Resolves a device reference to its canonical ref (name, else address). */
  const device = (ref: string, path: (string | number)[]): string | undefined => {
    const d = index.resolve(ref);
    if (d === undefined) issue(path, `no device '${ref}' in the topology (devices: ${known()})`);
    return d?.ref;
  };
  s.topology.pes?.forEach((pe, i) => {
    const phbs = new Set<number>();
    pe.devices.forEach((ref, j) => {
      const d = index.resolve(ref);
      if (!d) device(ref, ['topology', 'pes', i, 'devices', j]);
      else phbs.add(d.phb);
    });
    if (phbs.size > 1) issue(['topology', 'pes', i, 'devices'], 'a PE cannot span two PHBs');
  });

  const guests = new Map<string, Set<string>>(); // guest -> devices passed through
  const owner = new Map<string, string>(); // device -> guest
  s.guests.forEach((g, i) => {
    if (g.name === 'host') issue(['guests', i, 'name'], "'host' is reserved for the host");
    if (guests.has(g.name)) issue(['guests', i, 'name'], `duplicate guest name '${g.name}'`);
    const mine = new Set<string>();
    guests.set(g.name, mine);
    const buids = new Set<string>();
    g.phbs.forEach((p, j) => {
      if (p.buid !== undefined) {
        if (buids.has(p.buid)) issue(['guests', i, 'phbs', j, 'buid'], `duplicate BUID ${p.buid}`);
        buids.add(p.buid);
      }
      p.devices.forEach((d, k) => {
        const path = ['guests', i, 'phbs', j, 'devices', k, 'device'];
        const name = device(d.device, path);
        if (name === undefined) return;
        const prev = owner.get(name);
        if (prev !== undefined) {
          issue(path, `device '${name}' is already passed through to ${prev}`);
        }
        owner.set(name, g.name);
        mine.add(name);
      });
    });
  });
  const guest = (name: string, path: (string | number)[]): boolean => {
    if (guests.has(name)) return true;
    issue(path, `no guest '${name}' (guests: ${[...guests.keys()].join(', ') || 'none'})`);
    return false;
  };

  s.workloads.forEach((w, i) => {
    const name = device(w.device, ['workloads', i, 'device']);
    if (w.guest === undefined) {
      if (name !== undefined && owner.has(name)) {
        issue(
          ['workloads', i, 'guest'],
          `device '${name}' is passed through to ${owner.get(name)}: name that guest`,
        );
      }
    } else if (guest(w.guest, ['workloads', i, 'guest']) && name !== undefined) {
      if (!guests.get(w.guest)?.has(name)) {
        issue(['workloads', i, 'device'], `device '${name}' is not passed through to ${w.guest}`);
      }
    }
  });
  s.faults.forEach((f, i) => {
    device(f.target, ['faults', i, 'target']);
    if (f.at !== undefined && f.at >= s.run_for) {
      issue(['faults', i, 'at'], `fault at ${f.at} ns is not before run_for (${s.run_for} ns)`);
    }
  });
  const ids = new Set<string>();
  s.steps.forEach((st, i) => {
    if (st.id !== undefined) {
      if (ids.has(st.id)) issue(['steps', i, 'id'], `duplicate step id '${st.id}'`);
      ids.add(st.id);
    }
    if (st.at >= s.run_for) issue(['steps', i, 'at'], 'step is not before run_for');
    if (st.kind === 'rtas') {
      guest(st.guest, ['steps', i, 'guest']);
      st.args.forEach((a, j) => {
        const m = typeof a === 'string' ? RTAS_ARG_RE.exec(a) : null;
        if (m) {
          const name = device(m[2] as string, ['steps', i, 'args', j]);
          if (name !== undefined && !guests.get(st.guest)?.has(name)) {
            issue(['steps', i, 'args', j], `device '${name}' is not passed through to ${st.guest}`);
          }
        }
      });
      if (st.nargs === undefined && st.args.length === 0) {
        issue(['steps', i, 'args'], 'an RTAS call needs args (or an explicit nargs)');
      }
    } else if (st.kind === 'vfio') {
      guest(st.guest, ['steps', i, 'guest']);
      if (st.device !== undefined) device(st.device, ['steps', i, 'device']);
    } else if (st.device !== undefined) {
      device(st.device, ['steps', i, 'device']);
    }
  });
  const e = s.expect;
  const lists = { recovered: e.recovered, failed: e.failed, unaffected: e.unaffected };
  for (const [key, list] of Object.entries(lists)) {
    if (!Array.isArray(list)) continue;
    list.forEach((d, i) => {
      device(d, ['expect', key, i]);
    });
  }
  for (const d of Object.keys(e.freezes ?? {})) device(d, ['expect', 'freezes', d]);
  for (const d of Object.keys(e.pe_state ?? {})) device(d, ['expect', 'pe_state', d]);
  for (const id of Object.keys(e.steps ?? {})) {
    if (!ids.has(id)) issue(['expect', 'steps', id], `no step with id '${id}'`);
  }
}

// Cross references are checked once every field is valid on its own (so
// they never report consequences of an error already reported).
export const ScenarioSchema = ScenarioObject.superRefine(checkReferences, {
  when: (payload) => payload.issues.length === 0,
});

/** A validated scenario (durations in ns, defaults filled in). */
export type Scenario = z.output<typeof ScenarioSchema>;
/** A scenario as written in a file. */
export type ScenarioInput = z.input<typeof ScenarioSchema>;

/** The JSON Schema of the file format (input side: what a file may contain). */
export function scenarioJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ScenarioSchema, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://eehsim.invalid/eehsim.schema.json',
    title: 'eehsim scenario',
    description:
      'A scenario for eehsim, the executable model of POWER EEH recovery for VFIO passthrough devices.',
  };
}
