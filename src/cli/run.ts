/**
 * `eehsim run` and `eehsim replay`: one scenario through a runner, its
 * summary, expectations and traces.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { applyVariant, parseVary } from '../campaign/vary.js';
import { loadScenario } from '../scenario/builtin.js';
import { checkExpectations, type Verdict } from '../scenario/expect.js';
import { inspectScenario } from '../scenario/inspect.js';
import { ScenarioError, validateScenario } from '../scenario/load.js';
import type { RunResult } from '../scenario/result.js';
import { loadRunner, RunnerUnavailable, type RunOutput } from '../scenario/runner.js';
import type { Scenario } from '../scenario/schema/index.js';
import { formatNs } from '../sim/time.js';
import { diffTraces, formatTraceDiff } from '../trace/diff.js';
import { parseTraceFile, writeChromeTrace, writeTextTrace } from '../trace/text.js';
import { CliExit, type CliIo, EXIT, usage } from './io.js';

export function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 0xffff_ffff) {
    throw usage(`--seed: '${text}' is not an integer in 0..4294967295`);
  }
  return Number(text);
}

export interface RunCmdOptions {
  json?: boolean;
  trace?: string;
  traceText?: string;
  design?: string;
  seed?: string;
  vary?: string;
  runner?: string;
}

/** The scenario of `run`, with --seed / --design / --vary applied. */
export function scenarioFor(ref: string, o: RunCmdOptions): Scenario {
  const { scenario: base } = loadScenario(ref);
  const seed = parseSeed(o.seed);
  const specs = parseVary(o.vary);
  let s: Scenario = base;
  if (specs.length) {
    if (seed === undefined) throw usage('--vary needs --seed (the seed of the run to reproduce)');
    s = applyVariant(base, specs, seed).scenario;
  } else if (seed !== undefined) {
    s = { ...s, seed };
  }
  if (o.design !== undefined)
    s = validateScenario({ ...s, design: o.design }, `--design ${o.design}`);
  return s;
}

function traceTitle(s: Scenario, runner: string): string {
  return `scenario ${s.name} seed ${s.seed} design ${s.design} runner ${runner}`;
}

function pad(s: string, n: number): string {
  return s.padEnd(n);
}

export function formatResult(r: RunResult): string {
  const lines: string[] = [];
  lines.push(`virtual time ${formatNs(r.endNs)}`);
  const head = [
    'device',
    'owner',
    'status',
    'recovery',
    'freezes',
    'checks',
    'false+',
    'silent',
    'dropped',
    'retried',
    'lost',
  ];
  const rows = r.devices.map((d) => [
    d.device,
    d.owner,
    d.status,
    d.recoveryNs !== undefined ? formatNs(d.recoveryNs) : '-',
    String(d.freezes),
    String(d.checks),
    String(d.falsePositives),
    String(d.integrity.silentReads + d.integrity.dmaMismatches),
    String(d.integrity.droppedWrites),
    String(d.integrity.retriedIos),
    String(d.integrity.lostIos),
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => (row[i] as string).length)),
  );
  lines.push(
    head
      .map((h, i) => pad(h, widths[i] as number))
      .join('  ')
      .trimEnd(),
  );
  for (const row of rows)
    lines.push(
      row
        .map((c, i) => pad(c, widths[i] as number))
        .join('  ')
        .trimEnd(),
    );
  for (const d of r.devices) if (d.cause) lines.push(`  ${d.device}: ${d.cause}`);
  if (r.steps.length) {
    lines.push('steps');
    for (const st of r.steps) {
      lines.push(
        `  ${st.id ? `[${st.id}]` : `#${st.index}`} rc ${st.rc}${st.rets ? ` rets [${st.rets.join(', ')}]` : ''}`,
      );
    }
  }
  return lines.join('\n');
}

export function formatVerdicts(v: readonly Verdict[]): string {
  const failed = v.filter((x) => !x.ok).length;
  const lines = [
    `expectations: ${v.length - failed}/${v.length} ok${failed ? `, ${failed} FAILED` : ''}`,
  ];
  for (const x of v)
    lines.push(`  ${x.ok ? 'ok  ' : 'FAIL'}  ${x.name}${x.ok ? '' : `: got ${x.detail}`}`);
  return lines.join('\n');
}

async function runWith(
  s: Scenario,
  runnerName: string | undefined,
  trace: boolean,
  defaults?: readonly string[],
) {
  const runner = await loadRunner(runnerName, defaults);
  let out: RunOutput;
  try {
    out = await runner.run(s, { trace });
  } catch (err) {
    // A scenario the model cannot build (e.g. a design not implemented yet)
    // is bad input (exit 2), not an internal error.
    if (err instanceof ScenarioError) throw err;
    const e = err instanceof Error ? err : new Error(String(err));
    throw new CliExit(
      EXIT.INTERNAL,
      `internal error: runner '${runner.name}' failed on scenario ${s.name}: ${e.message}${process.env.EEHSIM_DEBUG ? `\n${e.stack}` : ' (EEHSIM_DEBUG=1 for the stack)'}`,
    );
  }
  return { runner: runner.name, out };
}

export async function cmdRun(ref: string, o: RunCmdOptions, io: CliIo): Promise<number> {
  const s = scenarioFor(ref, o);
  // The end-to-end machine runs every scenario (the hardware demo, which
  // only takes the seed, stays available as --runner hw-demo).
  const defaults = ['machine'];
  const wantTrace = o.trace !== undefined || o.traceText !== undefined;
  let ran: { runner: string; out: RunOutput };
  try {
    ran = await runWith(s, o.runner, wantTrace, defaults);
  } catch (err) {
    if (!(err instanceof RunnerUnavailable) || o.runner !== undefined) throw err;
    // MACHINE: until a model runner exists, show what would run.
    if (o.json) {
      io.out(`${JSON.stringify({ scenario: s, runner: null, note: err.message }, null, 2)}\n`);
    } else {
      io.out(`${inspectScenario(s)}\n\n`);
      io.out(`eehsim: ${err.message}; nothing was simulated.\n`);
    }
    return EXIT.OK;
  }
  const { runner, out } = ran;
  const info = { title: traceTitle(s, runner), scenario: s, runner };
  if (wantTrace && out.trace.length === 0) {
    io.err(`eehsim: runner '${runner}' recorded no trace events\n`);
  }
  if (o.trace) writeFileSync(o.trace, writeChromeTrace(out.trace, info));
  if (o.traceText) writeFileSync(o.traceText, writeTextTrace(out.trace, info));
  const verdicts = out.result ? checkExpectations(s, out.result) : [];
  const ok = verdicts.every((v) => v.ok);
  if (o.json) {
    const json = {
      scenario: s.name,
      seed: s.seed,
      design: s.design,
      runner,
      ok,
      result: out.result ?? null,
      expectations: out.result ? verdicts : null,
      details: out.details ?? null,
    };
    io.out(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    io.out(`eehsim: scenario ${s.name} (runner ${runner}, design ${s.design}, seed ${s.seed})\n`);
    if (out.summary) io.out(`${out.summary.trimEnd()}\n`);
    if (out.result) {
      io.out(`${formatResult(out.result)}\n`);
      if (verdicts.length) io.out(`${formatVerdicts(verdicts)}\n`);
    } else {
      io.out(`(runner '${runner}' gives no result object: expectations not checked)\n`);
    }
    if (o.trace)
      io.out(`trace: ${o.trace} (${out.trace.length} events; open in https://ui.perfetto.dev)\n`);
    if (o.traceText) io.out(`text trace: ${o.traceText}\n`);
  }
  return ok ? EXIT.OK : EXIT.FAILED;
}

export async function cmdReplay(
  file: string,
  o: { runner?: string; context?: string },
  io: CliIo,
): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usage(`${file}: cannot read (${(err as { code?: string }).code ?? String(err)})`);
  }
  const parsed = parseTraceFile(text);
  const s = validateScenario(parsed.info.scenario, `${file} (recorded scenario)`);
  const { runner, out } = await runWith(s, o.runner ?? parsed.info.runner, true);
  const info = {
    title: traceTitle(s, parsed.info.runner),
    scenario: s,
    runner: parsed.info.runner,
  };
  const again =
    parsed.kind === 'text' ? writeTextTrace(out.trace, info) : writeChromeTrace(out.trace, info);
  const context = o.context === undefined ? 3 : Number(o.context);
  if (!Number.isInteger(context) || context < 0)
    throw usage(`--context: '${o.context}' is not a count`);
  const d = diffTraces(parsed.body, again, context);
  if (!d) {
    io.out(
      `replay: identical (${out.trace.length} events, scenario ${s.name}, runner ${runner})\n`,
    );
    return EXIT.OK;
  }
  io.out(
    `replay: the trace differs (scenario ${s.name}, runner ${runner})\n${formatTraceDiff(d)}\n`,
  );
  return EXIT.FAILED;
}
