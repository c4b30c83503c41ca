/*
 * charts.js: line charts (a metric across runs, drift over time) drawn as
 * SVG, and the width a chart has to fill.
 */
import {app, h, svg} from './dom.js';
import {num} from './format.js';

const PALETTE = ['#0b63c5', '#c2410c', '#1a7f37', '#7c3aed', '#0e7490',
                 '#b45309', '#be185d', '#4d7c0f', '#475569'];

function niceStep(range, n) {
  const raw = range / Math.max(1, n);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

export function ticks(lo, hi, n) {
  if (!(hi > lo))
    return [lo];
  const s = niceStep(hi - lo, n), out = [];
  for (let v = Math.ceil(lo / s) * s; v <= hi + s * 1e-9; v += s)
    out.push(+v.toPrecision(12));
  return out;
}

/* A line chart: series [{name, color, points: [{x, y, tip, href}]}];
 * opts {width, height, xFmt, yFmt, xTicks, threshold, thresholdLabel}. */
export function lineChart(series, opts) {
  const W = Math.max(320, opts.width || 600), H = opts.height || 220;
  const ml = 54, mr = 14, mt = 12, mb = 26;
  const pts = series.flatMap((s) => s.points);
  if (!pts.length)
    return h('div', {class: 'empty'}, opts.empty || 'Nothing to chart yet.');
  let x0 = Math.min(...pts.map((p) => p.x)), x1 = Math.max(...pts.map((p) => p.x));
  let y0 = Math.min(...pts.map((p) => p.y)), y1 = Math.max(...pts.map((p) => p.y));
  /* A threshold far above the data is named, not drawn: it would
   * flatten the lines. */
  let thr = opts.threshold;
  if (thr != null && thr > 0 && y1 > 0 && thr > 3 * y1)
    thr = null;
  if (thr != null) {
    y0 = Math.min(y0, thr);
    y1 = Math.max(y1, thr);
  }
  if (opts.zero)
    y0 = Math.min(0, y0);
  if (x1 === x0) {
    x0 -= 1;
    x1 += 1;
  }
  if (y1 === y0) {
    const d = Math.abs(y0) * 0.1 || 1;
    y0 -= d;
    y1 += d;
  }
  const yt = ticks(y0, y1, 4);
  y0 = Math.min(y0, yt[0]);
  const ys = niceStep(y1 - y0, 4);
  y1 = Math.max(y1, Math.ceil(y1 / ys - 1e-9) * ys);
  const px = (x) => ml + (x - x0) / (x1 - x0) * (W - ml - mr);
  const py = (y) => mt + (1 - (y - y0) / (y1 - y0)) * (H - mt - mb);
  const xFmt = opts.xFmt || num, yFmt = opts.yFmt || num;
  const root = svg('svg', {width: W, height: H, class: 'chart', role: 'img',
                           'aria-label': opts.label || 'chart'});
  const grid = svg('g', {class: 'grid'}), axis = svg('g', {class: 'axis'});
  for (const v of ticks(y0, y1, 4)) {
    grid.append(svg('line', {x1: ml, x2: W - mr, y1: py(v), y2: py(v)}));
    axis.append(svg('text', {x: ml - 8, y: py(v) + 4, 'text-anchor': 'end'},
                    yFmt(v)));
  }
  const xt = opts.xTicks ? opts.xTicks(x0, x1) : ticks(x0, x1, 6);
  for (const v of xt)
    axis.append(svg('text', {x: px(v), y: H - 6, 'text-anchor': 'middle'},
                    xFmt(v)));
  axis.append(svg('line', {x1: ml, x2: W - mr, y1: H - mb, y2: H - mb}));
  root.append(grid, axis);
  if (thr != null) {
    root.append(svg('line', {class: 'thr', x1: ml, x2: W - mr,
                             y1: py(thr), y2: py(thr)}),
                svg('text', {class: 'thr-t', x: W - mr - 4, y: py(thr) - 5,
                             'text-anchor': 'end'},
                    'threshold ' + num(thr)));
  } else if (opts.threshold != null) {
    root.append(svg('text', {class: 'thr-t', x: W - mr - 4, y: mt + 10,
                             'text-anchor': 'end'},
                    'threshold ' + num(opts.threshold) + ' (above)'));
  }
  series.forEach((s, i) => {
    const c = s.color || PALETTE[i % PALETTE.length];
    const sorted = s.points.slice().sort((a, b) => a.x - b.x);
    if (sorted.length > 1)
      root.append(svg('path', {class: 'line', stroke: c,
        d: sorted.map((p, k) => (k ? 'L' : 'M') + px(p.x).toFixed(1) + ',' +
                                py(p.y).toFixed(1)).join(' ')}));
    for (const p of sorted) {
      const dot = svg('circle', {class: 'pt', cx: px(p.x), cy: py(p.y), r: 4,
                                 fill: c},
                      svg('title', null, p.tip || s.name + ': ' + yFmt(p.y)));
      root.append(p.href ? svg('a', {href: p.href}, dot) : dot);
    }
  });
  const out = h('div', null, root);
  if (series.length > 1 || opts.key)
    out.append(h('div', {class: 'series-key'}, series.map((s, i) =>
      h('span', null, h('i', {style: 'background:' +
                                     (s.color || PALETTE[i % PALETTE.length])}),
        s.name))));
  return out;
}

/* The inner width of a panel: the whole page (no fraction) or a column
 * of .grid2 (1.6fr 1fr or, .even, 1fr 1fr, 16px apart; one column below
 * 1000px). */
export function chartWidth(fraction) {
  const content = app.clientWidth - 48;
  if (!fraction || window.innerWidth <= 1000)
    return content - 38;
  return Math.floor((content - 16) * fraction - 38);
}

/* A scatter chart: points [{x, y, tip, href}]; opts {width, height,
 * xFmt, yFmt, xCats, xLabel, yLabel, label}. With xCats (categories in
 * order) x is an index into them, spaced evenly and named below. */
export function scatterChart(points, opts) {
  const W = Math.max(300, opts.width || 600), H = opts.height || 260;
  const ml = 58, mr = 16, mt = 12, mb = 40;
  if (!points.length)
    return h('div', {class: 'empty'}, opts.empty || 'Nothing to chart.');
  const cats = opts.xCats;
  let x0 = cats ? -0.5 : Math.min(...points.map((p) => p.x));
  let x1 = cats ? cats.length - 0.5 : Math.max(...points.map((p) => p.x));
  let y0 = Math.min(...points.map((p) => p.y));
  let y1 = Math.max(...points.map((p) => p.y));
  if (x1 === x0) {
    const d = Math.abs(x0) * 0.1 || 1;
    x0 -= d;
    x1 += d;
  }
  if (y1 === y0) {
    const d = Math.abs(y0) * 0.1 || 1;
    y0 -= d;
    y1 += d;
  }
  /* A little room around the points, so none sits on an axis. */
  if (!cats) {
    const dx = (x1 - x0) * 0.04;
    x0 -= dx;
    x1 += dx;
  }
  const dy = (y1 - y0) * 0.06;
  y0 -= dy;
  y1 += dy;
  const px = (x) => ml + (x - x0) / (x1 - x0) * (W - ml - mr);
  const py = (y) => mt + (1 - (y - y0) / (y1 - y0)) * (H - mt - mb);
  const xFmt = opts.xFmt || num, yFmt = opts.yFmt || num;
  const root = svg('svg', {width: W, height: H, class: 'chart scatter',
                           role: 'img', 'aria-label': opts.label || 'chart'});
  const grid = svg('g', {class: 'grid'}), axis = svg('g', {class: 'axis'});
  for (const v of ticks(y0, y1, 4)) {
    grid.append(svg('line', {x1: ml, x2: W - mr, y1: py(v), y2: py(v)}));
    axis.append(svg('text', {x: ml - 8, y: py(v) + 4, 'text-anchor': 'end'},
                    yFmt(v)));
  }
  /* Categories: every one named while they fit, else every k-th. */
  const xt = cats ? cats.map((c, i) => i)
                      .filter((i, _, a) => i % Math.max(1, Math.ceil(
                        a.length / Math.max(1, (W - ml - mr) / 60))) === 0)
                  : ticks(x0, x1, Math.max(2, Math.floor((W - ml - mr) / 80)));
  for (const v of xt)
    axis.append(svg('text', {x: px(v), y: H - mb + 16, 'text-anchor': 'middle'},
                    cats ? String(cats[v]).slice(0, 12) : xFmt(v)));
  axis.append(svg('line', {x1: ml, x2: W - mr, y1: H - mb, y2: H - mb}));
  if (opts.xLabel)
    axis.append(svg('text', {class: 'axis-name', x: ml + (W - ml - mr) / 2,
                             y: H - 4, 'text-anchor': 'middle'},
                    opts.xLabel));
  root.append(grid, axis);
  for (const p of points) {
    const dot = svg('circle', {class: 'pt', cx: px(p.x).toFixed(1),
                               cy: py(p.y).toFixed(1), r: 4.5,
                               fill: PALETTE[0], 'fill-opacity': 0.7},
                    svg('title', null, p.tip || yFmt(p.y)));
    root.append(p.href ? svg('a', {href: p.href}, dot) : dot);
  }
  return h('div', {class: 'graph'}, root);
}
