/*
 * dag.js: graphs (a run's steps, a pipeline's DAG, an artifact's lineage)
 * laid out in layers and drawn as SVG.
 */
import {h, svg} from './dom.js';

/* Layered graph layout for DAGs and lineage.
 *
 * Ranks are longest paths from the sources (a source sits one rank
 * before its first consumer), an edge spanning ranks gets dummy nodes so
 * that it bends around the nodes in between, and a few barycentre sweeps
 * order each rank to cut crossings. Left to right when it fits in
 * maxWidth, else top to bottom. */
function layout(ids, edges, o) {
  const succ = new Map(ids.map((id) => [id, []]));
  const pred = new Map(ids.map((id) => [id, []]));
  const seen = new Set();
  for (const [a, b] of edges) {
    if (!succ.has(a) || !succ.has(b) || a === b || seen.has(a + '\n' + b))
      continue;
    seen.add(a + '\n' + b);
    succ.get(a).push(b);
    pred.get(b).push(a);
  }
  /* Ranks, in topological order (a cycle's nodes stay at rank 0). */
  const indeg = new Map(ids.map((id) => [id, pred.get(id).length]));
  const rank = new Map(), order = ids.filter((id) => !indeg.get(id));
  order.forEach((id) => rank.set(id, 0));
  for (let i = 0; i < order.length; i++) {
    for (const b of succ.get(order[i])) {
      rank.set(b, Math.max(rank.get(b) || 0, rank.get(order[i]) + 1));
      indeg.set(b, indeg.get(b) - 1);
      if (!indeg.get(b))
        order.push(b);
    }
  }
  ids.forEach((id) => rank.has(id) || rank.set(id, 0));
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i], s = succ.get(id);
    if (!pred.get(id).length && s.length)
      rank.set(id, Math.min(...s.map((b) => rank.get(b))) - 1);
  }
  /* Dummies on long edges. */
  const nrank = Math.max(0, ...rank.values()) + 1;
  const layers = Array.from({length: nrank}, () => []);
  const nodes = new Map();
  for (const id of ids) {
    nodes.set(id, {id, rank: rank.get(id), dummy: false, up: [], down: []});
    layers[rank.get(id)].push(id);
  }
  const chains = [];
  for (const [a, list] of succ) {
    for (const b of list) {
      const chain = [a];
      for (let r = rank.get(a) + 1; r < rank.get(b); r++) {
        const d = '\u0000' + a + '\u0000' + b + '\u0000' + r;
        nodes.set(d, {id: d, rank: r, dummy: true, up: [], down: []});
        layers[r].push(d);
        chain.push(d);
      }
      chain.push(b);
      for (let i = 0; i + 1 < chain.length; i++) {
        nodes.get(chain[i]).down.push(chain[i + 1]);
        nodes.get(chain[i + 1]).up.push(chain[i]);
      }
      chains.push({from: a, to: b, via: chain});
    }
  }
  /* Barycentre sweeps. */
  const pos = new Map();
  const index = () => layers.forEach((l) => l.forEach((id, i) => pos.set(id, i)));
  index();
  const sweep = (r, dir) => {
    const bc = new Map(layers[r].map((id) => {
      const nb = nodes.get(id)[dir];
      return [id, nb.length ? nb.reduce((s, x) => s + pos.get(x), 0) / nb.length
                            : pos.get(id)];
    }));
    layers[r].sort((a, b) => bc.get(a) - bc.get(b));
    layers[r].forEach((id, i) => pos.set(id, i));
  };
  for (let it = 0; it < 4; it++) {
    for (let r = 1; r < nrank; r++)
      sweep(r, 'up');
    for (let r = nrank - 2; r >= 0; r--)
      sweep(r, 'down');
  }
  /* Coordinates: rank along the main axis, order across it. */
  const gapDummy = 14;
  const across = (id) => nodes.get(id).dummy ? gapDummy : (o.lr ? o.h : o.w);
  const acrossGap = o.lr ? o.gapY : o.gapX;
  const along = o.lr ? o.w + o.gapX : o.h + o.gapY;
  const extent = layers.map((l) => l.reduce((s, id) => s + across(id), 0) +
                                   Math.max(0, l.length - 1) * acrossGap);
  let span = Math.max(0, ...extent);
  /* Start with each rank centred, then move nodes toward the middle of
   * their neighbours, keeping their order and the gaps: a pass places a
   * rank twice (packed down from the top, packed up from the bottom) and
   * takes the mean, which keeps the gaps too. */
  const at = new Map();
  layers.forEach((l, r) => {
    let c = (span - extent[r]) / 2;
    for (const id of l) {
      at.set(id, c);
      c += across(id) + acrossGap;
    }
  });
  const centre = (id) => at.get(id) + across(id) / 2;
  const place = (l, dir) => {
    const want = l.map((id) => {
      const nb = nodes.get(id)[dir];
      return nb.length ? nb.reduce((s, x) => s + centre(x), 0) / nb.length -
                         across(id) / 2
                       : at.get(id);
    });
    const down = want.slice(), up = want.slice();
    for (let i = 1; i < l.length; i++)
      down[i] = Math.max(want[i], down[i - 1] + across(l[i - 1]) + acrossGap);
    for (let i = l.length - 2; i >= 0; i--)
      up[i] = Math.min(want[i], up[i + 1] - across(l[i]) - acrossGap);
    l.forEach((id, i) => at.set(id, (down[i] + up[i]) / 2));
  };
  for (let it = 0; it < 3; it++) {
    for (let r = 1; r < nrank; r++)
      place(layers[r], 'up');
    for (let r = nrank - 2; r >= 0; r--)
      place(layers[r], 'down');
  }
  let lo = Infinity, hi = -Infinity;
  for (const [id, c] of at) {
    lo = Math.min(lo, c);
    hi = Math.max(hi, c + across(id));
  }
  span = at.size ? hi - lo : 0;
  const xy = new Map();
  layers.forEach((l, r) => {
    for (const id of l) {
      const c = at.get(id) - lo, a = across(id);
      xy.set(id, o.lr ? {x: r * along, y: c, w: o.w, h: a}
                      : {x: c, y: r * along, w: a, h: o.h});
    }
  });
  const width = o.lr ? nrank * along - o.gapX : span;
  const height = o.lr ? span : nrank * along - o.gapY;
  /* Each edge as points with tangents along the main axis. */
  const paths = chains.map((c) => {
    const pts = [];
    c.via.forEach((id, i) => {
      const b = xy.get(id), dummy = nodes.get(id).dummy;
      const mid = o.lr ? b.y + b.h / 2 : b.x + b.w / 2;
      const start = o.lr ? b.x : b.y, end = o.lr ? b.x + b.w : b.y + b.h;
      if (i > 0)
        pts.push(o.lr ? [start, mid] : [mid, start]);
      if (i < c.via.length - 1 || dummy)
        pts.push(o.lr ? [end, mid] : [mid, end]);
    });
    return {from: c.from, to: c.to, pts};
  });
  return {xy, width, height, paths};
}

/* A path through points, curving between ranks. */
function edgePath(pts, lr) {
  let d = 'M' + pts[0][0] + ',' + pts[0][1];
  for (let i = 1; i < pts.length; i++) {
    const [x0, y0] = pts[i - 1], [x1, y1] = pts[i];
    if (i % 2 === 0) {
      d += ' L' + x1 + ',' + y1;   /* across a dummy */
      continue;
    }
    if (lr) {
      const m = (x0 + x1) / 2;
      d += ' C' + m + ',' + y0 + ' ' + m + ',' + y1 + ' ' + x1 + ',' + y1;
    } else {
      const m = (y0 + y1) / 2;
      d += ' C' + x0 + ',' + m + ' ' + x1 + ',' + m + ' ' + x1 + ',' + y1;
    }
  }
  return d;
}

export function clip(s, px, charPx) {
  const n = Math.max(4, Math.floor(px / charPx));
  s = String(s);
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

/* A sweep's item, train[lr=0.1,depth=3], too long for its box: its
 * values only, train[0.1,3] (the tooltip has the whole name). */
function itemTitle(s, px, charPx) {
  const m = /^([^[]+)\[(.*=.*)\]$/.exec(String(s));
  if (!m || String(s).length <= Math.floor(px / charPx))
    return s;
  return m[1] + '[' + m[2].split(',').map((kv) => kv.replace(/^[^=]*=/, ''))
                          .join(',') + ']';
}

let graphSeq = 0;

/* Draw nodes [{id, title, sub, cls, pill, tip, href, onclick, attrs}] and
 * edges [[from, to]] as an SVG graph. */
export function drawGraph(list, edges, opts) {
  const o = Object.assign({w: 178, h: 50, gapX: 54, gapY: 16,
                           maxWidth: 1100}, opts || {});
  if (!list.length)
    return h('div', {class: 'empty'}, o.empty || 'Nothing to draw.');
  const ids = list.map((n) => n.id);
  let L = layout(ids, edges, Object.assign({}, o, {lr: true}));
  if (L.width > o.maxWidth) {
    /* Narrower nodes, closer together, before turning the graph. */
    const narrow = layout(ids, edges, Object.assign({}, o, {lr: true, w: 148,
                                                            gapX: 34}));
    if (narrow.width <= o.maxWidth)
      L = narrow;
  }
  if (L.width > o.maxWidth) {
    const tb = layout(ids, edges, Object.assign({}, o, {lr: false,
                                                        gapY: 34, gapX: 20}));
    if (tb.width <= o.maxWidth || tb.width < L.width) {
      L = tb;
      L.lr = false;
    }
    if (L.width > o.maxWidth) { /* a wide rank: a sweep's items */
      const tbn = layout(ids, edges, Object.assign({}, o, {lr: false, w: 148,
                                                           gapY: 34,
                                                           gapX: 12}));
      if (tbn.width < L.width) {
        L = tbn;
        L.lr = false;
      }
    }
  }
  const lr = L.lr !== false;
  const m = 6, id = 'arrow' + (++graphSeq);
  const byId = new Map(list.map((n) => [n.id, n]));
  const root = svg('svg', {width: L.width + 2 * m, height: L.height + 2 * m,
                           viewBox: -m + ' ' + -m + ' ' + (L.width + 2 * m) +
                                    ' ' + (L.height + 2 * m),
                           class: 'dag', role: 'img',
                           'aria-label': opts && opts.label || 'graph'},
    svg('defs', null,
      svg('marker', {id, viewBox: '0 0 10 10', refX: 9, refY: 5,
                     markerWidth: 7, markerHeight: 7, orient: 'auto'},
        svg('path', {d: 'M0,1 L10,5 L0,9 z', fill: '#9aa4ae'}))));
  for (const p of L.paths) {
    const live = opts && opts.liveEdge && opts.liveEdge(p.from, p.to);
    root.append(svg('path', {class: 'edge' + (live ? ' live' : ''),
                             d: edgePath(p.pts, lr),
                             'marker-end': 'url(#' + id + ')',
                             'data-from': p.from, 'data-to': p.to}));
  }
  for (const [nid, b] of L.xy) {
    const n = byId.get(nid);
    if (!n)
      continue;
    const g = svg('g', Object.assign({class: 'node ' + (n.cls || ''),
                                      transform: 'translate(' + b.x + ',' +
                                                 b.y + ')',
                                      tabindex: 0}, n.attrs || {}),
      svg('title', null, n.tip || n.title),
      svg('rect', {class: 'box', width: b.w, height: b.h, rx: 7}),
      svg('rect', {class: 'stripe', x: 0, y: 0, width: 4, height: b.h,
                   rx: 2}),
      svg('text', {class: 'n', x: 14, y: n.sub ? 21 : b.h / 2 + 5},
          clip(itemTitle(n.title, b.w - (n.pill ? 72 : 24), 7.6),
               b.w - (n.pill ? 72 : 24), 7.6)),
      n.sub ? svg('text', {class: 'd', x: 14, y: 38},
                  clip(n.sub, b.w - 22, 6.4)) : null);
    if (n.pill) {
      const pw = n.pill.length * 6.4 + 12;
      g.append(svg('rect', {class: 'pill', x: b.w - pw - 6, y: 7, width: pw,
                            height: 15, rx: 7.5}),
               svg('text', {class: 'pill-t', x: b.w - pw / 2 - 6, y: 18,
                            'text-anchor': 'middle'}, n.pill));
    }
    if (n.onclick) {
      g.addEventListener('click', n.onclick);
      g.addEventListener('keydown', (e) => {
        if (e.key === 'Enter')
          n.onclick(e);
      });
    } else if (n.href) {
      g.addEventListener('click', () => { location.hash = n.href; });
    }
    root.append(g);
  }
  return h('div', {class: 'graph'}, root);
}

export function legend(items) {
  return h('div', {class: 'legend'}, items.map(([cls, label]) =>
    h('span', null, h('i', {class: 'lg-' + cls,
                            style: legendStyle[cls] || ''}), label)));
}

const legendStyle = {
  succeeded: 'background:#f0fdf4;border-color:#4ac26b',
  running: 'background:#eff6ff;border-color:#60a5fa',
  failed: 'background:#fff5f5;border-color:#f08c8c',
  timed_out: 'background:#fff5f5;border-color:#f08c8c;border-style:dotted',
  retrying: 'background:#fffbeb;border-color:#f5b041',
  cached: 'background:#ecfeff;border-color:#22b8cf',
  gated: 'background:#faf5ff;border-color:#a78bfa;border-style:dashed',
  skipped: 'background:#fafbfc;border-color:#c4cad0;border-style:dashed',
  pending: 'background:#fff;border-color:#c4cad0',
  cancelled: 'background:#f6f8fa;border-color:#afb8c1',
};
