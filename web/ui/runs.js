/*
 * runs.js: runs, steps and triggers as several views show them: the runs
 * table, the recent-runs marks, the pager, trigger chips, schedules and
 * a step's state.
 */
import {h} from './dom.js';
import {ago, dur, fmtTime, period, pipeHref, runHref, runTime}
  from './format.js';
import {agoEl, commitEl, runBadge} from './widgets.js';

/* Runs: a table, marks, and a pager over ?before=. */

/* What started a run, in a few words (long: with the trigger's reason). */
export function triggerText(r, long) {
  const i = r.trigger_info || {};
  const d = i.detail || {};
  if (r.trigger === 'manual' && d.user && d.user.via)
    return 'manual (' + d.user.via + ')';
  if (r.trigger === 'schedule' && i.schedule)
    return 'schedule ' + i.schedule + (long && i.due ? ', due ' + i.due : '');
  if (r.trigger === 'retry' && i.retry_of)
    return 'retry of #' + i.retry_of;
  if (r.trigger === 'reproduce' && i.reproduces)
    return (long ? 'reproduces run #' : 'reproduces #') + i.reproduces;
  if (long && i.reason)
    return r.trigger + ': ' + i.reason;
  return r.trigger || '—';
}

/* The run a run's trigger names (a retry's or a reproduction's
 * original), or 0. */
export function triggerRun(r) {
  const i = r.trigger_info || {};
  return (r.trigger === 'retry' && +i.retry_of) ||
         (r.trigger === 'reproduce' && +i.reproduces) || 0;
}

/* What started a run, linking to the run it names. */
export function triggerEl(r, long) {
  const n = triggerRun(r);
  return n ? h('a', {href: runHref(n), 'data-trigger-run': n},
               triggerText(r, long))
           : triggerText(r, long);
}

/* pick (optional): a Set of run ids chosen with a checkbox per run (to
 * compare them), and onPick() called when it changes. */
export function runsTable(runs, withPipeline, pick, onPick) {
  if (!runs.length)
    return h('div', {class: 'empty'}, 'No runs yet.');
  const git = runs.some((r) => r.git_commit);
  const box = (r) => h('td', {class: 'pick', 'data-label': ''},
    h('input', {type: 'checkbox', 'aria-label': 'choose run #' + r.id,
                'data-pick': r.id, checked: pick.has(r.id),
                onchange: (e) => {
                  if (e.target.checked)
                    pick.add(r.id);
                  else
                    pick.delete(r.id);
                  onPick();
                }}));
  /* On a phone each run is a card of labelled cells (style.css). */
  return h('table', {class: 't runs cards'},
    h('thead', null, h('tr', null, pick ? h('th', {class: 'pick'}) : null,
      h('th', null, 'Run'), withPipeline ? h('th', null, 'Pipeline') : null,
      h('th', null, 'Status'), h('th', null, 'Trigger'),
      h('th', null, 'Started'), h('th', {class: 'num'}, 'Duration'),
      git ? h('th', null, 'Commit') : null, h('th', null, 'Reason'))),
    h('tbody', null, runs.map((r) => h('tr', {'data-run': r.id,
                                              'data-status': r.status},
      pick ? box(r) : null,
      h('td', {'data-label': 'Run'}, h('a', {href: runHref(r.id)},
                                          '#' + r.id)),
      withPipeline ? h('td', {'data-label': 'Pipeline'},
                       h('a', {href: pipeHref(r.pipeline)}, r.pipeline))
                   : null,
      h('td', {'data-label': 'Status'}, runBadge(r)),
      h('td', {'data-label': 'Trigger'}, triggerEl(r)),
      h('td', {class: 'nowrap', 'data-label': 'Started'},
        r.started_at ? agoEl(r.started_at) : agoEl(r.created_at, 'muted')),
      h('td', {class: 'num', 'data-label': 'Duration'}, dur(runTime(r))),
      git ? h('td', {'data-label': 'Commit'}, commitEl(r)) : null,
      h('td', {class: 'reason', title: r.reason || null,
               'data-label': 'Reason'}, r.reason || '')))));
}

export function marks(runs) {
  const list = runs.slice(0, 10).reverse();
  const out = h('div', {class: 'marks', 'aria-label': 'recent runs'});
  for (let i = list.length; i < 10; i++)
    out.append(h('span', {class: 'mark none'}));
  for (const r of list)
    out.append(h('a', {class: 'mark m-' + r.status, href: runHref(r.id),
                       'data-run': r.id, 'data-status': r.status,
                       title: '#' + r.id + ' ' + r.status + ', ' +
                              fmtTime(r.started_at || r.created_at) +
                              (r.started_at ? ', ' + dur(runTime(r)) : '')}));
  return out;
}

/* Paging state for a runs table: before is the page's upper bound. */
export function pager(state, next, refresh) {
  return h('div', {class: 'pager'},
    state.stack.length ? h('button', {class: 'btn small ghost', type: 'button',
      onclick: () => {
        state.stack = [];
        state.before = 0;
        refresh();
      }}, '« Newest') : null,
    h('button', {class: 'btn small', type: 'button',
                 disabled: !state.stack.length,
                 onclick: () => {
                   state.before = state.stack.pop() || 0;
                   refresh();
                 }}, '‹ Newer'),
    h('button', {class: 'btn small', type: 'button', disabled: !next,
                 onclick: () => {
                   state.stack.push(state.before);
                   state.before = next;
                   refresh();
                 }}, 'Older ›'));
}

/* Triggers: the latest check of each. */

function lastCheck(p, t) {
  const same = (p.recent_checks || []).filter((c) => c.trigger === t.kind);
  const n = p.triggers.filter((x) => x.kind === t.kind).length;
  if (n <= 1)
    return same[0] || null;
  const keys = [t.current, t.path, t.branch, t.url, t.file].filter(Boolean);
  return same.find((c) => keys.some((k) => c.target === k ||
                                         String(c.target).endsWith(k) ||
                                         k.endsWith(c.target))) || null;
}

export function triggerTarget(t) {
  return t.current || t.path || t.url || t.file ||
         (t.pipeline ? t.pipeline + ':' + t.key : '') ||
         (t.branch ? (t.remote ? t.remote + '/' : '') + t.branch : '');
}

export function triggerChips(p) {
  if (!p.triggers.length)
    return h('span', {class: 'muted small'}, 'none');
  return h('div', {class: 'triggers'}, p.triggers.map((t) => {
    const c = lastCheck(p, t);
    const st = c ? c.status : 'none';
    const tip = t.kind + ' on ' + triggerTarget(t) + ', every ' +
                period(t.every_ms) + ': ' +
                (c ? st + ' ' + ago(c.checked_at) + ': ' + (c.reason || '')
                   : 'not checked yet');
    return h('span', {class: 'trig c-' + st, title: tip,
                      'data-trigger': t.kind, 'data-check': st},
             h('span', {class: 'dot'}), t.kind,
             h('span', {class: 'muted'}, c ? st : '…'));
  }));
}

export function scheduleEl(p) {
  const s = p.schedule;
  if (!s.crons.length)
    return h('span', {class: 'muted'}, p.triggers.length ? 'triggers only'
                                                          : 'manual only');
  return h('div', null,
           h('div', null, s.crons.map((c, i) => [i ? ', ' : '',
                                                 h('code', null, c)]),
             s.timezone && s.timezone !== 'UTC'
                 ? h('span', {class: 'muted small'}, ' ' + s.timezone) : null),
           p.next_due ? h('div', {class: 'small muted'}, 'next ',
                          agoEl(p.next_due)) : null);
}

/* Steps. */

export function stepState(s) {
  const a = s.attempts_detail[s.attempts_detail.length - 1];
  if (s.status === 'succeeded' && a && a.status === 'cached')
    return 'cached';
  return s.status;
}

export function stepPill(s) {
  const a = s.attempts_detail[s.attempts_detail.length - 1];
  if (!a || a.status !== 'cached')
    return null;
  return a.executor === 'reuse' ? 'REUSED' : 'CACHED';
}

export function stepSub(s) {
  const st = stepState(s);
  const a = s.attempts_detail[s.attempts_detail.length - 1];
  if (st === 'cached')
    return a && a.cached_from_run ? 'from run #' + a.cached_from_run
                                  : 'outputs reused';
  if (st === 'running' || st === 'retrying' || st === 'succeeded' ||
      st === 'failed' || st === 'timed_out' || st === 'cancelled') {
    const t = s.started_at ? dur((s.finished_at || Date.now()) - s.started_at)
                           : '';
    return st.replace('_', ' ') + (t ? ' · ' + t : '') + (s.attempts > 1 ? ' · try ' + s.attempts
                                                       : '');
  }
  return st;
}
