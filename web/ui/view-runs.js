/*
 * view-runs.js: #/runs, all runs, filtered by pipeline and status, and
 * paged.
 */
import {fill, h} from './dom.js';
import {get} from './api.js';
import {makeView} from './view.js';
import {pageHead, panel} from './widgets.js';
import {pager, runsTable} from './runs.js';

export function runsView(el, query) {
  const state = {stack: [], before: 0, pipeline: query.get('pipeline') || '',
                 status: query.get('status') || ''};
  let names = null;
  const v = makeView(el, async () => {
    const q = new URLSearchParams({limit: 25});
    if (state.pipeline)
      q.set('pipeline', state.pipeline);
    if (state.status)
      q.set('status', state.status);
    if (state.before)
      q.set('before', state.before);
    const [page, pl] = await Promise.all([
      get('runs?' + q), names ? null : get('pipelines?brief=1&limit=100000')]);
    if (pl)
      names = pl.pipelines.filter((p) => p.name).map((p) => p.name);
    const change = (key) => (e) => {
      state[key] = e.target.value;
      state.stack = [];
      state.before = 0;
      v.refresh();
    };
    const pick = (key, label, options) =>
      h('select', {onchange: change(key), 'aria-label': label},
        h('option', {value: ''}, label),
        options.map((o) => h('option', {value: o, selected: o === state[key]},
                             o)));
    document.title = 'Runs · kiln';
    fill(el,
      pageHead(null, 'Runs', 'Newest first'),
      panel('Runs', h('div', {class: 'actions'},
                      pick('pipeline', 'All pipelines', names),
                      pick('status', 'Any status', ['queued', 'running',
                           'succeeded', 'failed', 'cancelled'])),
            runsTable(page.runs, true),
            pager(state, page.next_before, () => v.refresh())));
  }, {
    onEvent(type) {
      if (type === 'run')
        v.soon(300);
    },
  });
  return v;
}
