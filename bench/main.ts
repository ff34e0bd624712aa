/**
 * `npm run bench`: runs every benchmark in BENCHMARKS and prints its report.
 * Add a benchmark by writing bench/<name>.ts exporting a `Benchmark` and
 * listing it here. Reports targets; the exit code is always 0.
 */
import type { Benchmark } from './benchmark.js';
import { mmioReadBenchmark } from './mmio_read.js';
import { scaleBenchmark } from './scale.js';

export const BENCHMARKS: readonly Benchmark[] = [mmioReadBenchmark, scaleBenchmark];

const only = process.argv.slice(2);
for (const b of BENCHMARKS) {
  if (only.length > 0 && !only.includes(b.name)) continue;
  console.log(`== ${b.name}: ${b.description}`);
  const report = await b.run();
  for (const line of report.lines) console.log(`   ${line}`);
  console.log(`   target ${report.targetMet ? 'met' : 'MISSED'}`);
}
