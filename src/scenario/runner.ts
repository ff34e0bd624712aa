/**
 * The pluggable scenario runner: the one seam between the interface layer
 * (CLI, campaigns, replay) and the model. The end-to-end machine registers
 * itself here; campaigns load runners by name inside worker threads and
 * BullMQ workers, so a runner is named by a module that exports it.
 *
 * A runner must be deterministic: same scenario (seed included) -> same
 * result and same trace, byte for byte.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TraceRecord } from '../sim/trace.js';
import type { RunResult } from './result.js';
import type { Scenario } from './schema/index.js';

export interface RunOptions {
  /** Record the trace (off in campaigns: only the result is kept). */
  trace: boolean;
}

export interface RunOutput {
  /** The result; absent for runners that cannot report one (demos). */
  result?: RunResult;
  /** Trace records in recording order (empty when `opts.trace` is false). */
  trace: readonly TraceRecord[];
  /** Optional human-readable summary printed by `eehsim run`. */
  summary?: string;
  /** Runner-specific data printed by `--json` (e.g. a demo's own result). */
  details?: unknown;
}

export type ScenarioRunner = (
  scenario: Scenario,
  opts: RunOptions,
) => RunOutput | Promise<RunOutput>;

export interface RunnerEntry {
  name: string;
  description: string;
  /** Loads the runner; resolves to undefined when its module does not exist yet. */
  load: () => Promise<ScenarioRunner | undefined>;
}

/** Imports a module by a path computed at run time (may not exist yet). */
async function optionalImport(url: string): Promise<Record<string, unknown> | undefined> {
  if (!existsSync(fileURLToPath(url))) return undefined;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    // Running from source in a worker thread, where tsx's ESM hooks are
    // not active for dynamic imports: load the TypeScript through tsx.
    if ((err as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    const tsx = 'tsx/esm/api';
    const { tsImport } = (await import(tsx)) as {
      tsImport: (spec: string, parent: string) => Promise<Record<string, unknown>>;
    };
    return tsImport(url, import.meta.url);
  }
}

const here = import.meta.url;
const ext = here.endsWith('.ts') ? '.ts' : '.js';
const sibling = (path: string): string => new URL(`${path}${ext}`, here).href;

/**
 * The registry. Order matters: `eehsim run` uses the first runner that
 * loads unless `--runner` names one.
 *
 * - `machine`: the end-to-end machine (issue 5). MACHINE: the module path
 *   and export below are where it plugs in: `src/machine/runner.ts`
 *   exporting `runScenario: ScenarioRunner`.
 * - `hw-demo`: the hardware/firmware demo (`src/cli/hw_demo.ts`,
 *   `runHwDemo({seed})`), which ignores the scenario except its seed.
 * - `synthetic`: a small deterministic stand-in that exercises campaigns,
 *   traces and expectations; it does NOT model EEH.
 */
const RUNNERS: RunnerEntry[] = [
  {
    name: 'machine',
    description: 'the end-to-end machine (hardware to guest)',
    load: async () => {
      const m = await optionalImport(sibling('../machine/runner'));
      return m?.runScenario as ScenarioRunner | undefined;
    },
  },
  {
    name: 'hw-demo',
    description: 'hardware + firmware demo (uses only the seed of the scenario)',
    load: async () => {
      const m = await optionalImport(sibling('../cli/hw_demo'));
      const demo = m?.runHwDemo as
        | ((o: { seed: number }) => { summary: string; result: unknown })
        | undefined;
      if (!demo) return undefined;
      return (scenario) => {
        const out = demo({ seed: scenario.seed });
        return { trace: [], summary: out.summary, details: out.result };
      };
    },
  },
  {
    name: 'synthetic',
    description: 'deterministic stand-in for tests and campaign plumbing (not a model of EEH)',
    load: async () => {
      const m = await optionalImport(sibling('../campaign/synthetic'));
      return m?.syntheticRunner as ScenarioRunner | undefined;
    },
  },
];

/** The registered runners, in order of preference. */
export function runners(): readonly RunnerEntry[] {
  return RUNNERS;
}

/** Names a user can pass to `--runner`. */
export function runnerNames(): string[] {
  return RUNNERS.map((r) => r.name);
}

/**
 * Registers (or replaces) a runner in this thread. Worker threads and queue
 * workers only know the built-in entries above: a runner meant for
 * campaigns belongs in that list.
 */
export function registerRunner(entry: RunnerEntry): void {
  const i = RUNNERS.findIndex((r) => r.name === entry.name);
  if (i >= 0) RUNNERS[i] = entry;
  else RUNNERS.push(entry);
}

export class RunnerUnavailable extends Error {
  override name = 'RunnerUnavailable';
}

/**
 * Resolves a runner by name, or the first available one of `defaults`
 * (default: machine, then hw-demo). Throws RunnerUnavailable otherwise.
 */
export async function loadRunner(
  name?: string,
  defaults: readonly string[] = ['machine', 'hw-demo'],
): Promise<{ name: string; run: ScenarioRunner }> {
  const names = name === undefined ? defaults : [name];
  for (const n of names) {
    const entry = RUNNERS.find((r) => r.name === n);
    if (!entry) {
      throw new RunnerUnavailable(`unknown runner '${n}' (known: ${runnerNames().join(', ')})`);
    }
    const run = await entry.load();
    if (run) return { name: n, run };
  }
  throw new RunnerUnavailable(
    name === undefined
      ? `no model runner is available yet (tried: ${names.join(', ')}; the end-to-end machine is src/machine/runner.ts)`
      : `runner '${name}' is not available in this build`,
  );
}
