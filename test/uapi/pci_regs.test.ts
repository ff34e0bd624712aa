/**
 * Conformance of src/uapi/pci_regs.ts with the system's
 * <linux/pci_regs.h>: a C program generated from the module's exports
 * prints each constant; every value must match (masks compared over the
 * 32 bits of the register they apply to). Function-like macros are checked
 * on sample headers. `npm test` installs the C compiler first
 * (scripts/ensure-system-deps.mjs).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as regs from '../../src/uapi/pci_regs.js';

/** Exports the installed header may not have yet, with the Linux version that added them. */
const ADDED_IN: Readonly<Record<string, string>> = { PCI_HEADER_TYPE_MFD: '6.6' };

const constants: [string, number][] = Object.entries(regs as Record<string, unknown>).flatMap(
  ([name, value]) => (typeof value === 'number' ? [[name, value] as [string, number]] : []),
);
const macros: readonly [string, (header: number) => number][] = [
  ['PCI_EXT_CAP_ID', regs.PCI_EXT_CAP_ID],
  ['PCI_EXT_CAP_VER', regs.PCI_EXT_CAP_VER],
  ['PCI_EXT_CAP_NEXT', regs.PCI_EXT_CAP_NEXT],
];
const SAMPLES = [0x0001_0001, 0x1482_0001, 0xfff2_000b, 0x1001_0003];

const dir = mkdtempSync(join(tmpdir(), 'eehsim-pci-regs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runC(): Map<string, number | 'missing'> {
  const lines = [
    '#include <stdio.h>',
    '#include <linux/pci_regs.h>',
    'int main(void) {',
    ...constants.map(
      ([n]) =>
        `#ifdef ${n}\n  printf("${n} %llu\\n", (unsigned long long)(${n}) & 0xffffffffULL);\n#else\n  printf("${n} missing\\n");\n#endif`,
    ),
    ...macros.flatMap(([m]) =>
      SAMPLES.map(
        (s) => `  printf("${m}(${s}) %llu\\n", (unsigned long long)${m}(${s}u) & 0xffffffffULL);`,
      ),
    ),
    '  return 0;',
    '}',
  ];
  const src = join(dir, 'pci_regs.c');
  const exe = join(dir, 'pci_regs');
  writeFileSync(src, `${lines.join('\n')}\n`);
  execFileSync('cc', ['-o', exe, src]);
  const out = execFileSync(exe, { encoding: 'utf8' });
  return new Map(
    out
      .trim()
      .split('\n')
      .map((l) => {
        const [name, value] = l.split(' ') as [string, string];
        return [name, value === 'missing' ? 'missing' : Number(value)];
      }),
  );
}

describe('uapi/pci_regs.ts against <linux/pci_regs.h>', () => {
  const c = runC();

  it('exports constants with the header values', () => {
    const mismatches = constants.flatMap(([name, value]) => {
      const v = c.get(name);
      if (v === 'missing') return name in ADDED_IN ? [] : [`${name}: not in the header`];
      return v === value >>> 0 ? [] : [`${name}: ${value} here, ${v} in the header`];
    });
    expect(mismatches).toEqual([]);
    expect(constants.length).toBeGreaterThan(150);
  });

  it('computes the extended-capability header fields as the macros do', () => {
    for (const [m, f] of macros) {
      for (const s of SAMPLES) expect(f(s), `${m}(${s})`).toBe(c.get(`${m}(${s})`));
    }
  });

  it('lists only real header names as "added later"', () => {
    for (const name of Object.keys(ADDED_IN)) expect(name in regs).toBe(true);
  });
});
