/**
 * First difference between two line-oriented traces (the compact text
 * trace, or a Chrome trace written one event per line), with context, as
 * `eehsim replay` and golden tests print it.
 */

export interface TraceDiff {
  /** 1-based line number of the first differing line. */
  line: number;
  /** The line in the expected trace (undefined past its end). */
  expected: string | undefined;
  /** The line in the actual trace (undefined past its end). */
  actual: string | undefined;
  /** Equal lines just before the difference (at most `context`). */
  before: string[];
  /** Lines after the difference in each trace (at most `context`). */
  expectedAfter: string[];
  actualAfter: string[];
  expectedLines: number;
  actualLines: number;
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Returns undefined when the traces are identical line by line. */
export function diffTraces(expected: string, actual: string, context = 3): TraceDiff | undefined {
  const a = splitLines(expected);
  const b = splitLines(actual);
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      return {
        line: i + 1,
        expected: a[i],
        actual: b[i],
        before: a.slice(Math.max(0, i - context), i),
        expectedAfter: a.slice(i + 1, i + 1 + context),
        actualAfter: b.slice(i + 1, i + 1 + context),
        expectedLines: a.length,
        actualLines: b.length,
      };
    }
  }
  return undefined;
}

/** A readable, unified-diff-like rendering of a `TraceDiff`. */
export function formatTraceDiff(
  d: TraceDiff,
  labels = { expected: 'recorded', actual: 'replayed' },
): string {
  const out: string[] = [];
  out.push(`--- ${labels.expected} (${d.expectedLines} lines)`);
  out.push(`+++ ${labels.actual} (${d.actualLines} lines)`);
  out.push(`@@ first difference at line ${d.line} @@`);
  for (const l of d.before) out.push(`  ${l}`);
  out.push(d.expected === undefined ? `- <end of ${labels.expected} trace>` : `- ${d.expected}`);
  out.push(d.actual === undefined ? `+ <end of ${labels.actual} trace>` : `+ ${d.actual}`);
  for (const l of d.expectedAfter) out.push(`- ${l}`);
  for (const l of d.actualAfter) out.push(`+ ${l}`);
  return out.join('\n');
}
