/**
 * The campaign driver: generates the runs of a campaign (variant per run
 * index, from the campaign seed), executes them on an executor (serial,
 * worker threads) or through a queue, writes each record to the JSONL file
 * as it finishes, and returns the records for the summary.
 */
import { createHash } from 'node:crypto';
import type { Scenario } from '../scenario/schema/index.js';
import type { Executor } from './executor.js';
import {
  CampaignFileError,
  type CampaignHeader,
  CampaignWriter,
  readCampaignFile,
} from './jsonl.js';
import { errorRecord, type RunRecord, type RunTask } from './record.js';
import { runSeed, type VarySpec, varyText } from './vary.js';

export interface CampaignConfig {
  /** The scenario as named on the command line (for reproduce commands). */
  ref: string;
  base: Scenario;
  runs: number;
  vary: readonly VarySpec[];
  /** Campaign seed: run seeds derive from it. */
  seed: number;
  runner: string;
}

/** Identifies a campaign independently of its run count (so --resume can extend it). */
export function campaignId(c: CampaignConfig): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({ scenario: c.base, vary: varyText(c.vary), seed: c.seed, runner: c.runner }),
  );
  return h.digest('hex').slice(0, 16);
}

export function campaignHeader(c: CampaignConfig): CampaignHeader {
  return {
    id: campaignId(c),
    scenario: c.base.name,
    ref: c.ref,
    vary: varyText(c.vary),
    seed: c.seed,
    runner: c.runner,
    runs: c.runs,
  };
}

/** The command that reproduces one run of the campaign. */
export function reproduceCommand(c: CampaignConfig, seed: number): string {
  const vary = varyText(c.vary);
  const runner = c.runner === 'machine' ? '' : ` --runner ${c.runner}`;
  return `eehsim run ${c.ref}${vary ? ` --vary ${vary}` : ''} --seed ${seed}${runner}`;
}

/** The task of run `index` (the worker derives its variant). */
export function taskOf(c: CampaignConfig, index: number): RunTask {
  return {
    index,
    seed: runSeed(c.seed, index),
    base: c.base,
    vary: varyText(c.vary),
    runner: c.runner,
  };
}

export interface CampaignRunOptions {
  /** JSONL output file. */
  out?: string;
  /** Skip runs already in `out`. */
  resume?: boolean;
  signal?: AbortSignal;
  onRecord?: (r: RunRecord, done: number, total: number) => void;
}

export interface CampaignOutcome {
  records: RunRecord[];
  /** Runs taken from the file by --resume. */
  resumed: number;
  interrupted: boolean;
  wallMs: number;
}

/** Loads the already finished runs for --resume (checking it is the same campaign). */
export function resumeFrom(c: CampaignConfig, out: string | undefined): RunRecord[] {
  if (!out) throw new CampaignFileError('--resume needs --out <file.jsonl>');
  const { header, records } = readCampaignFile(out);
  const id = campaignId(c);
  if (header.id !== id) {
    throw new CampaignFileError(
      `${out}: a different campaign (scenario ${header.scenario}, --vary ${header.vary || '-'}, seed ${header.seed}, runner ${header.runner}); resume needs the same scenario, --vary, --seed and --runner`,
    );
  }
  return records.filter((r) => r.index < c.runs);
}

/** Runs a campaign on an executor. */
export async function runCampaign(
  c: CampaignConfig,
  executor: Executor,
  opts: CampaignRunOptions = {},
): Promise<CampaignOutcome> {
  const t0 = performance.now();
  const previous = opts.resume ? resumeFrom(c, opts.out) : [];
  const done = new Map<number, RunRecord>(previous.map((r) => [r.index, r]));
  const writer = opts.out
    ? opts.resume
      ? CampaignWriter.append(opts.out)
      : CampaignWriter.create(opts.out, campaignHeader(c))
    : undefined;
  const signal = opts.signal ?? new AbortController().signal;
  const finish = (r: RunRecord): void => {
    if (done.has(r.index)) return;
    done.set(r.index, r);
    writer?.line(r);
    opts.onRecord?.(r, done.size, c.runs);
  };
  try {
    let next = 0;
    const nextIndex = (): number | undefined => {
      while (next < c.runs && done.has(next)) next++;
      return next < c.runs ? next++ : undefined;
    };
    const lane = async (): Promise<void> => {
      for (let i = nextIndex(); i !== undefined && !signal.aborted; i = nextIndex()) {
        const t = taskOf(c, i);
        try {
          finish(await executor.run(t));
        } catch (err) {
          finish(errorRecord({ ...t, variant: {} }, err));
        }
      }
    };
    await Promise.all(Array.from({ length: executor.concurrency }, lane));
  } finally {
    writer?.close();
  }
  return {
    records: [...done.values()].sort((a, b) => a.index - b.index),
    resumed: previous.length,
    interrupted: signal.aborted && done.size < c.runs,
    wallMs: performance.now() - t0,
  };
}
