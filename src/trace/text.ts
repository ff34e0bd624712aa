/**
 * Trace files as eehsim writes them, with what `eehsim replay` needs to
 * re-run the same scenario: the resolved scenario (seed and design
 * included) and the runner.
 *
 * - compact text (`--trace-text`): `#` header lines, then `Trace.toText()`
 *   lines; the header line `# replay: {...}` holds the replay data as JSON.
 * - Chrome JSON (`--trace`): the replay data under `otherData.eehsim`.
 */
import { formatRecord, type TraceRecord } from '../sim/trace.js';
import { type ChromeTrace, chromeTraceToJson, toChromeTrace } from './chrome.js';

export const TEXT_TRACE_MAGIC = '# eehsim text trace v1';

/** What a trace file records about the run that produced it. */
export interface ReplayInfo {
  /** The scenario as run (a plain object valid against the schema). */
  scenario: unknown;
  /** Registry name of the runner that produced the trace. */
  runner: string;
}

export function recordsToText(records: readonly TraceRecord[]): string {
  return records.map(formatRecord).join('\n') + (records.length ? '\n' : '');
}

export function writeTextTrace(
  records: readonly TraceRecord[],
  info: ReplayInfo & { title: string },
): string {
  const head = [
    TEXT_TRACE_MAGIC,
    `# ${info.title}`,
    `# replay: ${JSON.stringify({ scenario: info.scenario, runner: info.runner })}`,
  ];
  return `${head.join('\n')}\n${recordsToText(records)}`;
}

export function writeChromeTrace(
  records: readonly TraceRecord[],
  info: ReplayInfo & { title: string },
): string {
  return chromeTraceToJson(buildChromeTrace(records, info));
}

export function buildChromeTrace(
  records: readonly TraceRecord[],
  info: ReplayInfo & { title: string },
): ChromeTrace {
  return toChromeTrace(records, {
    otherData: { eehsim: { title: info.title, scenario: info.scenario, runner: info.runner } },
  });
}

export type TraceFileKind = 'text' | 'chrome';

export interface ParsedTraceFile {
  kind: TraceFileKind;
  info: ReplayInfo;
  /** The body that a replay must reproduce exactly (text lines or JSON text). */
  body: string;
}

export class TraceFileError extends Error {
  override name = 'TraceFileError';
}

function checkInfo(v: unknown, where: string): ReplayInfo {
  if (typeof v !== 'object' || v === null) throw new TraceFileError(`${where}: no replay data`);
  const o = v as Record<string, unknown>;
  if (typeof o.runner !== 'string' || typeof o.scenario !== 'object' || o.scenario === null) {
    throw new TraceFileError(`${where}: replay data lacks scenario or runner`);
  }
  return { scenario: o.scenario, runner: o.runner };
}

/** Recognises and parses a trace file written by eehsim. */
export function parseTraceFile(text: string): ParsedTraceFile {
  if (text.startsWith(TEXT_TRACE_MAGIC)) {
    const lines = text.split('\n');
    const replay = lines.find((l) => l.startsWith('# replay: '));
    if (!replay) throw new TraceFileError('text trace: missing "# replay:" header line');
    let data: unknown;
    try {
      data = JSON.parse(replay.slice('# replay: '.length));
    } catch {
      throw new TraceFileError('text trace: the "# replay:" header is not valid JSON');
    }
    return { kind: 'text', info: checkInfo(data, 'text trace'), body: text };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TraceFileError(
      'not an eehsim trace: neither a text trace (first line "# eehsim text trace v1") nor JSON',
    );
  }
  const other = (json as { otherData?: { eehsim?: unknown } } | null)?.otherData?.eehsim;
  if (other === undefined) {
    throw new TraceFileError('Chrome trace without otherData.eehsim: not written by eehsim');
  }
  return { kind: 'chrome', info: checkInfo(other, 'Chrome trace'), body: text };
}
