/**
 * Campaign progress: a progress bar with rate and ETA on a terminal,
 * plain periodic lines otherwise (CI logs, pipes). Uses real time: this is
 * the driver, not the model.
 */
import { SingleBar } from 'cli-progress';

export interface Progress {
  update(done: number, failed: number): void;
  stop(): void;
}

export interface ProgressOptions {
  total: number;
  /** Runs already finished (resume). */
  initial: number;
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  label: string;
  /** Minimum time between plain lines (ms). */
  intervalMs?: number;
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

export function createProgress(o: ProgressOptions): Progress {
  const t0 = performance.now();
  const rate = (done: number): number =>
    (done - o.initial) / Math.max(1e-3, (performance.now() - t0) / 1000);
  if (o.stream.isTTY) {
    const bar = new SingleBar({
      stream: o.stream,
      format: `${o.label} |{bar}| {value}/{total} runs | {rate} runs/s | ETA {eta_formatted} | failed {failed}`,
      barsize: 30,
      hideCursor: true,
      etaBuffer: 50,
    });
    bar.start(o.total, o.initial, { rate: '0.0', failed: 0 });
    return {
      update: (done, failed) => bar.update(done, { rate: rate(done).toFixed(1), failed }),
      stop: () => bar.stop(),
    };
  }
  let last = performance.now();
  let lastDone = o.initial;
  const interval = o.intervalMs ?? 5000;
  const line = (done: number, failed: number): void => {
    const r = rate(done);
    const pct = ((100 * done) / Math.max(1, o.total)).toFixed(0);
    o.stream.write(
      `${o.label}: ${done}/${o.total} runs (${pct}%), ${r.toFixed(1)} runs/s, ETA ${eta((o.total - done) / r)}, failed ${failed}\n`,
    );
  };
  return {
    update: (done, failed) => {
      const now = performance.now();
      if (now - last >= interval && done !== lastDone) {
        last = now;
        lastDone = done;
        line(done, failed);
      }
    },
    stop: () => {},
  };
}
