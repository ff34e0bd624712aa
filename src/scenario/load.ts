/**
 * Scenario loader: YAML or JSON text -> validated `Scenario`. Every problem
 * is reported with the path of the offending field and its line and column
 * in the file (from the YAML node ranges), never as a stack trace.
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { buildHardware, TopologyError } from '../hw/topology.js';
import { Sim } from '../sim/sim.js';
import { type Scenario, ScenarioSchema } from './schema/index.js';
import { topologySpecOf } from './to_machine.js';

export interface ScenarioIssue {
  /** Field path, e.g. `faults[0].at` (empty for the whole file). */
  path: string;
  line?: number;
  col?: number;
  message: string;
}

export class ScenarioError extends Error {
  override name = 'ScenarioError';
  constructor(
    readonly source: string,
    readonly issues: readonly ScenarioIssue[],
  ) {
    super(formatIssues(source, issues));
  }
}

export function formatIssue(source: string, i: ScenarioIssue): string {
  const where = i.line !== undefined ? `${source}:${i.line}:${i.col ?? 1}` : source;
  return `${where}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

export function formatIssues(source: string, issues: readonly ScenarioIssue[]): string {
  return issues.map((i) => formatIssue(source, i)).join('\n');
}

/** `faults[0].at`, `costs.mmio_read`, `expect.pe_state["0000:01:00.0"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      out += /^[A-Za-z_$][\w$]*$/.test(s) ? (out ? `.${s}` : s) : `[${JSON.stringify(s)}]`;
    }
  }
  return out;
}

type Pos = { offset: number };

/**
 * Finds the source offset of a path in the document: the value node when it
 * exists, the key of the last existing map entry otherwise (a missing field
 * points at its parent), and the key node itself when `atKey`.
 */
function locate(
  doc: ReturnType<typeof parseDocument>,
  path: readonly PropertyKey[],
  atKey: boolean,
): Pos | undefined {
  let node: unknown = doc.contents;
  let best: Pos | undefined = rangeOf(node);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) return best;
      const keyPos = rangeOf(pair.key);
      if (last && atKey && keyPos) return keyPos;
      node = pair.value;
      best = rangeOf(node) ?? keyPos ?? best;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return best;
      node = item;
      best = rangeOf(node) ?? best;
    } else {
      return best;
    }
  }
  return best;
}

function rangeOf(node: unknown): Pos | undefined {
  const r = (node as Node | null | undefined)?.range;
  return r ? { offset: r[0] } : undefined;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'bigint') return `integer ${v} (too large for a JS number)`;
  if (typeof v === 'string') return `string '${v}'`;
  return `${typeof v} ${String(v)}`;
}

/** A clearer message than zod's default where we can. */
function messageOf(issue: z.core.$ZodIssue): string {
  if ('input' in issue && issue.input === undefined && issue.code !== 'custom') {
    return 'missing (required)';
  }
  if (issue.code === 'invalid_type') {
    return `expected ${issue.expected}, got ${describeValue(issue.input)}`;
  }
  if (issue.code === 'invalid_value' && 'values' in issue && issue.message.startsWith('Invalid')) {
    return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(issue.input)}`;
  }
  return issue.message;
}

/** Turns BigInt ints that fit in a JS number back into numbers. */
function normaliseInts(v: unknown): unknown {
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  }
  if (Array.isArray(v)) return v.map(normaliseInts);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normaliseInts(x)]));
  }
  return v;
}

/** Parses YAML or JSON text to a plain object; syntax errors become ScenarioError. */
export function parseScenarioDocument(
  text: string,
  source: string,
): {
  data: unknown;
  locate: (
    path: readonly PropertyKey[],
    atKey: boolean,
  ) => { line: number; col: number } | undefined;
} {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    intAsBigInt: true,
    prettyErrors: false,
    uniqueKeys: true,
  });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      source,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        const msg =
          e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? e.message;
        return { path: '', line: pos.line, col: pos.col, message: `bad YAML/JSON: ${msg}` };
      }),
    );
  }
  const data = normaliseInts(doc.toJS({ maxAliasCount: 100 }));
  return {
    data,
    locate: (path, atKey) => {
      const pos = locate(doc, path, atKey);
      return pos ? lineCounter.linePos(pos.offset) : undefined;
    },
  };
}

const HW_KEYS: Record<string, string> = {
  mmioWindow: 'mmio_window',
  dmaWindowSize: 'dma_window_size',
};

/** `phbs[0].devices[1].bdf` (a TopologySpec path) -> the scenario's path. */
export function scenarioPathOfSpecPath(specPath: string): (string | number)[] {
  const out: (string | number)[] = ['topology'];
  for (const m of specPath.matchAll(/([A-Za-z_]\w*)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(HW_KEYS[m[1] as string] ?? (m[1] as string));
  }
  // A PE's device list is expanded (a name stands for every function): stop at the PE.
  if (out[1] === 'pes') return out.slice(0, 3);
  return out;
}

/**
 * The hardware builder's own checks (bus numbering below switches, PHB
 * windows, PE grouping...), reported like schema errors.
 */
function checkHardware(s: Scenario): { path: (string | number)[]; message: string } | undefined {
  try {
    buildHardware(new Sim({ trace: false }), topologySpecOf(s));
    return undefined;
  } catch (err) {
    if (!(err instanceof TopologyError)) throw err;
    return { path: scenarioPathOfSpecPath(err.path), message: err.problem };
  }
}

export interface ValidateOptions {
  /** Also build the hardware to check the topology (default true). */
  hardware?: boolean;
}

/**
 * Validates a plain object. `where` maps a field path to a file position
 * (absent for objects that did not come from a file).
 */
export function validateScenario(
  data: unknown,
  source = '<scenario>',
  where?: (
    path: readonly PropertyKey[],
    atKey: boolean,
  ) => { line: number; col: number } | undefined,
  opts: ValidateOptions = {},
): Scenario {
  if (data === null || data === undefined) {
    throw new ScenarioError(source, [
      { path: '', line: 1, col: 1, message: 'the scenario is empty' },
    ]);
  }
  const r = ScenarioSchema.safeParse(data, { reportInput: true });
  if (r.success) {
    const hw = opts.hardware === false ? undefined : checkHardware(r.data);
    if (!hw) return r.data;
    const pos = where?.(hw.path, false);
    throw new ScenarioError(source, [{ path: formatPath(hw.path), ...pos, message: hw.message }]);
  }
  const issues: ScenarioIssue[] = [];
  for (const issue of r.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const pos = where?.(path, true);
        issues.push({ path: formatPath(path), ...pos, message: `unknown field '${key}'` });
      }
      continue;
    }
    // "unknown <name>" of a map key (e.g. a cost name) points at the key.
    const pos = where?.(
      issue.path,
      issue.code === 'custom' && issue.message.startsWith('unknown '),
    );
    issues.push({ path: formatPath(issue.path), ...pos, message: messageOf(issue) });
  }
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  throw new ScenarioError(source, issues);
}

/** Parses and validates scenario text (YAML or JSON). */
export function parseScenario(text: string, source = '<scenario>'): Scenario {
  const { data, locate: where } = parseScenarioDocument(text, source);
  return validateScenario(data, source, where);
}

/** Reads, parses and validates a scenario file. */
export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new ScenarioError(path, [
      {
        path: '',
        message: code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(err)})`,
      },
    ]);
  }
  return parseScenario(text, path);
}
