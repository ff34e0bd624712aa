/**
 * Golden trace of the default scenario: the compact text trace
 * (`Trace.toText()`) of `scenarios/default.yaml` compared byte for byte with
 * `test/machine/golden/default.trace.txt`.
 *
 * When a change to the model changes the trace on purpose, regenerate the
 * file and review the diff like code:
 *
 *   UPDATE_GOLDEN=1 npx vitest run test/machine/golden.test.ts
 *   git diff test/machine/golden/default.trace.txt
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runMachine } from './helpers.js';

const GOLDEN = new URL('./golden/default.trace.txt', import.meta.url);

describe('golden trace of the default scenario', () => {
  const text = runMachine('default', true).m.sim.trace.toText();

  it('matches test/machine/golden/default.trace.txt byte for byte', () => {
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, text);
    expect(existsSync(GOLDEN), 'no golden file: run with UPDATE_GOLDEN=1').toBe(true);
    const golden = readFileSync(GOLDEN, 'utf8');
    if (text !== golden) {
      // The first differing line, not a 3000-line diff.
      const a = golden.split('\n');
      const b = text.split('\n');
      const i = a.findIndex((line, k) => line !== b[k]);
      expect(
        { line: i + 1, got: b[i], want: a[i] },
        'the trace changed: if on purpose, UPDATE_GOLDEN=1 npx vitest run test/machine/golden.test.ts',
      ).toBeUndefined();
    }
    expect(text).toBe(golden);
  });

  it('is deterministic: a second run with the same seed gives the same text', () => {
    expect(runMachine('default', true).m.sim.trace.toText()).toBe(text);
  });

  it('shows the recovery across every layer', () => {
    for (const name of [
      'scenario.fault',
      'hw.pe.freeze',
      'fw.freeze_status',
      'host.eeh.reset',
      'vfio.eeh.pe_op',
      'kvm.exit',
      'vmm.rtas',
      'vmm.eeh_op',
      'guest.eeh.check_failure',
      'guest.eeh.recovery',
      'guest.io.retried',
    ]) {
      expect(text, name).toContain(` ${name} `);
    }
  });
});
