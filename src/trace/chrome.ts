/**
 * Export of a run's trace records in the Chrome Trace Event format (JSON
 * object form), which opens in the Perfetto UI (ui.perfetto.dev) and in
 * chrome://tracing.
 *
 * Layout: one *process* per owner (`host`, then each VM in natural order:
 * vm0, vm1, ..., vm10), one *thread* per layer inside it (hw, firmware,
 * host, vfio, kvm, vmm, guest, ... in the bottom-to-top order of
 * `LAYERS`), so every owner x layer pair is its own track. Tracks are named
 * with `M` metadata events (process_name / thread_name) and ordered with
 * process_sort_index / thread_sort_index.
 *
 * Timestamps: `ts` is in microseconds (the format's unit) computed from the
 * virtual nanoseconds as `t / 1000`, so fractional microseconds keep the
 * nanosecond resolution.
 *
 * Spans: a 'B' record and its 'E' record become a 'B'/'E' pair on their
 * track when they nest properly with the other spans of that track (the
 * usual case: an RTAS call inside a hypercall inside a recovery phase).
 * Two spans of the same track that overlap without nesting (two processes
 * of one owner working concurrently in virtual time) cannot be drawn as a
 * B/E stack; those are exported as async spans ('b'/'e' with an id), which
 * the viewers draw on their own rows under the process. A span still open
 * at the end of the run is closed at the last timestamp with
 * `args.unfinished = true`; an 'E' without its 'B' becomes an instant with
 * `args.unmatched_end = true`. Nothing is dropped.
 */
import { LAYERS } from '../sim/layers.js';
import { type FieldValue, layerOf, type TraceRecord } from '../sim/trace.js';

export type ChromePhase = 'B' | 'E' | 'i' | 'b' | 'e' | 'M';

export interface ChromeEvent {
  name: string;
  ph: ChromePhase;
  pid: number;
  tid: number;
  ts?: number;
  cat?: string;
  s?: 'g' | 'p' | 't';
  id?: string;
  args?: Record<string, FieldValue>;
}

export interface ChromeTrace {
  traceEvents: ChromeEvent[];
  displayTimeUnit: 'ns' | 'ms';
  otherData?: Record<string, unknown>;
}

export interface ChromeExportOptions {
  /** Free-form data stored under `otherData` (scenario, seed, design...). */
  otherData?: Record<string, unknown>;
}

/** Stable owner order: `host` first, then by name with numbers compared as numbers. */
export function compareOwners(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'host') return -1;
  if (b === 'host') return 1;
  return a.localeCompare(b, 'en', { numeric: true });
}

const LAYER_INDEX = new Map<string, number>(LAYERS.map((l, i) => [l, i]));
/** Event prefixes that are not layer names, placed with their layer: `fw.*` is
 * the firmware, `eeh.*` the kernel EEH core (host or guest kernel). */
const PREFIX_LAYER: Record<string, string> = { fw: 'firmware', eeh: 'host' };

function layerIndex(prefix: string): number {
  return LAYER_INDEX.get(PREFIX_LAYER[prefix] ?? prefix) ?? LAYERS.length;
}

function compareLayers(a: string, b: string): number {
  const ia = layerIndex(a);
  const ib = layerIndex(b);
  return ia !== ib ? ia - ib : a.localeCompare(b);
}

interface Track {
  pid: number;
  tid: number;
}

/** Assigns pid per owner and tid per layer, in the stable orders above. */
function assignTracks(records: readonly TraceRecord[]): {
  owners: Map<string, number>;
  layers: Map<string, number>;
  used: Map<string, Set<string>>;
} {
  const used = new Map<string, Set<string>>();
  for (const r of records) {
    let set = used.get(r.owner);
    if (!set) {
      set = new Set();
      used.set(r.owner, set);
    }
    set.add(layerOf(r.name));
  }
  const owners = new Map([...used.keys()].sort(compareOwners).map((o, i) => [o, i + 1]));
  const allLayers = new Set<string>();
  for (const s of used.values()) for (const l of s) allLayers.add(l);
  const layers = new Map([...allLayers].sort(compareLayers).map((l, i) => [l, i + 1]));
  return { owners, layers, used };
}

const tsOf = (t: number): number => t / 1000;

/**
 * Pairs every 'B' with its 'E' (same name and owner, innermost first, as
 * the recorder's span tokens do) and decides which spans nest on their
 * track. Returns, per record index of a 'B' or 'E', how to export it.
 */
function classifySpans(records: readonly TraceRecord[]): {
  asyncId: Map<number, string>;
  unmatchedEnd: Set<number>;
  unfinished: number[];
} {
  const open = new Map<string, number[]>(); // name|owner -> indices of open 'B'
  const pairOf = new Map<number, number>(); // B index -> E index
  const unmatchedEnd = new Set<number>();
  records.forEach((r, i) => {
    const key = `${r.name}|${r.owner}`;
    if (r.ph === 'B') {
      const stack = open.get(key) ?? [];
      stack.push(i);
      open.set(key, stack);
    } else if (r.ph === 'E') {
      const b = open.get(key)?.pop();
      if (b === undefined) unmatchedEnd.add(i);
      else pairOf.set(b, i);
    }
  });
  const unfinished = [...open.values()].flat().sort((a, b) => a - b);

  // Walk each track with a stack of open spans; a span that would close
  // while an inner one started after it is still open does not nest.
  const asyncId = new Map<number, string>();
  const endToBegin = new Map<number, number>();
  for (const [b, e] of pairOf) endToBegin.set(e, b);
  const stacks = new Map<string, number[]>();
  records.forEach((r, i) => {
    const track = `${r.owner}|${layerOf(r.name)}`;
    // Spans left open at the end count too: they are closed last.
    if (r.ph === 'B') {
      const st = stacks.get(track) ?? [];
      st.push(i);
      stacks.set(track, st);
    } else if (r.ph === 'E' && endToBegin.has(i)) {
      const b = endToBegin.get(i) as number;
      const st = stacks.get(track) ?? [];
      if (st[st.length - 1] === b) {
        st.pop();
      } else {
        // Not the innermost open span: export this span as async.
        const at = st.lastIndexOf(b);
        if (at >= 0) st.splice(at, 1);
        asyncId.set(b, `s${b}`);
        asyncId.set(i, `s${b}`);
      }
    }
  });
  return { asyncId, unmatchedEnd, unfinished };
}

/** Converts trace records (in recording order) to Chrome Trace Event JSON. */
export function toChromeTrace(
  records: readonly TraceRecord[],
  opts: ChromeExportOptions = {},
): ChromeTrace {
  const { owners, layers, used } = assignTracks(records);
  const events: ChromeEvent[] = [];
  for (const [owner, pid] of owners) {
    events.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: owner } });
    events.push({ name: 'process_sort_index', ph: 'M', pid, tid: 0, args: { sort_index: pid } });
    for (const layer of [...(used.get(owner) ?? [])].sort(compareLayers)) {
      const tid = layers.get(layer) as number;
      events.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name: layer } });
      events.push({ name: 'thread_sort_index', ph: 'M', pid, tid, args: { sort_index: tid } });
    }
  }

  const { asyncId, unmatchedEnd, unfinished } = classifySpans(records);
  const trackOf = (r: TraceRecord): Track => ({
    pid: owners.get(r.owner) as number,
    tid: layers.get(layerOf(r.name)) as number,
  });
  records.forEach((r, i) => {
    const { pid, tid } = trackOf(r);
    const cat = layerOf(r.name);
    const base = { name: r.name, cat, pid, tid, ts: tsOf(r.t) };
    const args = { ...r.fields };
    if (r.ph === 'i') {
      events.push({ ...base, ph: 'i', s: 't', args });
    } else if (unmatchedEnd.has(i)) {
      events.push({ ...base, ph: 'i', s: 't', args: { ...args, unmatched_end: true } });
    } else {
      const id = asyncId.get(i);
      const ph: ChromePhase = id ? (r.ph === 'B' ? 'b' : 'e') : r.ph;
      events.push(id ? { ...base, ph, id, args } : { ...base, ph, args });
    }
  });
  // Close spans left open at the end of the run (innermost first).
  const lastT = records.length ? (records[records.length - 1] as TraceRecord).t : 0;
  for (const b of [...unfinished].reverse()) {
    const r = records[b] as TraceRecord;
    const { pid, tid } = trackOf(r);
    const id = asyncId.get(b);
    const ev: ChromeEvent = {
      name: r.name,
      cat: layerOf(r.name),
      ph: id ? 'e' : 'E',
      pid,
      tid,
      ts: tsOf(lastT),
      args: { unfinished: true },
    };
    if (id) ev.id = id;
    events.push(ev);
  }
  const out: ChromeTrace = { traceEvents: events, displayTimeUnit: 'ns' };
  if (opts.otherData) out.otherData = opts.otherData;
  return out;
}

/**
 * Serialises a Chrome trace with one event per line: valid JSON that
 * streams well, diffs well and stays readable for large runs.
 */
export function chromeTraceToJson(trace: ChromeTrace): string {
  const head: Record<string, unknown> = { displayTimeUnit: trace.displayTimeUnit };
  if (trace.otherData) head.otherData = trace.otherData;
  const headJson = JSON.stringify(head);
  const lines = trace.traceEvents.map((e) => JSON.stringify(e));
  return `${headJson.slice(0, -1)},"traceEvents":[\n${lines.join(',\n')}\n]}\n`;
}
