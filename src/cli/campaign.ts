/**
 * `eehsim campaign` and `eehsim worker`.
 */
import {
  type CampaignConfig,
  type CampaignOutcome,
  campaignHeader,
  reproduceCommand,
  resumeFrom,
  runCampaign,
} from '../campaign/campaign.js';
import { defaultJobs, inProcessExecutor, threadExecutor } from '../campaign/executor.js';
import { createProgress } from '../campaign/progress.js';
import { parseQueueUrl, runQueueCampaign, runQueueWorker } from '../campaign/queue.js';
import { formatSummary, summarize } from '../campaign/summary.js';
import { parseVary } from '../campaign/vary.js';
import { loadScenario } from '../scenario/builtin.js';
import { loadRunner, RunnerUnavailable } from '../scenario/runner.js';
import { parseDuration } from '../sim/time.js';
import { type CliIo, EXIT, usage } from './io.js';
import { parseSeed } from './run.js';

export interface CampaignCmdOptions {
  runs: string;
  vary?: string;
  seed?: string;
  jobs?: string;
  serial?: boolean;
  out?: string;
  resume?: boolean;
  queue?: string;
  runner?: string;
  json?: boolean;
  progress?: boolean;
}

function parseCount(name: string, text: string, min: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min)
    throw usage(`${name}: '${text}' is not an integer >= ${min}`);
  return Number(text);
}

/** Ctrl-C: first one aborts (keeping finished results), a second one exits at once. */
function interruptible(io: CliIo, what: string): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  if (!io.signals) return { signal: ac.signal, dispose: () => {} };
  const second = (): void => process.exit(EXIT.INTERRUPTED);
  const first = (): void => {
    io.err(`\n${what}: interrupted; stopping (Ctrl-C again to quit at once)\n`);
    ac.abort();
    process.once('SIGINT', second);
  };
  process.once('SIGINT', first);
  return {
    signal: ac.signal,
    dispose: () => {
      process.removeListener('SIGINT', first);
      process.removeListener('SIGINT', second);
    },
  };
}

export async function cmdCampaign(ref: string, o: CampaignCmdOptions, io: CliIo): Promise<number> {
  const { scenario: base } = loadScenario(ref);
  const runs = parseCount('--runs', o.runs, 1);
  const vary = parseVary(o.vary);
  const seed = parseSeed(o.seed) ?? base.seed;
  if (o.resume && !o.out) throw usage('--resume needs --out <file.jsonl>');
  if (o.queue && (o.jobs !== undefined || o.serial)) {
    throw usage(
      '--jobs / --serial apply to local runs; with --queue, size the workers (eehsim worker --jobs)',
    );
  }
  // Check the runner here (clear error) even though workers load it again.
  let runner: string;
  try {
    runner = (await loadRunner(o.runner, ['machine'])).name;
  } catch (err) {
    if (err instanceof RunnerUnavailable) {
      throw usage(
        `${err.message}${o.runner ? '' : ' (campaigns need a runner that returns results; --runner synthetic exercises the campaign machinery without the model)'}`,
      );
    }
    throw err;
  }
  const config: CampaignConfig = { ref, base, runs, vary, seed, runner };
  const header = campaignHeader(config);
  const initial = o.resume ? resumeFrom(config, o.out).length : 0;
  const { signal, dispose } = interruptible(io, 'campaign');
  let failed = 0;
  const showProgress = o.progress !== false;
  let progress: ReturnType<typeof createProgress> | undefined;
  const onRecord = (r: { status: string }, done: number): void => {
    if (r.status === 'failed' || r.status === 'error') failed++;
    progress?.update(done, failed);
  };
  let outcome: CampaignOutcome;
  let label: string;
  try {
    if (o.queue) {
      const url = parseQueueUrl(o.queue);
      label = `queue ${url}`;
      io.err(`campaign ${header.id}: ${runs} runs of ${base.name} on ${label}\n`);
      if (showProgress)
        progress = createProgress({ total: runs, initial, stream: io.progress, label: 'campaign' });
      outcome = await runQueueCampaign(config, url, {
        out: o.out,
        resume: o.resume,
        signal,
        onRecord,
        onNoWorkers: () =>
          io.err(
            `campaign: no worker is connected; start some with: eehsim worker --queue ${url}\n`,
          ),
      });
    } else {
      const executor = o.serial
        ? inProcessExecutor()
        : threadExecutor(o.jobs ? parseCount('--jobs', o.jobs, 1) : defaultJobs());
      label = executor.label;
      io.err(`campaign ${header.id}: ${runs} runs of ${base.name} on ${label}\n`);
      if (showProgress)
        progress = createProgress({ total: runs, initial, stream: io.progress, label: 'campaign' });
      try {
        outcome = await runCampaign(config, executor, {
          out: o.out,
          resume: o.resume,
          signal,
          onRecord,
        });
      } finally {
        await executor.close();
      }
    }
  } finally {
    progress?.stop();
    dispose();
  }
  const summary = summarize(outcome.records);
  const ran = outcome.records.length - outcome.resumed;
  const secs = outcome.wallMs / 1000;
  io.err(
    `campaign: ${ran} runs in ${secs.toFixed(2)} s (${(ran / Math.max(secs, 1e-9)).toFixed(1)} runs/s, ${label})${outcome.resumed ? `, ${outcome.resumed} resumed from ${o.out}` : ''}\n`,
  );
  if (o.json) {
    io.out(
      `${JSON.stringify({ campaign: header, interrupted: outcome.interrupted, summary }, null, 2)}\n`,
    );
  } else {
    io.out(
      `campaign ${header.id}: scenario ${base.name}, seed ${seed}, vary ${header.vary || '-'}, runner ${runner}\n`,
    );
    io.out(`${formatSummary(summary, (s) => reproduceCommand(config, s))}\n`);
    if (o.out) io.out(`results: ${o.out}\n`);
  }
  if (outcome.interrupted) {
    io.err(
      `campaign: interrupted after ${outcome.records.length}/${runs} runs${o.out ? `; continue with the same command and --resume` : ' (use --out to keep results)'}\n`,
    );
    return EXIT.INTERRUPTED;
  }
  return EXIT.OK;
}

export interface WorkerCmdOptions {
  queue: string;
  jobs?: string;
  idleExit?: string;
}

export async function cmdWorker(o: WorkerCmdOptions, io: CliIo): Promise<number> {
  const url = parseQueueUrl(o.queue);
  const jobs = o.jobs ? parseCount('--jobs', o.jobs, 1) : defaultJobs();
  let idleExitMs: number | undefined;
  if (o.idleExit !== undefined) {
    const ns = parseDuration(o.idleExit);
    if (ns === undefined) throw usage(`--idle-exit: '${o.idleExit}' is not a duration (e.g. 30s)`);
    idleExitMs = ns / 1e6;
  }
  const { signal, dispose } = interruptible(io, 'worker');
  io.err(`worker: ${url}, ${jobs} thread${jobs === 1 ? '' : 's'}; Ctrl-C to stop\n`);
  try {
    const n = await runQueueWorker(url, { jobs, idleExitMs, signal });
    io.err(`worker: ran ${n} runs\n`);
  } finally {
    dispose();
  }
  return signal.aborted ? EXIT.INTERRUPTED : EXIT.OK;
}
