/**
 * The layering rule of docs/architecture.md: a layer imports only from
 * layers below it (type-only imports included - an interface belongs to
 * the layer that provides it, or to the ABI in src/uapi).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Bottom to top. kvm sits above vfio: KVM calls VFIO's exported helpers, as in Linux. */
const ORDER = [
  'sim',
  'uapi',
  'hw',
  'firmware',
  'kernel',
  'host',
  'vfio',
  'kvm',
  'vmm',
  'guest',
  'scenario',
  'machine',
  'trace',
  'campaign',
  'cli',
];

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

describe('layering', () => {
  it('every folder of src/ is a known layer', () => {
    const dirs = readdirSync('src', { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(dirs.filter((d) => !ORDER.includes(d))).toEqual([]);
  });

  it('no layer imports from a layer above it', () => {
    const violations: string[] = [];
    for (const file of files('src')) {
      const layer = relative('src', file).split(/[\\/]/)[0] as string;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
        const target = normalize(join(dirname(file), m[1] as string));
        const parts = relative('src', target).split(/[\\/]/);
        const to = parts.length > 1 ? (parts[0] as string) : layer;
        if (ORDER.indexOf(to) > ORDER.indexOf(layer)) violations.push(`${file} -> ${m[1]}`);
      }
    }
    expect(violations).toEqual([]);
  });
});
