/**
 * One campaign run: the task sent to a worker (thread, process or BullMQ
 * worker) and the record it sends back, one JSONL line each.
 */
import { checkExpectations } from '../scenario/expect.js';
import type { RunResult } from '../scenario/result.js';
import { loadRunner, type ScenarioRunner } from '../scenario/runner.js';
import type { Scenario } from '../scenario/schema/index.js';
import { applyVariant, parseVary, type VarySpec, type VaryValue } from './vary.js';

/**
 * One run as sent to a worker: the campaign's base scenario, its --vary
 * specs and the run's seed. The worker derives the variant itself (so that
 * work is spread over the workers too).
 */
export interface RunTask {
  index: number;
  seed: number;
  base: Scenario;
  /** The campaign's --vary text. */
  vary: string;
  runner: string;
}

export type RunStatus = 'recovered' | 'failed' | 'unfinished' | 'unaffected' | 'error';

export interface RunRecord {
  index: number;
  seed: number;
  variant: Record<string, VaryValue>;
  /**
   * recovered: every frozen device recovered; failed: a device failed or was
   * disabled; unfinished: none failed, but a device was still frozen or
   * recovering when the run ended (run_for too short for that fault time);
   * unaffected: nothing froze; error: the runner threw (a bug) or gave no
   * result.
   */
  status: RunStatus;
  /** Why the run failed (grouping key in the summary). */
  cause?: string;
  /** Slowest device recovery (ns). */
  recoveryNs?: number;
  freezes: number;
  silentReads: number;
  dmaMismatches: number;
  lostIos: number;
  /** Names of the scenario's expectations that failed. */
  expectFailed: string[];
  endNs?: number;
}

/** A run with its variant applied. */
export interface VariantRun {
  index: number;
  seed: number;
  scenario: Scenario;
  variant: Record<string, VaryValue>;
  runner: string;
}

/** Turns a run's result into its campaign record. */
export function recordOf(task: VariantRun, result: RunResult | undefined): RunRecord {
  const base = { index: task.index, seed: task.seed, variant: task.variant };
  if (!result) {
    return {
      ...base,
      status: 'error',
      cause: `runner '${task.runner}' gives no result`,
      freezes: 0,
      silentReads: 0,
      dmaMismatches: 0,
      lostIos: 0,
      expectFailed: [],
    };
  }
  const devs = result.devices;
  const bad = devs.filter((d) => d.status === 'failed' || d.status === 'disabled');
  const open = devs.filter((d) => d.status === 'frozen');
  const rec: RunRecord = {
    ...base,
    status: bad.length
      ? 'failed'
      : open.length
        ? 'unfinished'
        : devs.some((d) => d.status === 'recovered')
          ? 'recovered'
          : 'unaffected',
    freezes: devs.reduce((n, d) => n + d.freezes, 0),
    silentReads: devs.reduce((n, d) => n + d.integrity.silentReads, 0),
    dmaMismatches: devs.reduce((n, d) => n + d.integrity.dmaMismatches, 0),
    lostIos: devs.reduce((n, d) => n + d.integrity.lostIos, 0),
    expectFailed: checkExpectations(task.scenario, result)
      .filter((v) => !v.ok)
      .map((v) => v.name),
    endNs: result.endNs,
  };
  if (bad.length) rec.cause = [...new Set(bad.map((d) => d.cause ?? d.status))].sort().join('; ');
  const times = devs.flatMap((d) => (d.recoveryNs !== undefined ? [d.recoveryNs] : []));
  if (times.length) rec.recoveryNs = Math.max(...times);
  return rec;
}

export function errorRecord(
  task: { index: number; seed: number; variant: Record<string, VaryValue> },
  err: unknown,
): RunRecord {
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return {
    index: task.index,
    seed: task.seed,
    variant: task.variant,
    status: 'error',
    cause: msg.split('\n')[0] as string,
    freezes: 0,
    silentReads: 0,
    dmaMismatches: 0,
    lostIos: 0,
    expectFailed: [],
  };
}

const runnerCache = new Map<string, Promise<ScenarioRunner>>();
const varyCache = new Map<string, VarySpec[]>();

/** Derives the variant of a task and runs it with its runner (loaded once per thread); never throws. */
export async function executeTask(task: RunTask): Promise<RunRecord> {
  let run: VariantRun;
  try {
    let specs = varyCache.get(task.vary);
    if (!specs) {
      specs = parseVary(task.vary);
      varyCache.set(task.vary, specs);
    }
    const { scenario, values } = applyVariant(task.base, specs, task.seed);
    run = { index: task.index, seed: task.seed, scenario, variant: values, runner: task.runner };
  } catch (err) {
    // e.g. a fault time drawn past run_for: an invalid variant, reported as an error run
    return errorRecord({ index: task.index, seed: task.seed, variant: {} }, err);
  }
  try {
    let runner = runnerCache.get(task.runner);
    if (!runner) {
      runner = loadRunner(task.runner).then((r) => r.run);
      runnerCache.set(task.runner, runner);
    }
    const out = await (await runner)(run.scenario, { trace: false });
    return recordOf(run, out.result);
  } catch (err) {
    return errorRecord(run, err);
  }
}
