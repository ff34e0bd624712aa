import { describe, expect, it } from 'vitest';
import { diffTraces, formatTraceDiff } from '../../src/trace/diff.js';

const lines = (n: number, f = (i: number) => `line ${i}`): string =>
  `${Array.from({ length: n }, (_, i) => f(i + 1)).join('\n')}\n`;

describe('diffTraces', () => {
  it('finds nothing in identical traces', () => {
    expect(diffTraces(lines(10), lines(10))).toBeUndefined();
    expect(diffTraces('', '')).toBeUndefined();
  });
  it('reports the first differing line with context', () => {
    const b = lines(10, (i) => (i === 6 || i === 8 ? `changed ${i}` : `line ${i}`));
    const d = diffTraces(lines(10), b, 2);
    expect(d).toMatchObject({
      line: 6,
      expected: 'line 6',
      actual: 'changed 6',
      before: ['line 4', 'line 5'],
      expectedAfter: ['line 7', 'line 8'],
      actualAfter: ['line 7', 'changed 8'],
    });
    const text = formatTraceDiff(d!);
    expect(text).toContain('first difference at line 6');
    expect(text).toContain('- line 6\n+ changed 6');
  });
  it('reports a trace that ends early', () => {
    const d = diffTraces(lines(5), lines(3));
    expect(d).toMatchObject({
      line: 4,
      expected: 'line 4',
      actual: undefined,
      expectedLines: 5,
      actualLines: 3,
    });
    expect(formatTraceDiff(d!)).toContain('+ <end of replayed trace>');
  });
});
