/**
 * Built-in scenarios: the files in `scenarios/` at the package root. A
 * built-in can be named instead of a path (`eehsim run default`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadScenarioFile } from './load.js';
import type { Scenario } from './schema/index.js';

/** `scenarios/` (from src/scenario or dist/scenario, two levels up). */
export const SCENARIO_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));

const EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface BuiltinInfo {
  name: string;
  file: string;
  description: string;
}

/** Built-in scenarios, sorted by name (`default` first). */
export function listBuiltins(dir = SCENARIO_DIR): BuiltinInfo[] {
  if (!existsSync(dir)) return [];
  const out: BuiltinInfo[] = [];
  for (const f of readdirSync(dir).sort()) {
    const ext = EXTENSIONS.find((e) => f.endsWith(e));
    if (!ext || f.endsWith('.schema.json')) continue;
    const file = join(dir, f);
    let description = '';
    try {
      const doc = parse(readFileSync(file, 'utf8')) as { description?: unknown } | null;
      if (typeof doc?.description === 'string') description = doc.description;
    } catch {
      description = '(does not parse: run eehsim inspect on it)';
    }
    out.push({ name: f.slice(0, -ext.length), file, description });
  }
  return out.sort((a, b) =>
    a.name === 'default' ? -1 : b.name === 'default' ? 1 : a.name.localeCompare(b.name),
  );
}

/**
 * Resolves `<file|name>`: an existing path wins; otherwise a built-in name.
 * Returns undefined when neither exists.
 */
export function resolveScenarioPath(ref: string, dir = SCENARIO_DIR): string | undefined {
  if (existsSync(ref)) return ref;
  if (/^[\w-]+$/.test(ref)) {
    for (const ext of EXTENSIONS) {
      const file = join(dir, `${ref}${ext}`);
      if (existsSync(file)) return file;
    }
  }
  return undefined;
}

export class ScenarioNotFound extends Error {
  override name = 'ScenarioNotFound';
}

/** Loads a scenario by path or built-in name. */
export function loadScenario(ref: string): { scenario: Scenario; file: string } {
  const file = resolveScenarioPath(ref);
  if (!file) {
    const names = listBuiltins().map((b) => b.name);
    throw new ScenarioNotFound(
      `no scenario '${ref}': not a file, not a built-in (built-ins: ${names.join(', ') || 'none'})`,
    );
  }
  return { scenario: loadScenarioFile(file), file };
}
