/** `eehsim compare`: one run per design, one row each; the d row is a plain run of the scenario. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CompareRow, compareDesigns, compareRow } from '../../src/cli/compare.js';
import { runCli } from '../../src/cli/program.js';
import { implementedDesigns } from '../../src/machine/designs.js';
import type { MachineDetails } from '../../src/machine/result.js';
import { runScenario } from '../../src/machine/runner.js';
import { loadScenario } from '../../src/scenario/builtin.js';
import type { RunResult } from '../../src/scenario/result.js';
import { DESIGNS } from '../../src/scenario/schema/design.js';

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    progress: process.stderr,
    signals: false,
  });
  return { code, out, err };
}

describe('eehsim compare', () => {
  it('prints one row per design', async () => {
    const { code, out } = await cli(['compare', 'default']);
    expect(code).toBe(0);
    const rows = out.split('\n').filter((l) => /^(d|a|a-realmode|a-vfio)\s/.test(l));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(['d', 'a', 'a-realmode', 'a-vfio']);
    expect(rows[0]).toMatch(/1\.00x$/);
  });

  it('--designs and --json', async () => {
    const { code, out } = await cli(['compare', 'default', '--designs', 'a,a-realmode', '--json']);
    expect(code).toBe(0);
    const j = JSON.parse(out) as { rows: CompareRow[] };
    expect(j.rows.map((r) => r.design)).toEqual(['a', 'a-realmode']);
    // the ratio still comes from a d run of the same invocation
    for (const r of j.rows) expect(r.vsD).toBeGreaterThan(0);
    expect(j.rows[1]?.vsD).toBeLessThan(j.rows[0]?.vsD as number);
    expect(j.rows.every((r) => r.stateQueryExits === 0 && r.inKernelRtas > 0)).toBe(true);
  });

  it('the d row matches a plain run of the same scenario', () => {
    const { scenario } = loadScenario('design-a');
    const [d] = compareDesigns(scenario, ['d']);
    const out = runScenario({ ...scenario, design: 'd' }, { trace: false });
    const r = out.result as RunResult & { details: MachineDetails };
    expect(d).toEqual({ ...compareRow('d', r, r.details), vsD: 1 });
    const g = r.details.guests[0];
    expect(d?.stateQueryMeanNs).toBe(g?.stateQuery.meanNs);
    expect(d?.exits).toBe(g?.exits);
    expect(d?.stateQueryExits).toBe(g?.stateQuery.calls);
  });

  it('bad designs are usage errors; unimplemented ones are scenario errors (exit 2)', async () => {
    expect((await cli(['compare', 'default', '--designs', 'x'])).code).toBe(2);
    const missing = DESIGNS.find((d) => !implementedDesigns().includes(d));
    if (missing) {
      const b = await cli(['compare', 'default', '--designs', `d,${missing}`]);
      expect(b.code).toBe(2);
      expect(b.err).toContain(`design '${missing}' is not implemented yet`);
    }
  });

  it('prints rows for b and c on design-a', async () => {
    const { code, out } = await cli(['compare', 'design-a', '--designs', 'd,a,b,c']);
    expect(code).toBe(0);
    const rows = out.split('\n').filter((l) => /^(d|a|b|c)\s/.test(l));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(['d', 'a', 'b', 'c']);
    // the same in-kernel path as a: same query time, no exit for it
    const cols = (l: string | undefined) => (l ?? '').trim().split(/\s{2,}/);
    expect(cols(rows[2])[1]).toBe(cols(rows[1])[1]);
    expect(cols(rows[3])[1]).toBe(cols(rows[1])[1]);
    for (const r of rows.slice(1)) expect(cols(r)[5]).toBe('0');
  });

  it('--svg writes the chart next to the table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eehsim-compare-'));
    const file = join(dir, 'out.svg');
    const { code, out } = await cli(['compare', 'default', '--designs', 'd,a', '--svg', file]);
    expect(code).toBe(0);
    expect(out).toContain('eehsim compare: scenario default');
    const svg = readFileSync(file, 'utf8');
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('eehsim compare: scenario default, seed 1');
    expect(svg.match(/class="bar-group" data-design="d"/g)?.length).toBeGreaterThan(3);
    expect(svg).toContain('data-design="a"');
    const bad = await cli([
      'compare',
      'default',
      '--designs',
      'd',
      '--svg',
      join(dir, 'no/such/x.svg'),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--svg: cannot write');
  });
});
