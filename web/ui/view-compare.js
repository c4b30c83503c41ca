/*
 * view-compare.js: #/compare?runs=1,2,3 or #/compare?pipeline=P&last=N,
 * runs side by side (GET /api/v1/compare): a table of the params and
 * metrics that differ (or all of them), sorted by any column and paged
 * by the server, exported as CSV, and a scatter chart of one metric
 * against one param. &limit= in the URL sets the rows of a page (100).
 */
import {fill, h} from './dom.js';
import {enc, fmtTime, num, pipeHref, runHref} from './format.js';
import {get} from './api.js';
import {makeView} from './view.js';
import {badge, errorBox, pageHead, panel, toast} from './widgets.js';
import {chartWidth, scatterChart} from './charts.js';

/* The rows of a CSV line: quoted when they hold a comma, a quote or a
 * line break. */
function csvLine(cells) {
  return cells.map((c) => {
    const s = c == null ? '' : String(c);
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }).join(',') + '\r\n';
}

const isNum = (s) => s != null && s !== '' && Number.isFinite(Number(s));

export function compareView(el, query) {
  const runs = query.get('runs') || '';
  const items = query.get('items') || '';   /* RUN:STEP, a sweep's items */
  const pipeline = query.get('pipeline') || '';
  const last = query.get('last') || '';
  const PAGE = Math.min(1000, Math.max(1, +query.get('limit') || 100));
  const state = {sort: query.get('sort') || '', all: query.get('all') === '1',
                 offset: 0, x: '', y: ''};
  /* The chart's rows (one fetch of up to 1,000), kept until all changes;
   * its panel, kept while the rows, axes and width stay (sorting and
   * paging the table redraw only the table). */
  let chart = null, chartKey = '', chartEl = null, chartElKey = '';

  function base() {
    const q = items ? 'items=' + enc(items)
            : runs ? 'runs=' + enc(runs)
                   : 'pipeline=' + enc(pipeline) + (last ? '&last=' + enc(last)
                                                         : '');
    return q + (state.all ? '&all=1' : '');
  }

  function pageQuery(offset, limit) {
    return 'compare?' + base() + (state.sort ? '&sort=' + enc(state.sort) : '') +
           '&offset=' + offset + '&limit=' + limit;
  }

  /* The view's own URL, so a reload or a link keeps sort and all. */
  function remember() {
    const q = items ? 'items=' + enc(items)
            : runs ? 'runs=' + runs
                   : 'pipeline=' + enc(pipeline) + (last ? '&last=' + last : '');
    history.replaceState(null, '', '#/compare?' + q +
                         (state.sort ? '&sort=' + enc(state.sort) : '') +
                         (state.all ? '&all=1' : '') +
                         (PAGE !== 100 ? '&limit=' + PAGE : ''));
  }

  const v = makeView(el, async () => {
    if (!runs && !pipeline && !items) {
      fill(el, pageHead(null, 'Compare runs', null),
           errorBox('Choose runs on a pipeline\'s page (Compare), or open ' +
                    '#/compare?runs=1,2,3 or #/compare?pipeline=P&last=N.'));
      return;
    }
    const key = base();
    const [page, all] = await Promise.all([
      get(pageQuery(state.offset, PAGE)),
      key === chartKey ? chart : get('compare?' + key + '&limit=1000')]);
    chart = all;
    chartKey = key;
    render(page);
  }, {
    onEvent(type, d) {
      /* A run of these that ends changes its metrics. */
      if (type === 'run' && d.status && d.status !== 'running' &&
          (pipeline ? d.pipeline === pipeline
           : items ? items.split(':')[0] === String(d.run_id)
                   : runs.split(',').includes(String(d.run_id)))) {
        chartKey = '';
        v.soon(800);
      }
    },
  });

  function setSort(k) {
    const [cur, dir] = state.sort.split(':');
    /* Best (highest) first, then lowest first. */
    state.sort = cur === k && dir !== 'asc' ? k + ':asc' : k;
    state.offset = 0;
    remember();
    v.refresh();
  }

  function th(label, k, title, cls) {
    const [cur, dir] = state.sort.split(':');
    const on = cur === k;
    return h('th', {class: 'sortable' + (cls ? ' ' + cls : '') + (on ? ' on' : ''),
                    'data-sort': k, title: title + ' (click to sort)',
                    'aria-sort': on ? (dir === 'asc' ? 'ascending'
                                                     : 'descending') : null},
             h('button', {type: 'button', onclick: () => setSort(k)}, label,
               h('span', {class: 'arrow'}, on ? (dir === 'asc' ? ' ▲' : ' ▼')
                                               : '')));
  }

  function table(page) {
    const cur = state.sort.split(':')[0];
    const on = (k) => k === cur ? ' on' : '';
    if (!page.rows.length)
      return h('div', {class: 'empty'}, 'No runs to compare.');
    return h('table', {class: 't compact compare'},
      h('thead', null,
        h('tr', null,
          th('Run', 'run', 'the run'), !pipeline ? h('th', null, 'Pipeline') : null,
          h('th', null, 'Status'), h('th', {class: 'created'}, 'Created'),
          page.params.map((p) => th(p, 'params.' + p, 'param ' + p, 'param')),
          page.metrics.map((m) => th(m, m, 'metric ' + m, 'num')))),
      h('tbody', null, page.rows.map((r) => h('tr', {'data-run': r.run,
                                                    'data-item': r.item || null},
        h('td', {class: r.item ? 'nowrap' : null},
          h('a', {href: runHref(r.run, r.item)},
            '#' + r.run + (r.item ? ' ' + r.item : ''))),
        !pipeline ? h('td', null, h('a', {href: pipeHref(r.pipeline)},
                                      r.pipeline)) : null,
        h('td', null, badge(r.status)),
        h('td', {class: 'nowrap created'}, fmtTime(r.created_at)),
        page.params.map((p) => h('td', {class: 'param' + (on('params.' + p)),
                                         'data-param': p},
                                 (r.params || {})[p] ?? '—')),
        page.metrics.map((m) => h('td', {class: 'num' + on(m),
                                         'data-metric': m},
                                  num((r.metrics || {})[m])))))));
  }

  function pager(page) {
    const from = page.total ? page.offset + 1 : 0;
    const to = Math.min(page.total, page.offset + page.rows.length);
    const go = (off) => {
      state.offset = off;
      v.refresh();
    };
    return h('div', {class: 'pager'},
      h('span', {class: 'small muted', 'data-range': from + '-' + to},
        from + '–' + to + ' of ' + page.total),
      h('button', {class: 'btn small', type: 'button', 'data-page': 'prev',
                   disabled: page.offset <= 0,
                   onclick: () => go(Math.max(0, page.offset - PAGE))},
        '‹ Previous'),
      h('button', {class: 'btn small', type: 'button', 'data-page': 'next',
                   disabled: page.offset + PAGE >= page.total,
                   onclick: () => go(page.offset + PAGE)}, 'Next ›'));
  }

  /* Every row (pages of 1,000, in the table's order) as a CSV file. */
  async function exportCsv(btn) {
    btn.disabled = true;
    try {
      let off = 0, first = null;
      const rows = [];
      for (;;) {
        const p = await get(pageQuery(off, 1000));
        first = first || p;
        rows.push(...p.rows);
        off += p.rows.length;
        if (!p.rows.length || off >= p.total)
          break;
      }
      let csv = csvLine(['run', ...(items ? ['item'] : []), 'pipeline',
                         'status', 'created_at', ...first.params,
                         ...first.metrics]);
      for (const r of rows)
        csv += csvLine([r.run, ...(items ? [r.item] : []), r.pipeline, r.status,
                        new Date(r.created_at).toISOString(),
                        ...first.params.map((k) => (r.params || {})[k]),
                        ...first.metrics.map((k) => (r.metrics || {})[k])]);
      const a = h('a', {href: URL.createObjectURL(new Blob([csv],
                          {type: 'text/csv'})),
                        download: 'compare-' + (pipeline || 'runs') + '.csv'});
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (e) {
      toast('Could not export: ' + e.message, 'err');
    } finally {
      btn.disabled = false;
    }
  }

  function chartOf() {
    const k = [chartKey, state.x, state.y, chartWidth()].join('\n');
    if (k !== chartElKey || !chartEl) {
      chartEl = chartPanel();
      chartElKey = [chartKey, state.x, state.y, chartWidth()].join('\n');
    }
    return chartEl;
  }

  function chartPanel() {
    const params = chart.params, metrics = chart.metrics;
    if (!params.length || !metrics.length)
      return panel('Chart', null, h('div', {class: 'empty'},
        'A chart needs a param and a metric that ' +
        (state.all ? 'the runs have.' : 'differ between the runs.')));
    if (!params.includes(state.x))
      state.x = params.find((p) => chart.rows.every((r) =>
        !r.params || r.params[p] == null || isNum(r.params[p]))) || params[0];
    /* The metric sorted by, else the first. */
    if (!metrics.includes(state.y))
      state.y = metrics.includes(state.sort.split(':')[0])
          ? state.sort.split(':')[0] : metrics[0];
    const rows = chart.rows.filter((r) => r.params && r.params[state.x] != null &&
                                          typeof (r.metrics || {})[state.y] ===
                                          'number');
    const numeric = rows.every((r) => isNum(r.params[state.x]));
    const cats = numeric ? null
        : [...new Set(rows.map((r) => String(r.params[state.x])))].sort();
    const points = rows.map((r) => ({
      x: numeric ? Number(r.params[state.x]) : cats.indexOf(String(r.params[state.x])),
      y: r.metrics[state.y], href: runHref(r.run),
      tip: 'run #' + r.run + ': ' + state.x + '=' + r.params[state.x] + ', ' +
           state.y + ' = ' + num(r.metrics[state.y])}));
    const pick = (label, list, cur, set) => h('label', {class: 'small'}, label,
      ' ', h('select', {'data-axis': label, onchange: (e) => {
        set(e.target.value);
        v.refresh();
      }}, list.map((k) => h('option', {value: k, selected: k === cur}, k))));
    return panel('Chart', h('div', {class: 'axes'},
        pick('y', metrics, state.y, (k) => { state.y = k; }),
        pick('x', params, state.x, (k) => { state.x = k; })),
      h('div', {style: 'padding:0 18px 14px'},
        h('div', {class: 'small muted'}, state.y + ' against ' + state.x +
          (numeric ? '' : ' (not numeric: its values evenly spaced)') +
          ', ' + points.length + ' runs' +
          (chart.total > chart.rows.length ? ' (the first ' +
           chart.rows.length + ' of ' + chart.total + ')' : '')),
        scatterChart(points, {width: Math.min(900, chartWidth()), height: 280,
                              xCats: cats, xLabel: state.x,
                              label: state.y + ' against ' + state.x,
                              empty: 'No run has both ' + state.x + ' and ' +
                                     state.y + '.'})));
  }

  function render(page) {
    document.title = 'Compare · kiln';
    const what = items ? 'the items of ' + items.split(':').slice(1).join(':') +
                         ' in run #' + items.split(':')[0]
               : runs ? runs.split(',').length + ' runs'
                      : 'the latest ' + (last || 20) + ' runs of ' + pipeline;
    const exportBtn = h('button', {class: 'btn small', type: 'button',
                                   'data-export': 'csv',
                                   onclick: () => exportCsv(exportBtn)},
                        'Export CSV');
    fill(el,
      pageHead([h('a', {href: '#/'}, 'Pipelines'), ' / ',
                pipeline ? [h('a', {href: pipeHref(pipeline)}, pipeline), ' / ']
                         : null],
               items ? 'Compare items' : 'Compare runs',
               what + ': ' + page.total + ' compared, ' +
               (state.all ? 'every param and metric'
                          : 'the params and metrics that differ')),
      panel(state.all ? 'All params and metrics' : 'What differs',
        h('div', {class: 'compare-tools'},
          h('label', {class: 'small nowrap'},
            h('input', {type: 'checkbox', 'data-all': '', checked: state.all,
                        onchange: (e) => {
                          state.all = e.target.checked;
                          state.offset = 0;
                          remember();
                          v.refresh();
                        }}), ' show all'),
          exportBtn),
        !page.params.length && !page.metrics.length && page.rows.length > 1 &&
        !state.all ? h('div', {class: 'empty'}, 'These runs have the same ' +
                       'params and metrics.') : null,
        h('div', {class: 'scroll-x'}, table(page)),
        page.total > PAGE ? pager(page) : null),
      h('div', {style: 'height:16px'}),
      chartOf());
  }

  return v;
}
