/**
 * The typed trace catalogue and the trace recorder.
 *
 * Every layer declares the events it emits by augmenting `TraceEvents` in its
 * own `trace_events.ts`, e.g.
 *
 *   declare module '../sim/trace.js' {
 *     interface TraceEvents { 'hw.pe.freeze': { phb: number; pe: number; cause: string } }
 *   }
 *
 * so `trace.emit('hw.pe.freeze', {...})` is checked at compile time. The layer
 * of an event is the prefix of its name. Records carry the virtual time, a
 * sequence number and the owner of the running process (`host`, `vm0`, ...).
 */
import type { Ns } from './time.js';

// biome-ignore lint/suspicious/noEmptyInterface: augmented by each layer
export interface TraceEvents {}

export type TraceName = keyof TraceEvents & string;
export type FieldValue = string | number | boolean | null;
export type Fields = Readonly<Record<string, FieldValue>>;

/** 'i' instant, 'B' span begin, 'E' span end (Chrome Trace Event phases). */
export type Phase = 'i' | 'B' | 'E';

export interface TraceRecord {
  readonly seq: number;
  readonly t: Ns;
  readonly ph: Phase;
  readonly name: string;
  readonly owner: string;
  readonly fields: Fields;
}

export interface SpanToken {
  readonly name: string;
  readonly owner: string;
}

export function layerOf(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? name : name.slice(0, dot);
}

export class Trace {
  readonly records: TraceRecord[] = [];
  /** When false nothing is recorded (large benchmarks). Counting still works. */
  enabled = true;
  /** Events seen per name, recorded or not. */
  readonly counts = new Map<string, number>();
  private seq = 0;

  constructor(
    private readonly now: () => Ns,
    private readonly owner: () => string,
  ) {}

  emit<K extends TraceName>(name: K, fields: TraceEvents[K]): void {
    this.push('i', name, this.owner(), fields as Fields);
  }

  /** Opens a span (an RTAS call, an ioctl, a recovery phase). */
  begin<K extends TraceName>(name: K, fields: TraceEvents[K]): SpanToken {
    const owner = this.owner();
    this.push('B', name, owner, fields as Fields);
    return { name, owner };
  }

  /** Closes a span opened by `begin`, with result fields (e.g. `rc`). */
  end(token: SpanToken, fields: Fields = {}): void {
    this.push('E', token.name, token.owner, fields);
  }

  private push(ph: Phase, name: string, owner: string, fields: Fields): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + (ph === 'E' ? 0 : 1));
    if (!this.enabled) return;
    this.records.push({ seq: this.seq++, t: this.now(), ph, name, owner, fields });
  }

  count(name: TraceName): number {
    return this.counts.get(name) ?? 0;
  }

  /** Records whose name is `name` (instants and span begins). */
  find(name: TraceName): TraceRecord[] {
    return this.records.filter((r) => r.name === name && r.ph !== 'E');
  }

  /** The compact line-oriented text trace used for golden tests and diffs. */
  toText(): string {
    return this.records.map(formatRecord).join('\n') + (this.records.length ? '\n' : '');
  }
}

/** One text-trace line: `<t ns> <ph> <owner> <name> k=v ...` */
export function formatRecord(r: TraceRecord): string {
  const kv = Object.entries(r.fields)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  return `${String(r.t).padStart(13)} ${r.ph} ${r.owner.padEnd(5)} ${r.name}${kv ? ` ${kv}` : ''}`;
}

function formatValue(v: FieldValue): string {
  if (typeof v === 'string') return /^[\w.:/+-]+$/.test(v) ? v : JSON.stringify(v);
  return String(v);
}
