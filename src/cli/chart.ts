/**
 * `eehsim compare --svg <file>`: the compare rows as one self-contained SVG
 * (no script, no external font or style), hand-written so the output is a
 * pure function of the rows - the same rows give the same bytes.
 *
 * Panels of horizontal bars, one bar group per design, the design's colour
 * the same in every panel:
 * - time per guest state query (us), the row's `state query`;
 * - exits to the VMM, the state query's own exits solid, the others light;
 * - detection latency (us), the row's `detect`;
 * - charged virtual time per layer, one small panel per layer with its own
 *   scale: the run's accounting charges time per owner and layer over the
 *   whole run, it has no per-query split, so the state-query bars are
 *   totals and the layer shares are whole-run totals (all VMs + host).
 * Every value printed on a bar is the text the compare table prints.
 */
import { LAYERS, type Layer } from '../sim/layers.js';
import { formatNs, type Ns } from '../sim/time.js';
import type { CompareRow } from './compare.js';

export interface CompareChart {
  scenario: string;
  seed: number;
  /** What cost table was in force, e.g. `default cost table`. */
  costs: string;
  rows: readonly CompareRow[];
}

/** Okabe-Ito colours (colour-blind safe), without the yellow that vanishes on white. */
export const DESIGN_COLOURS = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#CC79A7',
  '#D55E00',
  '#56B4E9',
  '#555555',
] as const;

/** Layers in the order the chart shows them (top of the stack first); the rest follow. */
const LAYER_ORDER: readonly Layer[] = ['guest', 'kvm', 'vmm', 'vfio', 'host', 'firmware', 'hw'];

const FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';
const WIDTH = 900;
const MARGIN = 20;
const BAR_H = 16;
const BAR_GAP = 6;

interface Bar {
  design: string;
  colour: string;
  /** In axis units; null: nothing to show. */
  value: number | null;
  /** Stacked parts in axis units (solid first); default one solid part of `value`. */
  parts?: Array<{ value: number; opacity: number }>;
  label: string;
  /** Raw value for data-value (ns or count), null when none. */
  raw: number | null;
}

interface PanelSpec {
  metric: string;
  title: string;
  note?: string;
  axis: string;
  bars: Bar[];
  /** Width kept for the design names, left of the plot, and for the value labels, right of it. */
  nameW: number;
  valueW: number;
}

/** Rounded coordinate (one decimal, no trailing zeros): stable text for the same input. */
function c(n: number): string {
  return String(Math.round(n * 10) / 10);
}

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function text(
  x: number,
  y: number,
  s: string,
  a: { size?: number; anchor?: 'start' | 'middle' | 'end'; weight?: string; fill?: string } = {},
): string {
  const attrs = [`x="${c(x)}"`, `y="${c(y)}"`, `font-size="${a.size ?? 12}"`];
  if (a.anchor && a.anchor !== 'start') attrs.push(`text-anchor="${a.anchor}"`);
  if (a.weight) attrs.push(`font-weight="${a.weight}"`);
  attrs.push(`fill="${a.fill ?? '#222222'}"`);
  return `<text ${attrs.join(' ')}>${escapeXml(s)}</text>`;
}

/** A round axis maximum >= v and its tick step (1, 2, 5 x 10^n, four or five ticks). */
export function niceScale(v: number): { max: number; step: number } {
  if (!(v > 0)) return { max: 1, step: 0.25 };
  const raw = v / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  return { max: Math.ceil(v / step - 1e-9) * step, step };
}

function tickLabel(v: number): string {
  return String(Number(v.toPrecision(6)));
}

/** One panel at (x, y), `w` wide; returns its SVG and height. */
function panel(x: number, y: number, w: number, p: PanelSpec): { svg: string; h: number } {
  const out: string[] = [`<g class="panel" data-metric="${escapeXml(p.metric)}">`];
  let cy = y + 14;
  out.push(text(x, cy, p.title, { size: 13, weight: 'bold' }));
  if (p.note) {
    cy += 16;
    out.push(text(x, cy, p.note, { size: 11, fill: '#555555' }));
  }
  cy += 10;
  const x0 = x + p.nameW;
  const plotW = w - p.nameW - p.valueW;
  const max = Math.max(0, ...p.bars.map((b) => b.value ?? 0));
  const scale = niceScale(max);
  const sx = (v: number) => x0 + (v / scale.max) * plotW;
  const plotH = p.bars.length * (BAR_H + BAR_GAP) + BAR_GAP;
  const ticks: number[] = [];
  for (let i = 0; i * scale.step <= scale.max + scale.step * 1e-9; i++) ticks.push(i * scale.step);
  // grid first, bars over it
  out.push('<g class="grid" stroke="#e3e3e3" stroke-width="1">');
  for (const t of ticks.slice(1)) {
    out.push(`<line x1="${c(sx(t))}" y1="${c(cy)}" x2="${c(sx(t))}" y2="${c(cy + plotH)}"/>`);
  }
  out.push('</g>');
  p.bars.forEach((b, i) => {
    const by = cy + BAR_GAP + i * (BAR_H + BAR_GAP);
    const mid = by + BAR_H / 2 + 4;
    out.push(
      `<g class="bar-group" data-design="${escapeXml(b.design)}" data-value="${b.raw ?? ''}">`,
    );
    out.push(`<title>${escapeXml(`${b.design}: ${b.label}`)}</title>`);
    out.push(text(x0 - 8, mid, b.design, { anchor: 'end' }));
    let end = x0;
    if (b.value !== null) {
      const parts = b.parts ?? [{ value: b.value, opacity: 1 }];
      for (const part of parts) {
        const bw = sx(part.value) - x0;
        if (bw <= 0) continue;
        const op = part.opacity === 1 ? '' : ` fill-opacity="${part.opacity}"`;
        out.push(
          `<rect x="${c(end)}" y="${c(by)}" width="${c(bw)}" height="${BAR_H}" fill="${b.colour}"${op}/>`,
        );
        end += bw;
      }
    }
    out.push(
      text(end + 5, mid, b.label, { size: 11, fill: b.value === null ? '#777777' : '#222222' }),
    );
    out.push('</g>');
  });
  cy += plotH;
  out.push(
    `<line class="axis" x1="${c(x0)}" y1="${c(cy)}" x2="${c(x0 + plotW)}" y2="${c(cy)}" stroke="#444444" stroke-width="1"/>`,
  );
  out.push(
    `<line class="axis" x1="${c(x0)}" y1="${c(cy - plotH)}" x2="${c(x0)}" y2="${c(cy)}" stroke="#444444" stroke-width="1"/>`,
  );
  for (const t of ticks) {
    out.push(
      `<line x1="${c(sx(t))}" y1="${c(cy)}" x2="${c(sx(t))}" y2="${c(cy + 4)}" stroke="#444444" stroke-width="1"/>`,
    );
    out.push(text(sx(t), cy + 16, tickLabel(t), { size: 10, anchor: 'middle', fill: '#444444' }));
  }
  cy += 32;
  out.push(text(x0 + plotW / 2, cy, p.axis, { size: 11, anchor: 'middle', fill: '#444444' }));
  out.push('</g>');
  return { svg: out.join('\n'), h: cy + 6 - y };
}

/** The unit a layer panel is drawn in: the largest that keeps its longest bar >= 1. */
function unitFor(maxNs: number): { name: string; ns: number } {
  if (maxNs >= 1e9) return { name: 's', ns: 1e9 };
  if (maxNs >= 1e6) return { name: 'ms', ns: 1e6 };
  if (maxNs >= 1e3) return { name: 'us', ns: 1e3 };
  return { name: 'ns', ns: 1 };
}

function nsBar(design: string, colour: string, ns: Ns | null, unitNs: number, none: string): Bar {
  return ns === null
    ? { design, colour, value: null, label: none, raw: null }
    : { design, colour, value: ns / unitNs, label: formatNs(ns), raw: ns };
}

/** The compare rows as an SVG document (ends with a newline). */
export function renderCompareSvg(chart: CompareChart): string {
  const rows = chart.rows;
  const colour = (i: number) => DESIGN_COLOURS[i % DESIGN_COLOURS.length] as string;
  const longest = Math.max(...rows.map((r) => r.design.length), 6);
  const nameW = Math.ceil(longest * 7.5) + 16;
  const inner = WIDTH - 2 * MARGIN;
  const body: string[] = [];
  let y = MARGIN;
  const title = `eehsim compare: scenario ${chart.scenario}, seed ${chart.seed}`;
  body.push(text(MARGIN, y + 16, title, { size: 17, weight: 'bold' }));
  y += 36;
  body.push(
    text(
      MARGIN,
      y,
      `${chart.costs}; one run per design, same seed; values as in the compare table`,
      { size: 12, fill: '#444444' },
    ),
  );
  y += 18;

  const main: PanelSpec[] = [
    {
      metric: 'state-query',
      title: 'Time per guest state query (ibm,read-slot-reset-state2)',
      note: "mean rtas_call() entry to return, from the guest kernel's RTAS accounting",
      axis: 'us per query (label: mean, number of queries)',
      bars: rows.map((r, i) => {
        const b = nsBar(
          r.design,
          colour(i),
          r.stateQueries ? r.stateQueryMeanNs : null,
          1e3,
          '- (no query)',
        );
        return b.value === null ? b : { ...b, label: `${b.label}, ${r.stateQueries} queries` };
      }),
      nameW,
      valueW: 150,
    },
    {
      metric: 'exits',
      title: 'Exits to the VMM (KVM_RUN returns, all guests)',
      note: 'solid: exits of the state query; light: all other exits',
      axis: 'exits',
      bars: rows.map((r, i) => ({
        design: r.design,
        colour: colour(i),
        value: r.exits,
        parts: [
          { value: r.stateQueryExits, opacity: 1 },
          { value: r.exits - r.stateQueryExits, opacity: 0.4 },
        ],
        label: `${r.exits} (${r.stateQueryExits} state query)`,
        raw: r.exits,
      })),
      nameW,
      valueW: 150,
    },
    {
      metric: 'detect',
      title: 'Detection latency',
      note: 'PHB freeze to the guest isolating the PE, mean over the guest recoveries',
      axis: 'us',
      bars: rows.map((r, i) => nsBar(r.design, colour(i), r.detectNs, 1e3, '- (no recovery)')),
      nameW,
      valueW: 150,
    },
  ];
  for (const p of main) {
    y += 14;
    const { svg, h } = panel(MARGIN, y, inner, p);
    body.push(svg);
    y += h;
  }

  const present = new Set(rows.flatMap((r) => Object.keys(r.layerNs) as Layer[]));
  const layers = [...LAYER_ORDER, ...LAYERS.filter((l) => !LAYER_ORDER.includes(l))].filter((l) =>
    present.has(l),
  );
  if (layers.length) {
    y += 22;
    body.push(
      text(MARGIN, y, 'Charged virtual time per layer, whole run (all VMs + host)', {
        size: 14,
        weight: 'bold',
      }),
    );
    y += 16;
    body.push(
      text(
        MARGIN,
        y,
        'the accounting has no per-query split by layer: whole-run totals, each layer on its own scale',
        { size: 11, fill: '#555555' },
      ),
    );
    const colW = (inner - 20) / 2;
    for (let k = 0; k < layers.length; k += 2) {
      y += 10;
      let h = 0;
      for (const [j, l] of layers.slice(k, k + 2).entries()) {
        const max = Math.max(...rows.map((r) => r.layerNs[l] ?? 0));
        const u = unitFor(max);
        const p = panel(MARGIN + j * (colW + 20), y, colW, {
          metric: `layer-${l}`,
          title: l,
          axis: u.name,
          bars: rows.map((r, i) => nsBar(r.design, colour(i), r.layerNs[l] ?? null, u.ns, '-')),
          nameW,
          valueW: 80,
        });
        body.push(p.svg);
        h = Math.max(h, p.h);
      }
      y += h;
    }
  }
  y += MARGIN;
  const height = Math.ceil(y);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${FONT}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
