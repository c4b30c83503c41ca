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

export function overviewView(el) {
  return makeView(el, async () => {
    const [pl, runs] = await Promise.all([get('pipelines'),
                                          get('runs?limit=15')]);
    const ps = pl.pipelines;
    const active = ps.reduce((n, p) => n + p.active, 0);
    const queued = ps.reduce((n, p) => n + p.queued, 0);
    document.title = 'Pipelines · kiln';
    fill(el,
      pageHead(null, 'Pipelines',
               ps.length + ' loaded · ' + active + ' running · ' + queued +
               ' queued'),
      ps.length ? h('div', {class: 'pipes'}, ps.map(pipeRow))
                : h('div', {class: 'panel empty'}, 'No pipelines loaded.'),
      h('div', {style: 'height:16px'}),
      panel('Latest runs', h('a', {href: '#/runs', class: 'small'}, 'All runs ›'),
            runsTable(runs.runs, true)));
  }, {
    onEvent(type) {
      if (type === 'run')
        view.soon(250);
    },
  });
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
