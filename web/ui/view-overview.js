/*
 * view-overview.js: #/, every pipeline (its last run, recent runs,
 * schedule, triggers and Run now), then the latest runs of all.
 */
import {fill, h} from './dom.js';
import {pipeHref, runHref} from './format.js';
import {get} from './api.js';
import {makeView, view} from './view.js';
import {agoEl, badge, pageHead, panel, runBadge} from './widgets.js';
import {marks, runsTable, scheduleEl, triggerChips} from './runs.js';
import {runNowButton} from './actions.js';

/* The pipelines shown: the first PAGE as the daemon ranks them (those
 * needing attention first), all of them once asked; a daemon with
 * thousands then answers with a page, not with every one's runs. */
const PAGE = 100;
const PAGE_MAX = 1000; /* the most the daemon describes in one answer */
let showAll = false;

/* The pipelines as the daemon ranks them: the first PAGE, or every one,
 * a page of PAGE_MAX at a time (a file ranked again between two pages
 * is shown once). */
async function ranked() {
  const q = 'pipelines?sort=concern&limit=';
  if (!showAll)
    return get(q + PAGE);
  const pl = await get(q + PAGE_MAX);
  const seen = new Set(pl.pipelines.map((p) => p.file));
  for (let next = pl.next_offset; next; ) {
    const more = await get(q + PAGE_MAX + '&offset=' + next);
    for (const p of more.pipelines)
      if (!seen.has(p.file)) {
        seen.add(p.file);
        pl.pipelines.push(p);
      }
    next = more.next_offset;
  }
  return pl;
}

export function overviewView(el) {
  return makeView(el, async () => {
    const [pl, runs] = await Promise.all([
      ranked(),
      get('runs?limit=15')]);
    /* Files that never loaded have no name: the banner has them. The
     * daemon sends the rest failed first, then running, then by name. */
    const ps = pl.pipelines.filter((p) => p.name);
    document.title = 'Pipelines · kiln';
    fill(el,
      pageHead(null, 'Pipelines',
               pl.loaded + ' loaded · ' + pl.active + ' running · ' +
               pl.queued + ' queued'),
      loadErrors(pl.pipelines),
      ps.length ? h('div', {class: 'pipes'}, ps.map(pipeRow))
                : h('div', {class: 'panel empty'}, 'No pipelines loaded.'),
      ps.length < pl.loaded
        ? h('div', {class: 'more-pipes small'},
            'Showing ' + ps.length + ' of ' + pl.loaded +
            ' pipelines, those needing attention first. ',
            h('button', {type: 'button', class: 'btn', onclick: () => {
              showAll = true;
              view.soon(0);
            }}, 'Show all ' + pl.loaded))
        : null,
      h('div', {style: 'height:16px'}),
      panel('Latest runs', h('a', {href: '#/runs', class: 'small'}, 'All runs ›'),
            runsTable(runs.runs, true)));
  }, {
    onEvent(type) {
      if (type === 'run' || type === 'pipelines')
        view.soon(250);
    },
  });
}

/* The pipeline files that did not load at the daemon's last (re)load,
 * each error as the validator says it; null when every file loaded. */
export function loadErrors(ps) {
  const broken = ps.filter((p) => p.load_errors && p.load_errors.length);
  if (!broken.length)
    return null;
  return h('div', {class: 'error-box load-errors', role: 'alert'},
    h('strong', null, broken.length === 1
        ? 'A pipeline file did not load'
        : broken.length + ' pipeline files did not load'),
    broken.map((p) => h('div', {class: 'broken', 'data-file': p.file},
      h('div', null, h('code', null, p.file), ': ',
        p.name ? ['pipeline ', h('a', {href: pipeHref(p.name)}, p.name),
                  ' keeps running its last good definition']
               : 'never loaded'),
      h('ul', null, p.load_errors.map((e) => h('li', null,
                                                h('code', null, e)))))),
    h('div', {class: 'small'}, 'Fix the file and reload kiln serve ' +
      '(SIGHUP); this goes once it loads.'));
}

function pipeRow(p) {
  const last = p.recent_runs[0];
  const label = (t) => h('div', {class: 'label'}, t);
  return h('div', {class: 'pipe st-' + (last ? last.status : 'none'),
                   'data-pipeline': p.name},
    h('div', {class: 'cell'},
      h('a', {class: 'name', href: pipeHref(p.name)}, p.name),
      h('div', {class: 'desc', title: p.description || null},
        p.description || p.steps + (p.steps === 1 ? ' step' : ' steps'))),
    h('div', {class: 'cell'}, label('Last run'),
      last ? h('div', null,
               h('a', {href: runHref(last.id), class: 'last-run'},
                 runBadge(last)), ' ',
               agoEl(last.finished_at || last.started_at || last.created_at,
                     'small muted nowrap'))
           : h('span', {class: 'muted small'}, 'never run'),
      p.active || p.queued
          ? h('div', {class: 'small muted'}, p.active + ' running, ' +
              p.queued + ' queued') : null),
    h('div', {class: 'cell'}, label('Recent runs'), marks(p.recent_runs)),
    h('div', {class: 'cell'}, label('Schedule'), scheduleEl(p)),
    h('div', {class: 'cell'}, label('Triggers'), triggerChips(p)),
    h('div', {class: 'cell actions'}, runNowButton(p.name)));
}
