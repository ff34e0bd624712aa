import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('docs/model.md', () => {
  it('lists every MODEL note of the code (regenerate with `npm run docs:model`)', () => {
    const r = spawnSync(process.execPath, ['scripts/model-notes.mjs', '--check'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('has a section per layer with notes', () => {
    const doc = readFileSync('docs/model.md', 'utf8');
    for (const layer of ['hw', 'host', 'vfio', 'kvm', 'vmm', 'guest']) {
      expect(doc).toMatch(new RegExp(`^## ${layer} \\(\\d+\\)$`, 'm'));
    }
  });
});
