#!/usr/bin/env node
// Collects every `MODEL:` note of src/ (what the model simplifies, and what
// the real system does) into docs/model.md, grouped by layer, so the docs
// say exactly what the code says. `--check` exits 1 when docs/model.md is
// stale (the test suite runs it); without it the file is rewritten.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(root, 'docs', 'model.md');
const LAYER_ORDER = [
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
  'machine',
];

function* walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

/** The comment text of one note: from `MODEL:` to the end of its paragraph. */
function notesOf(text) {
  const lines = text.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const at = lines[i].indexOf('MODEL:');
    if (at < 0) continue;
    const style = /^\s*\/\//.test(lines[i]) || /\/\/.*MODEL:/.test(lines[i]) ? '//' : '*';
    const words = [lines[i].slice(at + 'MODEL:'.length)];
    for (let j = i + 1; j < lines.length; j++) {
      const l = lines[j].trim();
      if (style === '//') {
        if (!l.startsWith('//') || l.includes('MODEL:')) break;
        words.push(l.replace(/^\/\/\s?/, ''));
      } else {
        if (l.startsWith('*/') || l === '*' || !l.startsWith('*') || l.includes('MODEL:')) break;
        words.push(l.replace(/^\*\s?/, ''));
      }
    }
    const note = words
      .join(' ')
      .replace(/\*\/\s*$/, '')
      .replace(/\s+/g, ' ')
      .trim();
    if (note) out.push(note);
  }
  return out;
}

const byLayer = new Map();
for (const file of walk(join(root, 'src'))) {
  const rel = relative(join(root, 'src'), file).split('\\').join('/');
  const layer = rel.split('/')[0];
  for (const note of notesOf(readFileSync(file, 'utf8'))) {
    if (!byLayer.has(layer)) byLayer.set(layer, []);
    byLayer.get(layer).push({ file: `src/${rel}`, note });
  }
}
const layers = [...byLayer.keys()].sort((a, b) => {
  const ia = LAYER_ORDER.indexOf(a);
  const ib = LAYER_ORDER.indexOf(b);
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
});
let total = 0;
const parts = [
  '# What the model simplifies',
  '',
  'Every simplification of real behaviour carries a `// MODEL:` comment in the',
  'code saying what the real system does. This page is generated from those',
  'comments by `npm run docs:model` (a test fails when it is stale), grouped',
  'by layer, bottom up.',
  '',
];
for (const layer of layers) {
  const notes = byLayer.get(layer);
  total += notes.length;
  parts.push(`## ${layer} (${notes.length})`, '');
  for (const { file, note } of notes) parts.push(`- \`${file}\`: ${note}`);
  parts.push('');
}
parts.splice(7, 0, `${total} notes in ${layers.length} layers.`, '');
const doc = `${parts.join('\n').trimEnd()}\n`;

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(OUT, 'utf8');
  } catch {}
  if (current !== doc) {
    console.error('docs/model.md is stale: run `npm run docs:model`');
    process.exit(1);
  }
} else {
  writeFileSync(OUT, doc);
  console.log(`docs/model.md: ${total} notes`);
}
