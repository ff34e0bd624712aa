/**
 * The shape of one benchmark file: `bench/main.ts` imports every file listed
 * in its BENCHMARKS table and runs them in order. Benchmarks measure real
 * (wall-clock) speed of the simulator itself; they are never tests.
 */
export interface BenchmarkReport {
  readonly name: string;
  /** Human-readable result lines. */
  readonly lines: readonly string[];
  /** Whether the benchmark met its stated target (reported, never enforced). */
  readonly targetMet: boolean;
}

export interface Benchmark {
  readonly name: string;
  readonly description: string;
  run(): Promise<BenchmarkReport>;
}
