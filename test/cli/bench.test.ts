// `daxfs bench`: its help and usage errors, and the SVG plot on fixed figures, parsed back.
// The suite itself is not run here: even --quick takes tens of seconds on a busy machine.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BENCH_SCRIPT } from '../../lib/cli/bench';
import { BenchResults, formatNs, latencyPlot, plotSvg, textWidth } from '../../lib/cli/plot';
import { daxfs } from './run';

interface Element { name: string; attrs: Record<string, string>; text: string; children: Element[] }

/** A strict little XML reader: throws on a tag that does not close in order. */
function parseXml(text: string): Element {
  const root: Element = { name: '#root', attrs: {}, text: '', children: [] };
  const stack = [root];
  const token = /<(\/?)([\w:-]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length) {
    token.lastIndex = at;
    m = token.exec(text);
    if (!m) throw new Error(`not XML at ${at}: ${text.slice(at, at + 40)}`);
    at = token.lastIndex;
    const [, closing, name, attrText, selfClosing, chars] = m;
    const top = stack[stack.length - 1];
    if (chars !== undefined) {
      if (/[<>]/.test(chars) || /&(?!(lt|gt|amp|quot|apos);)/.test(chars)) throw new Error(`bad text '${chars}'`);
      top.text += chars;
    } else if (closing) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
    } else {
      const attrs: Record<string, string> = {};
      for (const a of attrText.matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]] = a[2];
      const el: Element = { name, attrs, text: '', children: [] };
      top.children.push(el);
      if (!selfClosing) stack.push(el);
    }
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1].name}> is not closed`);
  return root;
}

function all(el: Element, name: string): Element[] {
  return el.children.flatMap((c) => [...(c.name === name ? [c] : []), ...all(c, name)]);
}

const BARS = [
  { label: 'daxfs PmemMapping.copy', ns: 1000 },
  { label: 'libpmem pmem_memcpy_persist', ns: 700 },
  { label: 'node:fs writeSync + fdatasync', ns: 1_000_000 },
];

test('the plot is one well-formed SVG: bars in order, lengths on a log10 axis of whole decades', () => {
  const svg = plotSvg({ title: 'T <&>', subtitle: 'emulated pmem', bars: BARS });
  const doc = parseXml(svg.trim());
  expect(doc.children).toHaveLength(1);
  const root = doc.children[0];
  expect(root.name).toBe('svg');
  expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
  expect(root.attrs['data-scale']).toBe('log10');
  expect(all(root, 'title')[0].text).toBe('T &lt;&amp;&gt;');

  const bars = all(root, 'rect').filter((r) => r.attrs.class === 'bar');
  expect(bars.map((b) => b.attrs['data-label'])).toEqual(BARS.map((b) => b.label));
  expect(bars.map((b) => Number(b.attrs['data-ns']))).toEqual(BARS.map((b) => b.ns));
  const ys = bars.map((b) => Number(b.attrs.y));
  expect([...ys].sort((a, b) => a - b)).toEqual(ys);   // top to bottom in the order given

  // Ticks: 100 ns (below the smallest, 700) up to 1 ms (the largest), evenly spaced.
  const ticks = all(root, 'line').filter((l) => l.attrs.class === 'tick').map((l) => Number(l.attrs.x1));
  expect(all(root, 'text').filter((t) => t.attrs.class === 'tick-label').map((t) => t.text))
    .toEqual(['100 ns', '1 us', '10 us', '100 us', '1 ms']);
  const decade = ticks[1] - ticks[0];
  for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBeCloseTo(decade, 0);
  // Each bar ends where log10 of its figure falls on that axis: 1000x more is 3 decades longer.
  const ends = bars.map((b) => Number(b.attrs.x) + Number(b.attrs.width));
  for (let i = 0; i < BARS.length; i++) {
    expect(ends[i]).toBeCloseTo(ticks[0] + (Math.log10(BARS[i].ns) - 2) * decade, 0);
  }
  expect(ends[2] - ends[0]).toBeCloseTo(3 * decade, 0);
  expect(svg).toContain('>emulated pmem<');
});

test('no text leaves the picture or overlaps: label column, figures after the bars, title, tick labels', () => {
  // textWidth errs wide of DejaVu Sans (rsvg-convert drew this label 215 px wide at 13 px).
  expect(textWidth('libpmem pmem_memcpy_persist', 13)).toBeGreaterThanOrEqual(215);
  expect(textWidth('libpmem pmem_memcpy_persist', 13)).toBeLessThan(240);
  const cases = [
    { title: 'Durable 4 KiB write: daxfs vs libpmem vs node:fs + fdatasync', subtitle: 'emulated pmem', bars: BARS },
    { title: 'T', subtitle: 's', bars: [{ label: 'a', ns: 3 }, { label: 'WWWWWWWWWWWWWWWWWWWWWWWWW', ns: 1000 }, { label: 'x', ns: 4.9e9 }] },
  ];
  for (const plot of cases) {
    const root = parseXml(plotSvg(plot).trim()).children[0];
    const width = Number(root.attrs.width);
    const texts = all(root, 'text');
    for (const t of texts) {
      const size = Number(t.attrs['font-size'] ?? 13);
      const w = textWidth(t.text.replace(/&(lt|gt|amp|quot|apos);/g, '&'), size, t.attrs['font-weight'] === 'bold');
      const start = Number(t.attrs.x) - (t.attrs['text-anchor'] === 'end' ? w : t.attrs['text-anchor'] === 'middle' ? w / 2 : 0);
      expect({ text: t.text, start: start >= 0, end: start + w <= width }).toEqual({ text: t.text, start: true, end: true });
    }
    // A label ends left of the bars; tick labels (thinned over many decades) do not touch.
    const left = Math.min(...all(root, 'rect').filter((r) => r.attrs.class === 'bar').map((r) => Number(r.attrs.x)));
    for (const b of plot.bars) expect(12 + textWidth(b.label, 13)).toBeLessThanOrEqual(left - 8);
    const ticks = texts.filter((t) => t.attrs.class === 'tick-label');
    for (let i = 1; i < ticks.length; i++) {
      const gap = Number(ticks[i].attrs.x) - Number(ticks[i - 1].attrs.x);
      expect(gap).toBeGreaterThan((textWidth(ticks[i].text, 13) + textWidth(ticks[i - 1].text, 13)) / 2);
    }
  }
  // 3 ns .. 4.9 s spans ten decades: every second one is named, from 1 ns; seconds are seconds.
  const wide = parseXml(plotSvg(cases[1]).trim()).children[0];
  expect(all(wide, 'text').filter((t) => t.attrs.class === 'tick-label').map((t) => t.text))
    .toEqual(['1 ns', '100 ns', '10 us', '1 ms', '100 ms', '10 s']);
  expect(all(wide, 'line').filter((l) => l.attrs.class === 'minor-tick')).toHaveLength(10 * 8);
  expect(formatNs(4.9e9)).toBe('4.90 s');
});

test('the plot refuses nothing to draw and figures that are not positive', () => {
  expect(() => plotSvg({ title: 't', subtitle: 's', bars: [] })).toThrow('nothing to plot');
  expect(() => plotSvg({ title: 't', subtitle: 's', bars: [{ label: 'x', ns: 0 }] })).toThrow("bar 'x'");
});

test('the bars come from a run: wall-clock medians of the 4 KiB cases, emulated pmem named', () => {
  const round = (results: [string, number[]][]) => ({ results: results.map(([kase, wall]) => ({ case: kase, bytes: 4096, wall_reps: wall })) });
  const run: BenchResults = {
    file: { fs: 'tmpfs' },
    raw: {
      ours: [round([['copy', [900, 1100, 1000]], ['record write+fdatasync', [2e6]], ['persist', [5]]]),
        round([['copy', [950]], ['record write+fdatasync', [1e6, 3e6]]])],
      peer: [round([['pmem_memcpy_persist', [700]]])],
    },
  };
  const plot = latencyPlot(run);
  expect(plot.bars).toEqual([
    { label: 'daxfs PmemMapping.copy', ns: 975 },
    { label: 'libpmem pmem_memcpy_persist', ns: 700 },
    { label: 'node:fs writeSync + fdatasync', ns: 2e6 },
  ]);
  expect(plot.subtitle).toMatch(/^emulated pmem/);
  // Without the peer its bar is left out, not drawn as zero.
  expect(latencyPlot({ ...run, raw: { ...run.raw, peer: [] } }).bars.map((b) => b.label)).not.toContain('libpmem pmem_memcpy_persist');
});

test('bench --help, usage errors exit 2, and the suite it runs ships in the package', () => {
  const help = daxfs('bench', '--help');
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/^Usage: daxfs bench \[--quick\] \[--plot FILE\.svg\]/);
  expect(help.stdout).toContain('libpmem');
  expect(daxfs('bench', 'extra').status).toBe(2);
  const png = daxfs('bench', '--plot', 'x.png');
  expect(png.status).toBe(2);
  expect(png.stderr).toContain('name it FILE.svg');
  expect(daxfs('bench', '--plot').stderr).toContain('option --plot needs a value');

  expect(fs.existsSync(BENCH_SCRIPT)).toBe(true);
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  expect(pkg.files).toContain('bench/');
});

test('the picture in docs/BENCHMARKS.md is one such SVG, from a run on emulated pmem', () => {
  const docs = path.join(__dirname, '..', '..', 'docs');
  expect(fs.readFileSync(path.join(docs, 'BENCHMARKS.md'), 'utf8')).toContain('](bench-latency.svg)');
  const root = parseXml(fs.readFileSync(path.join(docs, 'bench-latency.svg'), 'utf8').trim()).children[0];
  expect(root.attrs['data-scale']).toBe('log10');
  const labels = all(root, 'rect').filter((r) => r.attrs.class === 'bar').map((b) => b.attrs['data-label']);
  expect(labels).toEqual(['daxfs PmemMapping.copy', 'libpmem pmem_memcpy_persist', 'daxfs FileHandle.write (DAX fs)', 'node:fs writeSync + fdatasync']);
  expect(all(root, 'text').some((t) => t.text.startsWith('emulated pmem'))).toBe(true);
});
