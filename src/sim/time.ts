/**
 * Virtual time. All time in eehsim is an integer number of nanoseconds held in
 * a JS number (exact up to 2^53 ns, about 104 days of virtual time).
 */
export type Ns = number;

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;

/** Converts microseconds (possibly fractional) to integer nanoseconds. */
export const us = (n: number): Ns => Math.round(n * NS_PER_US);
/** Converts milliseconds to integer nanoseconds. */
export const ms = (n: number): Ns => Math.round(n * NS_PER_MS);
/** Converts seconds to integer nanoseconds. */
export const sec = (n: number): Ns => Math.round(n * NS_PER_S);

/** Human-readable virtual time, e.g. `2.050 s`, `28.1 us`. */
export function formatNs(t: Ns): string {
  const a = Math.abs(t);
  if (a >= NS_PER_S) return `${(t / NS_PER_S).toFixed(3)} s`;
  if (a >= NS_PER_MS) return `${(t / NS_PER_MS).toFixed(3)} ms`;
  if (a >= NS_PER_US) return `${(t / NS_PER_US).toFixed(2)} us`;
  return `${t} ns`;
}

/** Parses `250ms`, `5 us`, `1.5s`, `100ns` or a bare number of nanoseconds. */
export function parseDuration(text: string | number): Ns | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 ? text : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)?\s*$/.exec(text);
  if (!m) return undefined;
  const v = Number(m[1]);
  switch (m[2]) {
    case undefined:
    case 'ns':
      return Number.isInteger(v) ? v : undefined;
    case 'us':
    case 'µs':
      return us(v);
    case 'ms':
      return ms(v);
    case 's':
      return sec(v);
    default:
      return undefined;
  }
}
