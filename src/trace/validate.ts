/**
 * A checker for Chrome Trace Event JSON as eehsim writes it (the object
 * form, `{ traceEvents: [...] }`). It checks what the viewers rely on:
 *
 * - every event has `name` (string), `ph` (a supported phase), integer
 *   `pid` and `tid`; every non-metadata event has a finite `ts` >= 0 and,
 *   if present, an object `args`;
 * - instants ('i') have scope `s` in g / p / t when given;
 * - metadata ('M') events are process_name / thread_name (with a string
 *   `args.name`) or process_sort_index / thread_sort_index (with a numeric
 *   `args.sort_index`), and every track used by an event is named;
 * - timestamps never go backwards on a track (pid, tid);
 * - 'B'/'E' are balanced per track and nest (an 'E' with a name closes
 *   the innermost open 'B' of the same name);
 * - async 'b'/'e' are paired by (cat, id, name), each with a `cat` and `id`.
 *
 * Returns the list of problems (empty when valid), each naming the event
 * index, so a test failure says what is wrong.
 */

const PHASES = new Set(['B', 'E', 'i', 'I', 'X', 'b', 'e', 'n', 'M', 'C']);
const META = new Set(['process_name', 'thread_name', 'process_sort_index', 'thread_sort_index']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function validateChromeTrace(json: unknown, maxProblems = 50): string[] {
  const problems: string[] = [];
  const add = (msg: string): boolean => {
    problems.push(msg);
    return problems.length >= maxProblems;
  };
  if (!isObject(json) || !Array.isArray(json.traceEvents)) {
    return ['top level: expected an object with a traceEvents array'];
  }
  const events = json.traceEvents as unknown[];
  const lastTs = new Map<string, number>();
  const stacks = new Map<string, string[]>();
  const asyncOpen = new Map<string, number>();
  const processNamed = new Set<number>();
  const threadNamed = new Set<string>();
  const tracksUsed = new Map<string, number>(); // track -> first event index

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const at = `event ${i}`;
    if (!isObject(e)) {
      if (add(`${at}: not an object`)) break;
      continue;
    }
    if (typeof e.name !== 'string' || e.name === '') {
      if (add(`${at}: missing name`)) break;
      continue;
    }
    if (typeof e.ph !== 'string' || !PHASES.has(e.ph)) {
      if (add(`${at} (${e.name}): bad ph ${JSON.stringify(e.ph)}`)) break;
      continue;
    }
    if (!Number.isInteger(e.pid) || !Number.isInteger(e.tid)) {
      if (add(`${at} (${e.name}): pid and tid must be integers`)) break;
      continue;
    }
    if (e.args !== undefined && !isObject(e.args)) {
      if (add(`${at} (${e.name}): args must be an object`)) break;
      continue;
    }
    const pid = e.pid as number;
    const track = `${pid}:${e.tid as number}`;
    if (e.ph === 'M') {
      const args = (e.args ?? {}) as Record<string, unknown>;
      if (!META.has(e.name)) {
        if (add(`${at}: unknown metadata event ${e.name}`)) break;
      } else if (e.name.endsWith('_name') && typeof args.name !== 'string') {
        if (add(`${at} (${e.name}): args.name must be a string`)) break;
      } else if (e.name.endsWith('_sort_index') && typeof args.sort_index !== 'number') {
        if (add(`${at} (${e.name}): args.sort_index must be a number`)) break;
      }
      if (e.name === 'process_name') processNamed.add(pid);
      if (e.name === 'thread_name') threadNamed.add(track);
      continue;
    }
    const ts = e.ts;
    if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) {
      if (add(`${at} (${e.name}): ts must be a finite number >= 0`)) break;
      continue;
    }
    if (!tracksUsed.has(track)) tracksUsed.set(track, i);
    const prev = lastTs.get(track);
    if (prev !== undefined && ts < prev) {
      if (add(`${at} (${e.name}): ts ${ts} goes back on track ${track} (was ${prev})`)) break;
    }
    lastTs.set(track, ts);
    if (
      (e.ph === 'i' || e.ph === 'I') &&
      e.s !== undefined &&
      !['g', 'p', 't'].includes(e.s as string)
    ) {
      if (add(`${at} (${e.name}): instant scope must be g, p or t`)) break;
    }
    if (e.ph === 'B' || e.ph === 'E') {
      const st = stacks.get(track) ?? [];
      stacks.set(track, st);
      if (e.ph === 'B') st.push(e.name);
      else if (st.length === 0) {
        if (add(`${at} (${e.name}): E without an open B on track ${track}`)) break;
      } else {
        const top = st.pop() as string;
        if (top !== e.name) {
          if (add(`${at} (${e.name}): E closes '${top}', spans do not nest on track ${track}`)) {
            break;
          }
        }
      }
    }
    if (e.ph === 'b' || e.ph === 'e') {
      if (typeof e.cat !== 'string' || (typeof e.id !== 'string' && typeof e.id !== 'number')) {
        if (add(`${at} (${e.name}): async events need cat and id`)) break;
        continue;
      }
      const key = `${e.cat}|${String(e.id)}|${e.name}`;
      const n = asyncOpen.get(key) ?? 0;
      if (e.ph === 'b') asyncOpen.set(key, n + 1);
      else if (n === 0) {
        if (add(`${at} (${e.name}): async end without begin (id ${String(e.id)})`)) break;
      } else asyncOpen.set(key, n - 1);
    }
  }
  for (const [track, st] of stacks) {
    if (st.length > 0) add(`track ${track}: ${st.length} B without E (${st.join(', ')})`);
  }
  for (const [key, n] of asyncOpen) {
    if (n > 0) add(`async span ${key}: ${n} begin without end`);
  }
  for (const [track, first] of tracksUsed) {
    const pid = Number(track.split(':')[0]);
    if (!processNamed.has(pid)) add(`event ${first}: process ${pid} has no process_name`);
    if (!threadNamed.has(track)) add(`event ${first}: track ${track} has no thread_name`);
  }
  return problems;
}
