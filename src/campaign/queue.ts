/**
 * Campaigns beyond one machine: runs go on a BullMQ queue in Redis, any
 * number of `eehsim worker --queue URL` processes execute them (each on its
 * own pool of worker threads) and push their records to a Redis list,
 * which the campaign process collects and summarises like a local run.
 *
 * Redis keys: the BullMQ queue `eehsim-runs` (prefix `bull`), and
 * `eehsim:campaign:<id>:results` (a list of JSON records, kept 7 days).
 * Job ids are `<campaign id>-<run index>`, so a run queued twice is
 * executed once; a record delivered twice is counted once.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  type CampaignConfig,
  type CampaignOutcome,
  type CampaignRunOptions,
  campaignHeader,
  campaignId,
  resumeFrom,
  taskOf,
} from './campaign.js';
import { defaultJobs, type Executor, threadExecutor } from './executor.js';
import { CampaignWriter } from './jsonl.js';
import type { RunRecord, RunTask } from './record.js';

export const QUEUE_NAME = 'eehsim-runs';
const RESULTS_TTL_S = 7 * 24 * 3600;

export const resultsKey = (id: string): string => `eehsim:campaign:${id}:results`;

interface JobData {
  campaign: string;
  task: RunTask;
}

export class QueueError extends Error {
  override name = 'QueueError';
}

/** Checks a `redis://host:port[/db]` URL. */
export function parseQueueUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new QueueError(`--queue: '${url}' is not a URL (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new QueueError(`--queue: '${url}' is not a redis:// URL`);
  }
  return url;
}

/** A connection that fails fast when Redis is unreachable. */
async function connect(url: string): Promise<Redis> {
  const r = new Redis(parseQueueUrl(url), {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    retryStrategy: (n) => (n > 20 ? null : Math.min(1000, 50 * n)),
  });
  r.on('error', () => {}); // reported by connect() or by the command that fails
  try {
    await r.connect();
  } catch (err) {
    r.disconnect();
    throw new QueueError(`cannot connect to ${url}: ${(err as Error).message}`);
  }
  return r;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

export interface QueueCampaignOptions extends CampaignRunOptions {
  /** Called once if no worker is connected while runs wait. */
  onNoWorkers?: () => void;
  pollMs?: number;
}

/**
 * Runs a campaign through the queue. Without --resume the campaign's old
 * results in Redis are dropped first; with it they are kept and collected.
 * On interruption the queued runs stay queued: workers keep executing them
 * and a later `--resume` collects their records.
 */
export async function runQueueCampaign(
  c: CampaignConfig,
  url: string,
  opts: QueueCampaignOptions = {},
): Promise<CampaignOutcome> {
  const t0 = performance.now();
  const id = campaignId(c);
  const key = resultsKey(id);
  const previous = opts.resume ? resumeFrom(c, opts.out) : [];
  const done = new Map<number, RunRecord>(previous.map((r) => [r.index, r]));
  const signal = opts.signal ?? new AbortController().signal;
  const redis = await connect(url);
  const queue = new Queue<JobData>(QUEUE_NAME, { connection: redis });
  const writer = opts.out
    ? opts.resume
      ? CampaignWriter.append(opts.out)
      : CampaignWriter.create(opts.out, campaignHeader(c))
    : undefined;
  const finish = (r: RunRecord): void => {
    if (done.has(r.index) || r.index >= c.runs) return;
    done.set(r.index, r);
    writer?.line(r);
    opts.onRecord?.(r, done.size, c.runs);
  };
  try {
    if (!opts.resume) await redis.del(key);
    let offset = 0;
    const collect = async (): Promise<void> => {
      const lines = await redis.lrange(key, offset, -1);
      offset += lines.length;
      for (const l of lines) finish(JSON.parse(l) as RunRecord);
    };
    await collect();
    // Queue the runs still missing, in chunks.
    const jobs: { name: string; data: JobData; opts: { jobId: string } }[] = [];
    const flush = async (): Promise<void> => {
      if (jobs.length) await queue.addBulk(jobs.splice(0));
    };
    for (let i = 0; i < c.runs && !signal.aborted; i++) {
      if (done.has(i)) continue;
      const t = taskOf(c, i);
      jobs.push({
        name: 'run',
        data: { campaign: id, task: t },
        opts: { jobId: `${id}-${i}` },
      });
      if (jobs.length >= 500) await flush();
    }
    await flush();
    let warned = false;
    let idle = 0;
    while (done.size < c.runs && !signal.aborted) {
      const before = done.size;
      await collect();
      if (done.size === before) {
        idle++;
        if (
          !warned &&
          idle * (opts.pollMs ?? 100) >= 3000 &&
          (await queue.getWorkersCount()) === 0
        ) {
          warned = true;
          opts.onNoWorkers?.();
        }
        await sleep(opts.pollMs ?? 100, signal);
      } else idle = 0;
    }
  } finally {
    writer?.close();
    await queue.close();
    redis.disconnect();
  }
  return {
    records: [...done.values()].sort((a, b) => a.index - b.index),
    resumed: previous.length,
    interrupted: signal.aborted && done.size < c.runs,
    wallMs: performance.now() - t0,
  };
}

export interface QueueWorkerOptions {
  /** Worker threads (and concurrent jobs); default: one per core. */
  jobs?: number;
  /** Exit after this long without a job (ms); default: run until the signal. */
  idleExitMs?: number;
  signal?: AbortSignal;
  /** For tests: a custom executor instead of worker threads. */
  executor?: Executor;
  onRun?: (r: RunRecord) => void;
}

/** Processes queued runs until the signal (or idle timeout); returns how many it ran. */
export async function runQueueWorker(url: string, opts: QueueWorkerOptions = {}): Promise<number> {
  const jobs = opts.jobs ?? defaultJobs();
  const exec = opts.executor ?? threadExecutor(jobs);
  const redis = await connect(url);
  let processed = 0;
  let active = 0;
  let last = performance.now();
  const worker = new Worker<JobData>(
    QUEUE_NAME,
    async (job) => {
      active++;
      try {
        const rec = await exec.run(job.data.task);
        const key = resultsKey(job.data.campaign);
        await redis.multi().rpush(key, JSON.stringify(rec)).expire(key, RESULTS_TTL_S).exec();
        processed++;
        opts.onRun?.(rec);
      } finally {
        active--;
        last = performance.now();
      }
    },
    {
      connection: redis,
      concurrency: jobs,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 1000 },
    },
  );
  worker.on('error', () => {}); // connection hiccups are retried by ioredis
  try {
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        clearInterval(timer);
        resolve();
      };
      const timer = setInterval(() => {
        if (
          opts.idleExitMs !== undefined &&
          active === 0 &&
          performance.now() - last > opts.idleExitMs
        )
          stop();
      }, 100);
      if (opts.signal?.aborted) stop();
      opts.signal?.addEventListener('abort', stop);
    });
  } finally {
    await worker.close();
    await exec.close();
    redis.disconnect();
  }
  return processed;
}
