/**
 * Campaign summary: a pure function of the set of run records (their order
 * does not matter), so a campaign gives the same summary serially, on
 * worker threads or on a Redis queue.
 */
import { formatNs } from '../sim/time.js';
import type { RunRecord } from './record.js';
import { formatVariant, type VaryValue } from './vary.js';

export interface CampaignSummary {
  runs: number;
  recovered: number;
  failed: number;
  /** Runs that ended with a recovery still running (not counted in the rate). */
  unfinished: number;
  unaffected: number;
  errors: number;
  /** recovered / (recovered + failed), null when no run froze anything. */
  recoveryRate: number | null;
  silent: { runs: number; reads: number; dmaMismatches: number; seeds: number[] };
  /** Failures (and errors) grouped by cause, most frequent first. */
  causes: { cause: string; status: 'failed' | 'error'; runs: number; seeds: number[] }[];
  slowest: {
    index: number;
    seed: number;
    recoveryNs: number;
    variant: Record<string, VaryValue>;
  }[];
  recoveryNs: { mean: number; p50: number; p95: number; max: number } | null;
  expectFailed: { runs: number; byName: { name: string; runs: number }[] };
}

const SAMPLE = 5;

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export function summarize(records: readonly RunRecord[]): CampaignSummary {
  // One record per index (a queue may deliver a run twice), in index order.
  const byIndex = new Map<number, RunRecord>();
  for (const r of records) if (!byIndex.has(r.index)) byIndex.set(r.index, r);
  const rs = [...byIndex.values()].sort((a, b) => a.index - b.index);
  const count = (s: RunRecord['status']): number => rs.filter((r) => r.status === s).length;
  const recovered = count('recovered');
  const failed = count('failed');

  const silentRuns = rs.filter((r) => r.silentReads + r.dmaMismatches > 0);
  const causes = new Map<
    string,
    { cause: string; status: 'failed' | 'error'; runs: number; seeds: number[] }
  >();
  for (const r of rs) {
    if (r.status !== 'failed' && r.status !== 'error') continue;
    const cause = r.cause ?? r.status;
    const key = `${r.status}|${cause}`;
    const c = causes.get(key) ?? { cause, status: r.status, runs: 0, seeds: [] };
    c.runs++;
    if (c.seeds.length < SAMPLE) c.seeds.push(r.seed);
    causes.set(key, c);
  }
  const times = rs.filter((r) => r.recoveryNs !== undefined);
  const slowest = [...times]
    .sort((a, b) => (b.recoveryNs as number) - (a.recoveryNs as number) || a.index - b.index)
    .slice(0, SAMPLE)
    .map((r) => ({
      index: r.index,
      seed: r.seed,
      recoveryNs: r.recoveryNs as number,
      variant: r.variant,
    }));
  const sorted = times.map((r) => r.recoveryNs as number).sort((a, b) => a - b);
  const names = new Map<string, number>();
  for (const r of rs) for (const n of r.expectFailed) names.set(n, (names.get(n) ?? 0) + 1);

  return {
    runs: rs.length,
    recovered,
    failed,
    unfinished: count('unfinished'),
    unaffected: count('unaffected'),
    errors: count('error'),
    recoveryRate: recovered + failed > 0 ? recovered / (recovered + failed) : null,
    silent: {
      runs: silentRuns.length,
      reads: rs.reduce((n, r) => n + r.silentReads, 0),
      dmaMismatches: rs.reduce((n, r) => n + r.dmaMismatches, 0),
      seeds: silentRuns.slice(0, SAMPLE).map((r) => r.seed),
    },
    causes: [...causes.values()].sort(
      (a, b) =>
        b.runs - a.runs || a.status.localeCompare(b.status) || a.cause.localeCompare(b.cause),
    ),
    slowest,
    recoveryNs: sorted.length
      ? {
          mean: Math.round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
          p50: quantile(sorted, 0.5),
          p95: quantile(sorted, 0.95),
          max: sorted[sorted.length - 1] as number,
        }
      : null,
    expectFailed: {
      runs: rs.filter((r) => r.expectFailed.length > 0).length,
      byName: [...names]
        .map(([name, runs]) => ({ name, runs }))
        .sort((a, b) => b.runs - a.runs || a.name.localeCompare(b.name)),
    },
  };
}

const pct = (n: number, total: number): string =>
  total ? `${((100 * n) / total).toFixed(1)}%` : '-';

/** The summary as text; `reproduce(seed)` gives the command for one run. */
export function formatSummary(s: CampaignSummary, reproduce: (seed: number) => string): string {
  const out: string[] = [];
  out.push(
    `runs: ${s.runs}  recovered ${s.recovered}  failed ${s.failed}  unfinished ${s.unfinished}  unaffected ${s.unaffected}  errors ${s.errors}`,
  );
  if (s.unfinished > 0) {
    out.push(
      `unfinished: ${s.unfinished} runs ended with a recovery still running (not in the rate; give run_for more time or narrow fault.at)`,
    );
  }
  out.push(
    `recovery rate: ${s.recoveryRate === null ? '- (nothing froze)' : `${(100 * s.recoveryRate).toFixed(1)}% (${s.recovered}/${s.recovered + s.failed})`}`,
  );
  if (s.recoveryNs) {
    out.push(
      `recovery time: mean ${formatNs(s.recoveryNs.mean)}, p50 ${formatNs(s.recoveryNs.p50)}, p95 ${formatNs(s.recoveryNs.p95)}, max ${formatNs(s.recoveryNs.max)}`,
    );
  }
  out.push(
    `silent corruption: ${s.silent.runs} runs (${pct(s.silent.runs, s.runs)}), ${s.silent.reads} all-1s reads consumed, ${s.silent.dmaMismatches} DMA mismatches${s.silent.seeds.length ? `; seeds ${s.silent.seeds.join(', ')}` : ''}`,
  );
  if (s.causes.length) {
    out.push('failures by cause:');
    for (const c of s.causes) {
      out.push(
        `  ${String(c.runs).padStart(6)}  ${c.status === 'error' ? 'ERROR ' : ''}${c.cause}`,
      );
      out.push(`          e.g. ${reproduce(c.seeds[0] as number)}`);
    }
  }
  if (s.slowest.length) {
    out.push('slowest recoveries:');
    for (const r of s.slowest) {
      out.push(
        `  ${formatNs(r.recoveryNs).padStart(11)}  seed ${r.seed}  ${formatVariant(r.variant)}`,
      );
    }
  }
  if (s.expectFailed.runs) {
    out.push(`expectations failed in ${s.expectFailed.runs} runs:`);
    for (const n of s.expectFailed.byName.slice(0, 10)) {
      out.push(`  ${String(n.runs).padStart(6)}  ${n.name}`);
    }
  }
  return out.join('\n');
}
