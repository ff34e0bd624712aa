/**
 * `eehsim inspect`: loads a scenario, builds its machine to the end of the
 * set-up (src/machine/layout.ts: host booted, VMMs started, guest kernels
 * booted; no workloads, no faults) and prints what was assigned.
 */
import { readFileSync } from 'node:fs';
import { bootForInspect, machineLayout } from '../machine/layout.js';
import { loadScenario } from '../scenario/builtin.js';
import { inspectScenario } from '../scenario/inspect.js';
import { parseScenarioDocument, ScenarioError, type ScenarioIssue } from '../scenario/load.js';
import type { CliIo } from './io.js';

/** `guests[0].phbs[1].buid`, `expect.pe_state["0000:01:00.0"]` -> path segments. */
export function parseIssuePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([A-Za-z_$][\w$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(m[3] as string) as string);
  }
  return out;
}

/** The machine's own checks carry field paths only: add the file's line and column. */
function withLines(err: ScenarioError, file: string): ScenarioError {
  if (err.issues.every((i) => i.line !== undefined)) return err;
  let locate: ReturnType<typeof parseScenarioDocument>['locate'];
  try {
    locate = parseScenarioDocument(readFileSync(file, 'utf8'), file).locate;
  } catch {
    return err;
  }
  const issues = err.issues.map(
    (i): ScenarioIssue =>
      i.line !== undefined || !i.path ? i : { ...i, ...locate(parseIssuePath(i.path), false) },
  );
  return new ScenarioError(file, issues);
}

export function cmdInspect(ref: string, o: { json?: boolean }, io: CliIo): void {
  const { scenario, file } = loadScenario(ref);
  let layout: ReturnType<typeof machineLayout>;
  try {
    layout = machineLayout(bootForInspect(scenario, { source: file }));
  } catch (err) {
    throw err instanceof ScenarioError ? withLines(err, file) : err;
  }
  io.out(
    o.json
      ? `${JSON.stringify({ scenario, machine: layout }, null, 2)}\n`
      : `${inspectScenario(scenario, layout)}\n`,
  );
}
