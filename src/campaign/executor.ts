/**
 * Where campaign runs execute: in this thread (serial), or on a pool of
 * worker threads (piscina) sized to the cores. Both run the same
 * `executeTask`, so they give the same records.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { executeTask, type RunRecord, type RunTask } from './record.js';

export interface Executor {
  /** Human-readable description (`4 worker threads`). */
  readonly label: string;
  /** How many tasks to keep in flight. */
  readonly concurrency: number;
  run(task: RunTask): Promise<RunRecord>;
  close(): Promise<void>;
}

/** Serial execution in the calling thread. */
export function inProcessExecutor(): Executor {
  return {
    label: 'in process (serial)',
    concurrency: 1,
    run: async (task) => {
      const rec = await executeTask(task);
      // Let signals and I/O in between runs.
      await new Promise((r) => setImmediate(r));
      return rec;
    },
    close: async () => {},
  };
}

const here = import.meta.url;
const fromSource = here.endsWith('.ts');

/** The default pool size: one thread per core. */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/** A pool of `threads` worker threads. */
export function threadExecutor(threads = defaultJobs()): Executor {
  const pool = new Piscina<RunTask, RunRecord>({
    filename: new URL(`./worker${fromSource ? '.ts' : '.js'}`, here).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    // Running from source (tests, tsx): the threads load TypeScript with tsx.
    execArgv: fromSource ? ['--import', 'tsx'] : [],
  });
  return {
    label: `${threads} worker thread${threads === 1 ? '' : 's'}`,
    concurrency: threads * 2,
    // In-flight runs are not aborted: on Ctrl-C the driver stops handing
    // out runs and the ones running finish (a second Ctrl-C exits at once).
    // (Aborting piscina tasks races with their results.)
    run: (task) => pool.run(task),
    close: () => pool.destroy(),
  };
}
