/** `eehsim compare --svg`: the SVG chart is well-formed XML, one bar group per design per panel, the rows' values, the same bytes. */
import { beforeAll, describe, expect, it } from 'vitest';
import { escapeXml, niceScale, renderCompareSvg } from '../../src/cli/chart.js';
import { type CompareRow, compareDesigns, formatCompare } from '../../src/cli/compare.js';
import { loadScenario } from '../../src/scenario/builtin.js';
import { formatNs } from '../../src/sim/time.js';

interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

const NAME = '[A-Za-z_][\\w.:-]*';
const ATTR = new RegExp(`\\s+(${NAME})="([^"<]*)"`, 'gy');
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;

function decodeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** A strict little XML parser (elements, attributes, text, entities; no DTD, CDATA or comments): throws on anything not well-formed. */
function parseXml(src: string): El {
  let i = 0;
  const decl = /^<\?xml [^?]*\?>\n?/.exec(src);
  if (decl) i = decl[0].length;
  const root: El = { name: '#doc', attrs: {}, children: [], text: '' };
  const stack: El[] = [root];
  const checkText = (t: string) => {
    for (let k = t.indexOf('&'); k >= 0; k = t.indexOf('&', k + 1)) {
      ENTITY.lastIndex = k;
      if (!ENTITY.test(t)) throw new Error(`bad entity at ${k}: ${t.slice(k, k + 10)}`);
    }
  };
  while (i < src.length) {
    const top = stack[stack.length - 1] as El;
    if (src[i] !== '<') {
      const j = src.indexOf('<', i);
      const t = src.slice(i, j < 0 ? src.length : j);
      checkText(t);
      if (stack.length === 1 && t.trim()) throw new Error(`text outside the root: ${t}`);
      top.text += decodeXml(t);
      i = j < 0 ? src.length : j;
      continue;
    }
    if (src[i + 1] === '/') {
      const m = new RegExp(`</(${NAME})\\s*>`, 'y');
      m.lastIndex = i;
      const r = m.exec(src);
      if (!r || r[1] !== top.name) throw new Error(`bad end tag at ${i} (open: ${top.name})`);
      stack.pop();
      i = m.lastIndex;
      continue;
    }
    const m = new RegExp(`<(${NAME})`, 'y');
    m.lastIndex = i;
    const r = m.exec(src);
    if (!r) throw new Error(`bad tag at ${i}: ${src.slice(i, i + 20)}`);
    const el: El = { name: r[1] as string, attrs: {}, children: [], text: '' };
    i = m.lastIndex;
    for (;;) {
      ATTR.lastIndex = i;
      const a = ATTR.exec(src);
      if (!a) break;
      const [, k, v] = a as unknown as [string, string, string];
      if (k in el.attrs) throw new Error(`duplicate attribute ${k}`);
      checkText(v);
      el.attrs[k] = decodeXml(v);
      i = ATTR.lastIndex;
    }
    const close = /\s*(\/?)>/y;
    close.lastIndex = i;
    const cl = close.exec(src);
    if (!cl) throw new Error(`unterminated tag ${el.name} at ${i}`);
    i = close.lastIndex;
    if (stack.length === 1 && root.children.length) throw new Error('two root elements');
    top.children.push(el);
    if (!cl[1]) stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`unclosed ${stack[stack.length - 1]?.name}`);
  if (root.children.length !== 1) throw new Error('no root element');
  return root.children[0] as El;
}

function all(e: El, pred: (x: El) => boolean): El[] {
  return [...(pred(e) ? [e] : []), ...e.children.flatMap((c) => all(c, pred))];
}
const byClass = (e: El, cls: string) => all(e, (x) => x.attrs.class === cls);
const textOf = (e: El): string[] => all(e, (x) => x.name === 'text').map((t) => t.text);

describe('parseXml (the test helper)', () => {
  it('rejects what is not well-formed', () => {
    expect(() => parseXml('<a><b></a></b>')).toThrow();
    expect(() => parseXml('<a x="1" x="2"/>')).toThrow();
    expect(() => parseXml('<a>&</a>')).toThrow();
    expect(() => parseXml('<a>')).toThrow();
    expect(parseXml('<a x="&lt;"><b/>t</a>').attrs.x).toBe('<');
  });
});

describe('renderCompareSvg', () => {
  let rows: CompareRow[];
  let svg: string;
  const { scenario } = loadScenario('default');
  beforeAll(() => {
    rows = compareDesigns(scenario, ['d', 'a', 'a-realmode']);
    svg = renderCompareSvg({
      scenario: 'default',
      seed: scenario.seed,
      costs: 'default cost table',
      rows,
    });
  });

  it('is well-formed SVG with a title naming the scenario, seed and cost table', () => {
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(root.attrs.viewBox).toBe(`0 0 ${root.attrs.width} ${root.attrs.height}`);
    const texts = textOf(root);
    expect(texts[0]).toBe(`eehsim compare: scenario default, seed ${scenario.seed}`);
    expect(texts[1]).toContain('default cost table');
    // self-contained: no script, no external reference
    expect(svg).not.toMatch(/<script|href=|@import|url\(/);
  });

  it('one bar group per design in every panel, values as in the compare rows', () => {
    const root = parseXml(svg);
    const panels = byClass(root, 'panel');
    const metrics = panels.map((p) => p.attrs['data-metric']);
    expect(metrics.slice(0, 3)).toEqual(['state-query', 'exits', 'detect']);
    expect(metrics).toContain('layer-kvm');
    const table = formatCompare(scenario, rows);
    for (const p of panels) {
      const groups = byClass(p, 'bar-group');
      expect(groups.map((g) => g.attrs['data-design'])).toEqual(['d', 'a', 'a-realmode']);
      groups.forEach((g, i) => {
        const r = rows[i] as CompareRow;
        const value = g.attrs['data-value'];
        const label = textOf(g)[1] as string;
        expect(textOf(g)[0]).toBe(r.design);
        expect(all(g, (x) => x.name === 'rect').length).toBeGreaterThan(0);
        switch (p.attrs['data-metric']) {
          case 'state-query':
            expect(value).toBe(String(r.stateQueryMeanNs));
            expect(label).toBe(`${formatNs(r.stateQueryMeanNs)}, ${r.stateQueries} queries`);
            expect(table).toContain(formatNs(r.stateQueryMeanNs));
            break;
          case 'exits':
            expect(value).toBe(String(r.exits));
            expect(label).toBe(`${r.exits} (${r.stateQueryExits} state query)`);
            break;
          case 'detect':
            expect(value).toBe(String(r.detectNs));
            expect(label).toBe(formatNs(r.detectNs as number));
            break;
          default: {
            const layer = (p.attrs['data-metric'] as string).replace('layer-', '');
            const ns = r.layerNs[layer as keyof CompareRow['layerNs']];
            expect(value).toBe(String(ns));
            expect(label).toBe(formatNs(ns as number));
          }
        }
      });
    }
    // the layers of the brief's order, those with charged time
    expect(metrics.slice(3)).toEqual(
      ['guest', 'kvm', 'vmm', 'vfio', 'host', 'firmware', 'hw']
        .filter((l) => rows.some((r) => l in r.layerNs))
        .map((l) => `layer-${l}`),
    );
  });

  it('longer bars for larger values, within the plot', () => {
    const root = parseXml(svg);
    const [q] = byClass(root, 'panel');
    const widths = byClass(q as El, 'bar-group').map((g) =>
      all(g, (x) => x.name === 'rect').reduce((w, r) => w + Number(r.attrs.width), 0),
    );
    const [d, a, rm] = widths as [number, number, number];
    expect(d).toBeGreaterThan(a);
    expect(a).toBeGreaterThan(rm);
    for (const r of all(root, (x) => x.name === 'rect' && x.attrs.x !== undefined)) {
      expect(Number(r.attrs.x) + Number(r.attrs.width)).toBeLessThanOrEqual(
        Number(root.attrs.width),
      );
    }
  });

  it('the same bytes for the same input, and for a second run of the same designs', () => {
    const again = renderCompareSvg({
      scenario: 'default',
      seed: scenario.seed,
      costs: 'default cost table',
      rows: compareDesigns(scenario, ['d', 'a', 'a-realmode']),
    });
    expect(again).toBe(svg);
  });

  it('escapes names and draws no bar for what a run did not have', () => {
    const [d] = rows as [CompareRow];
    const none: CompareRow = {
      ...d,
      design: 'a',
      stateQueries: 0,
      stateQueryMeanNs: 0,
      exits: 0,
      stateQueryExits: 0,
      detectNs: null,
      layerNs: {},
    };
    const out = renderCompareSvg({
      scenario: 'x<&"y\'',
      seed: 7,
      costs: 'cost table: defaults + a=1us',
      rows: [d, none],
    });
    const root = parseXml(out);
    expect(textOf(root)[0]).toBe(`eehsim compare: scenario x<&"y', seed 7`);
    for (const p of byClass(root, 'panel').filter((x) => x.attrs['data-metric'] !== 'exits')) {
      const g = byClass(p, 'bar-group')[1] as El;
      expect(all(g, (x) => x.name === 'rect')).toEqual([]);
      expect(textOf(g)[1]).toMatch(/^-/);
    }
  });

  it('niceScale: round maxima at or above the value', () => {
    expect(niceScale(29.21)).toEqual({ max: 30, step: 10 });
    expect(niceScale(1191)).toEqual({ max: 1500, step: 500 });
    expect(niceScale(0)).toEqual({ max: 1, step: 0.25 });
    for (const v of [0.3, 1, 7, 43.65, 1.8, 999, 1e9])
      expect(niceScale(v).max).toBeGreaterThanOrEqual(v);
    expect(escapeXml(`<&>"'`)).toBe('&lt;&amp;&gt;&quot;&apos;');
  });
});
