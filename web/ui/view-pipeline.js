/*
 * view-pipeline.js: #/pipelines/NAME, a pipeline: its DAG and definition,
 * its runs (chosen ones, or the latest N, compared), a metric's trend
 * across runs, drift statistics and the
 * latest trigger checks.
 */
import {fill, h} from './dom.js';
import {enc, fmtTime, num, pad, period, pipeHref, runHref}
  from './format.js';
import {HttpError, get} from './api.js';
import {makeView} from './view.js';
import {agoEl, badge, kv, pageHead, panel} from './widgets.js';
import {pager, runsTable, scheduleEl, stepPill, stepState, triggerChips,
        triggerTarget} from './runs.js';
import {paramsButton, runNowButton} from './actions.js';
import {drawGraph} from './dag.js';
import {loadErrors} from './view-overview.js';
import {chartWidth, lineChart, ticks} from './charts.js';

export function pipelineView(el, query, name) {
  name = decodeURIComponent(name);
  const state = {stack: [], before: 0, metric: query.get('metric') || '',
                 stat: '', target: '', pick: new Set(), last: 20};
  const v = makeView(el, async () => {
    const rq = 'runs?limit=15&pipeline=' + enc(name) +
               (state.before ? '&before=' + state.before : '');
    /* A pipeline no longer loaded still has its history. */
    const [p, page, series] = await Promise.all([
      get('pipelines/' + enc(name)).catch((e) => {
        if (e.status === 404)
          return null;
        throw e;
      }), get(rq), get('metrics/' + enc(name) + '?runs=200')]);
    if (!p && !page.runs.length)
      throw new HttpError(404, 'No pipeline "' + name + '" is loaded, ' +
                          'and it has no runs.');
    let last = null;
    const newest = state.before ? null : page.runs[0];
    if (newest)
      last = await get('runs/' + newest.id);
    render(p, page, series.series, last);
  }, {
    onEvent(type, d) {
      if (d.pipeline === name || type === 'pipelines')
        v.soon(400);
    },
  });

  function render(p, page, series, last) {
    document.title = name + ' · kiln';
    fill(el,
      pageHead([h('a', {href: '#/'}, 'Pipelines'), ' / '], name,
               p ? p.description || null
                 : 'Not loaded in this kiln serve: its history only.',
               p ? [paramsButton(p), runNowButton(p.name)] : null),
      p ? loadErrors([p]) : null,
      !p ? null : h('div', {class: 'grid2'},
        panel('Steps', last ? h('span', {class: 'small muted'},
                                'coloured by ', h('a', {href: runHref(last.id)},
                                                  'run #' + last.id)) : null,
              pipelineDag(p, last)),
        h('section', {class: 'panel'}, h('h2', null, 'Definition'), about(p))),
      h('div', {style: 'height:16px'}),
      panel('Runs', [compareTools(), h('a', {class: 'small',
                            href: '#/runs?pipeline=' + enc(name)}, 'filter ›')],
            runsTable(page.runs, false, state.pick, syncPick),
            pager(state, page.next_before, () => v.refresh())),
      h('div', {class: 'grid2 even'},
        trendPanel(series, chartWidth(0.5)),
        p ? driftPanel(p, chartWidth(0.5)) : null),
      h('div', {style: 'height:16px'}),
      p ? checksPanel(p) : null);
    syncPick();
  }

  /* Compare: the runs chosen in the table (kept across its pages), or
   * the latest N. */
  function compareTools() {
    const n = h('input', {type: 'number', min: 2, max: 1000, value: state.last,
                          'aria-label': 'how many of the latest runs',
                          'data-compare-last': '', class: 'last-n',
                          onchange: (e) => { state.last = +e.target.value || 20; }});
    return h('div', {class: 'compare-tools'},
      h('button', {class: 'btn small', type: 'button', 'data-compare': '',
                   title: 'Compare the runs chosen in the table',
                   onclick: () => {
                     location.hash = '#/compare?runs=' +
                       [...state.pick].sort((a, b) => a - b).join(',');
                   }}, 'Compare'),
      h('span', {class: 'small muted nowrap'}, 'or the latest ', n,
        ' ', h('a', {href: '#', 'data-compare-latest': '', onclick: (e) => {
          e.preventDefault();
          location.hash = '#/compare?pipeline=' + enc(name) + '&last=' +
                          Math.max(2, Math.min(1000, +n.value || 20));
        }}, 'compare ›')));
  }

  function syncPick() {
    const b = el.querySelector('button[data-compare]');
    if (b) {
      b.disabled = state.pick.size < 2;
      b.textContent = 'Compare' + (state.pick.size ? ' ' + state.pick.size
                                                    : '');
    }
  }

  function pipelineDag(p, last) {
    const st = new Map(last ? last.steps.map((s) => [s.name, s]) : []);
    const nodes = p.dag.nodes.map((n) => {
      const s = st.get(n.name);
      const state = s ? stepState(s) : 'pending';
      return {
        id: n.name, title: n.name,
        sub: n.kind + (n.when ? ' · gated' : '') +
             (n.executor && n.executor !== 'local' ? ' · ' + n.executor : ''),
        cls: 'n-' + state, pill: s ? stepPill(s) : null,
        tip: n.name + ' (' + n.kind + ', ' + n.executor + ')' +
             (n.when ? '\nwhen: ' + n.when : '') +
             (n.run ? '\n\n' + n.run : ''),
        attrs: {'data-step': n.name},
        onclick: last ? () => { location.hash = runHref(last.id, n.name); }
                      : null,
      };
    });
    return drawGraph(nodes, p.dag.edges, {maxWidth: chartWidth(1.6 / 2.6),
                                          label: 'steps of ' + p.name});
  }

  function about(p) {
    const s = p.schedule, params = Object.entries(p.params || {});
    return kv([
      ['File', h('code', null, p.file)],
      ['Steps', String(p.steps)],
      ['Schedule', scheduleEl(p)],
      ['Concurrency', s.concurrency + ', at most ' + s.max_active_runs +
                      ' active'],
      ['Now', p.active + ' running, ' + p.queued + ' queued'],
      ['Cooldown', p.cooldown_ms ? period(p.cooldown_ms) : null],
      ['Params', params.length ? h('div', {class: 'chips'}, params.map(([k, val]) =>
        h('span', {class: 'chip'}, k + '=' + val))) : null],
      ['Triggers', p.triggers.length ? h('div', null, triggerChips(p),
        h('ul', {class: 'small muted', style: 'margin:6px 0 0;padding-left:18px'},
          p.triggers.map((t) => h('li', null, t.kind + ' on ',
                                  h('code', null, triggerTarget(t)),
                                  ', every ' + period(t.every_ms) +
                                  (t.threshold != null
                                      ? ', ' + t.method + ' > ' + t.threshold
                                      : ''))))) : null],
    ]);
  }

  function trendPanel(series, width) {
    const keys = [...new Set(series.map((r) => r.step + '.' + r.key))].sort();
    if (!keys.includes(state.metric))
      state.metric = keys[0] || '';
    const picker = keys.length
        ? h('select', {'aria-label': 'metric', 'data-metric-picker': '',
                       onchange: (e) => {
                         state.metric = e.target.value;
                         history.replaceState(null, '', pipeHref(name) +
                                              '?metric=' + enc(state.metric));
                         v.refresh();
                       }},
            keys.map((k) => h('option', {value: k, selected: k === state.metric},
                              k)))
        : null;
    const rows = series.filter((r) => r.step + '.' + r.key === state.metric)
                       .sort((a, b) => a.run_id - b.run_id);
    const vals = rows.map((r) => r.value);
    const stats = rows.length ? h('div', {class: 'stats'},
      h('div', null, h('span', null, 'latest'), h('b', null, num(vals[vals.length - 1]))),
      rows.length > 1 ? h('div', null, h('span', null, 'change'),
        h('b', null, (vals[vals.length - 1] - vals[vals.length - 2] >= 0 ? '+' : '') +
                     num(vals[vals.length - 1] - vals[vals.length - 2]))) : null,
      h('div', null, h('span', null, 'min'), h('b', null, num(Math.min(...vals)))),
      h('div', null, h('span', null, 'max'), h('b', null, num(Math.max(...vals)))),
      h('div', null, h('span', null, 'runs'), h('b', null, String(rows.length))))
        : null;
    return panel('Metric trend', picker, h('div', {style: 'padding:0 18px 14px'},
      keys.length ? [stats, lineChart([{name: state.metric, points: rows.map((r) => ({
        x: r.run_id, y: r.value, href: runHref(r.run_id),
        tip: state.metric + ' = ' + num(r.value) + ' in run #' + r.run_id +
             ' (' + fmtTime(r.created_at) + ')'}))}],
        {width, height: 220, label: 'trend of ' + state.metric,
         xFmt: (x) => '#' + x,
         xTicks: (a, b) => ticks(a, b, 6).filter(Number.isInteger)})]
      : h('div', {class: 'empty'}, 'No metrics recorded yet. Steps write ' +
          'them to $KILN_METRICS.')));
  }

  function driftPanel(p, width) {
    const checks = (p.recent_checks || []).filter((c) =>
      c.trigger === 'drift' && c.detail && Array.isArray(c.detail.columns));
    if (!p.triggers.some((t) => t.kind === 'drift'))
      return panel('Drift', null, h('div', {class: 'empty'},
                   'No drift trigger on this pipeline.'));
    if (!checks.length)
      return panel('Drift', null, h('div', {class: 'empty'},
                   'No drift checks recorded yet.'));
    const targets = [...new Set(checks.map((c) => c.target))];
    if (!targets.includes(state.target))
      state.target = targets[0];
    const mine = checks.filter((c) => c.target === state.target)
                       .sort((a, b) => a.checked_at - b.checked_at);
    const latest = mine[mine.length - 1];
    const method = latest.detail.method || 'psi';
    const stats = ['psi', 'js', 'ks', 'wasserstein'];
    if (!stats.includes(state.stat))
      state.stat = stats.includes(method) ? method : 'psi';
    const cols = [...new Set(mine.flatMap((c) => c.detail.columns.map((x) => x.name)))];
    const series = cols.map((col) => ({name: col, points: mine.flatMap((c) => {
      const x = c.detail.columns.find((k) => k.name === col);
      return x && typeof x[state.stat] === 'number'
          ? [{x: c.checked_at, y: x[state.stat],
              tip: col + ' ' + state.stat + ' = ' + num(x[state.stat]) +
                   ' at ' + fmtTime(c.checked_at) + ' (' + c.status + ')',
              href: c.run_id ? runHref(c.run_id) : null}] : [];
    })})).filter((s) => s.points.length);
    const statPick = h('div', {class: 'seg'}, stats.map((s) =>
      h('button', {type: 'button', class: s === state.stat ? 'on' : null,
                   onclick: () => {
                     state.stat = s;
                     v.refresh();
                   }}, s)));
    const span = mine.length > 1 ? latest.checked_at - mine[0].checked_at : 0;
    const timeFmt = (t) => {
      const d = new Date(t);
      return span > 86400e3 ? (d.getMonth() + 1) + '/' + d.getDate()
                            : pad(d.getHours()) + ':' + pad(d.getMinutes()) +
                              (span < 600e3 ? ':' + pad(d.getSeconds()) : '');
    };
    return panel('Drift', statPick, h('div', {style: 'padding:0 18px 14px'},
      targets.length > 1 ? h('select', {onchange: (e) => {
        state.target = e.target.value;
        v.refresh();
      }}, targets.map((t) => h('option', {value: t, selected: t === state.target}, t)))
        : h('div', {class: 'small muted'}, h('code', null, state.target),
            ' · last ' + mine.length + ' checks · ', badge(latest.status)),
      lineChart(series, {width, height: 200, key: true, zero: true,
                         label: 'drift ' + state.stat,
                         threshold: state.stat === method
                             ? latest.detail.threshold : null,
                         xFmt: timeFmt,
                         empty: 'No ' + state.stat + ' values (categorical columns have no ks or wasserstein).'}),
      h('h3', {style: 'margin-top:12px'}, 'Latest check, ',
        agoEl(latest.checked_at)),
      h('div', {class: 'scroll-x'}, h('table', {class: 't compact drift'},
        h('thead', null, h('tr', null, h('th', null, 'Column'),
          stats.map((s) => h('th', {class: 'num'}, s === 'wasserstein'
                                                   ? 'wass.' : s)),
          h('th', null, ''))),
        h('tbody', null, latest.detail.columns.map((c) =>
          h('tr', {class: c.drift ? 'hot' : null, 'data-column': c.name},
            h('td', null, c.name, ' ', h('span', {class: 'small muted'},
                                          c.type)),
            stats.map((s) => h('td', {class: 'num',
                                      title: s === 'ks' && c.ks_pvalue != null
                                          ? 'p = ' + num(c.ks_pvalue) : null},
                               num(c[s]))),
            h('td', null, c.drift ? badge('failed', 'drift')
                                  : badge('succeeded', 'ok')))))))));
  }

  /* The latest checks; a check like the one before it (same trigger,
   * outcome and reason) joins its row, counted. */
  function checksPanel(p) {
    const list = [];
    for (const c of p.recent_checks || []) {
      const prev = list[list.length - 1];
      if (prev && !c.run_id && !prev.run_id && !c.notifications &&
          !prev.notifications && prev.trigger === c.trigger &&
          prev.target === c.target && prev.status === c.status &&
          prev.reason === c.reason) {
        prev.n++;
        prev.first = c.checked_at;
      } else {
        list.push(Object.assign({n: 1, first: c.checked_at}, c));
      }
    }
    if (!list.length)
      return null;
    return panel('Trigger checks', h('span', {class: 'small muted'},
                                     'newest first'),
      h('table', {class: 't cards'},
        h('thead', null, h('tr', null, h('th', null, 'When'),
          h('th', null, 'Trigger'), h('th', null, 'Target'),
          h('th', null, 'Outcome'), h('th', null, 'Reason'),
          h('th', null, 'Run'))),
        h('tbody', null, list.slice(0, 15).map((c) => h('tr', null,
          h('td', {class: 'nowrap', 'data-label': 'When'}, agoEl(c.checked_at),
            c.n > 1 ? h('span', {class: 'small muted',
                                 title: 'since ' + fmtTime(c.first)},
                        ' · ' + c.n + ' checks') : null),
          h('td', {'data-label': 'Trigger'}, c.trigger),
          h('td', {'data-label': 'Target'}, c.target
              ? h('code', null, c.target) : null),
          h('td', {'data-label': 'Outcome'}, badge(c.status),
            (c.notifications || []).map((n) => h('div', {
              class: 'small muted alert', 'data-alert': n.status,
              title: n.attempts + ' attempt' + (n.attempts === 1 ? '' : 's')},
              'alert to ' + n.webhook + ': ', badge(n.status === 'sent'
                  ? 'succeeded' : n.status, n.status),
              n.status === 'failed' && n.error ? ' ' + n.error : ''))),
          h('td', {class: 'reason', title: c.reason || null,
                   'data-label': 'Reason'}, c.reason || ''),
          h('td', {'data-label': 'Run'}, c.run_id
              ? h('a', {href: runHref(c.run_id)}, '#' + c.run_id) : ''))))));
  }

  return v;
}
