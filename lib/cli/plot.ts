// `daxfs bench --plot`: the 4 KiB durable-write latencies of a bench run as a horizontal bar
// chart on a log axis, written as a self-contained SVG by hand (no plotting dependency).
// The figures span four orders of magnitude (a pmem copy against an fdatasync), which only a
// log axis shows.

export interface Bar {
  label: string;
  /** Nanoseconds per operation; > 0. */
  ns: number;
}

export interface Plot {
  title: string;
  /** A line under the title: what the figures are and where they were measured. */
  subtitle: string;
  bars: Bar[];
}

/** '1 us', '10 ms': the tick labels (powers of ten of a nanosecond). */
export function formatDecade(ns: number): string {
  const units: [number, string][] = [[1e9, 's'], [1e6, 'ms'], [1e3, 'us'], [1, 'ns']];
  for (const [scale, unit] of units) if (ns >= scale) return `${+(ns / scale).toPrecision(3)} ${unit}`;
  return `${+ns.toPrecision(3)} ns`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }[c]!));
}

const COLORS = ['#1b7837', '#5aae61', '#2166ac', '#b2182b', '#762a83'];
const MARGIN = 12;

/**
 * About how wide `text` is in a sans-serif font of `size` px. SVG cannot measure text, so
 * widths of character classes, a little over DejaVu Sans's (the wide default of Linux
 * desktops and rsvg), keep labels inside the picture; narrower fonts just leave more room.
 */
export function textWidth(text: string, size: number, bold = false): number {
  let em = 0;
  for (const c of text) {
    if (/[ijl.,:;'|!]/.test(c)) em += 0.3;
    else if (c === ' ') em += 0.32;
    else if (/[ftr()[\]/\-IJ]/.test(c)) em += 0.42;
    else if (/[mwMW]/.test(c)) em += 0.98;
    else if (c === '_') em += 0.5;
    else if (/[+<>=&%@#]/.test(c)) em += 0.84;
    else if (/[A-Z]/.test(c)) em += 0.72;
    else em += 0.63;
  }
  return em * size * (bold ? 1.08 : 1);
}

/** The SVG text; bars are drawn top to bottom in the order given. */
export function plotSvg(plot: Plot): string {
  if (plot.bars.length === 0) throw new Error('nothing to plot: the run has none of the 4 KiB durable-write figures');
  for (const b of plot.bars) {
    if (!(b.ns > 0) || !Number.isFinite(b.ns)) throw new Error(`bar '${b.label}' has no positive figure (${b.ns})`);
  }
  // The axis runs over whole decades around the figures, so each tick is a power of ten.
  const lo = Math.floor(Math.log10(Math.min(...plot.bars.map((b) => b.ns))));
  let hi = Math.ceil(Math.log10(Math.max(...plot.bars.map((b) => b.ns))));
  if (hi === lo) hi = lo + 1;
  const top = 64;
  const barHeight = 26;
  const gap = 12;
  const axisY = top + plot.bars.length * (barHeight + gap);
  // The label column is as wide as the longest label, the plot a fixed 520 px; what is right
  // of the plot is room for the figure printed after each bar.
  const left = Math.ceil(MARGIN + Math.max(...plot.bars.map((b) => textWidth(b.label, 13))) + 8);
  const plotWidth = 520;
  const x = (ns: number): number => left + ((Math.log10(ns) - lo) / (hi - lo)) * plotWidth;
  const valueEnd = Math.max(...plot.bars.map((b) => Math.max(left + 2, x(b.ns)) + 6 + textWidth(formatNs(b.ns), 13)));
  const lastTick = left + plotWidth + textWidth(formatDecade(10 ** hi), 13) / 2;
  const width = Math.ceil(Math.max(Math.max(valueEnd, lastTick) + MARGIN, 2 * MARGIN + textWidth(plot.subtitle, 13),
    2 * MARGIN + textWidth(plot.title, 16, true)));
  const height = axisY + 44;
  const r = (v: number): string => String(Math.round(v * 10) / 10);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="sans-serif" font-size="13" data-scale="log10" data-axis-min="${10 ** lo}" data-axis-max="${10 ** hi}">`);
  out.push(`<title>${escapeXml(plot.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${MARGIN}" y="24" font-size="16" font-weight="bold">${escapeXml(plot.title)}</text>`);
  out.push(`<text x="${MARGIN}" y="44" fill="#555555">${escapeXml(plot.subtitle)}</text>`);
  // Over many decades the labels would touch: then every second (third...) decade is named.
  const labelRoom = Math.max(...Array.from({ length: hi - lo + 1 }, (_, i) => textWidth(formatDecade(10 ** (lo + i)), 13))) + 10;
  const every = Math.ceil(labelRoom / (plotWidth / (hi - lo)));
  for (let d = lo; d <= hi; d++) {
    const tx = r(x(10 ** d));
    out.push(`<line class="tick" x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${axisY}" stroke="#dddddd"/>`);
    if ((d - lo) % every === 0) {
      out.push(`<text class="tick-label" x="${tx}" y="${axisY + 18}" text-anchor="middle" fill="#555555">${formatDecade(10 ** d)}</text>`);
    }
  }
  out.push(`<line x1="${left}" y1="${axisY}" x2="${left + plotWidth}" y2="${axisY}" stroke="#333333"/>`);
  // A log axis is read by its marks: a long one at each decade, short ones at 2x..9x.
  for (let d = lo; d <= hi; d++) {
    out.push(`<line x1="${r(x(10 ** d))}" y1="${axisY}" x2="${r(x(10 ** d))}" y2="${axisY + 6}" stroke="#333333"/>`);
    for (let k = 2; k <= 9 && d < hi; k++) {
      const mx = r(x(k * 10 ** d));
      out.push(`<line class="minor-tick" x1="${mx}" y1="${axisY}" x2="${mx}" y2="${axisY + 3}" stroke="#333333"/>`);
    }
  }
  out.push(`<text x="${left + plotWidth / 2}" y="${axisY + 38}" text-anchor="middle" fill="#333333">latency per 4 KiB write (log scale; shorter is faster)</text>`);
  plot.bars.forEach((b, i) => {
    const y = top + i * (barHeight + gap);
    // A bar starts at the axis minimum; a figure exactly on it still gets a sliver.
    const w = Math.max(2, x(b.ns) - left);
    out.push(`<text x="${left - 8}" y="${r(y + barHeight / 2 + 5)}" text-anchor="end">${escapeXml(b.label)}</text>`);
    out.push(`<rect class="bar" data-label="${escapeXml(b.label)}" data-ns="${b.ns}" x="${left}" y="${y}" width="${r(w)}" ` +
      `height="${barHeight}" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${r(left + w + 6)}" y="${r(y + barHeight / 2 + 5)}">${escapeXml(formatNs(b.ns))}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export function formatNs(ns: number): string {
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} us`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} us`;
  return `${ns.toFixed(0)} ns`;
}

// --- From bench/results.json to bars ---------------------------------------------------

interface RoundResult { case: string; bytes: number; wall_reps: number[] }
interface Round { results: RoundResult[] }
export interface BenchResults {
  note?: string;
  file?: { fs?: string | null };
  fs?: { label?: string } | null;
  raw: { ours: Round[]; peer: Round[] };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The median wall-clock ns/op of a case over every repetition of every round, or null. */
function wallMedian(rounds: Round[], kase: string, bytes: number): number | null {
  const reps = rounds.flatMap((r) => r.results.filter((x) => x.case === kase && x.bytes === bytes).flatMap((x) => x.wall_reps));
  return reps.length ? median(reps) : null;
}

/**
 * The comparison the picture shows: one durable 4 KiB write each way, by the wall clock
 * (latency is what a caller waits). Figures the run lacks (no peer, --no-fs) are left out.
 */
export function latencyPlot(results: BenchResults): Plot {
  const ours = results.raw.ours;
  const candidates: [string, number | null][] = [
    ['daxfs PmemMapping.copy', wallMedian(ours, 'copy', 4096)],
    ['daxfs PmemMapping.copier', wallMedian(ours, 'copier', 4096)],
    ['libpmem pmem_memcpy_persist', wallMedian(results.raw.peer ?? [], 'pmem_memcpy_persist', 4096)],
    ['daxfs FileHandle.write (DAX fs)', wallMedian(ours, 'fs write (dax) vs fdatasync', 4096)],
    ['node:fs writeSync + fdatasync', wallMedian(ours, 'record write+fdatasync', 4096)],
  ];
  const bars = candidates.filter((c): c is [string, number] => c[1] !== null).map(([label, ns]) => ({ label, ns }));
  const emulated = results.file?.fs === 'tmpfs' || /^emulated/i.test(results.note ?? '');
  return {
    title: 'Durable 4 KiB write: daxfs vs libpmem vs node:fs + fdatasync',
    subtitle: `${emulated ? 'emulated pmem (DRAM, nothing durable: the code path only)' : `a file on ${results.file?.fs ?? 'an unknown filesystem'} treated as pmem`}; ` +
      'median wall-clock latency per write; fdatasync on a disk file',
    bars,
  };
}
