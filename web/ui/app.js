/*
 * app.js: the kiln status page.
 *
 * Hash routes (#/, #/runs, #/runs/12, #/pipelines/NAME, #/models,
 * #/artifacts/ID) pick a view; a view loads what it shows from /api/v1 and
 * builds its DOM with h() and svg(), which put every string in as a text
 * node or an attribute, never as HTML. One EventSource on /api/v1/events
 * tells the current view when a run or a step changes; the view fetches
 * again, at most every few hundred milliseconds. Graphs, charts and the
 * timeline are SVG drawn here: no framework, no build step.
 */
'use strict';
(function () {

const API = '/api/v1/';
const TOKEN_KEY = 'kiln.token';
const SVGNS = 'http://www.w3.org/2000/svg';
const app = document.getElementById('app');
const PALETTE = ['#0b63c5', '#c2410c', '#1a7f37', '#7c3aed', '#0e7490',
                 '#b45309', '#be185d', '#4d7c0f', '#475569'];

/* DOM. */

function setAttrs(el, attrs) {
  for (const k in attrs || {}) {
    const v = attrs[k];
    if (v == null || v === false)
      continue;
    if (k.startsWith('on') && typeof v === 'function')
      el.addEventListener(k.slice(2), v);
    else
      el.setAttribute(k, v === true ? '' : String(v));
  }
}

function addKids(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k == null || k === false)
      continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

/* Replace el's children with kids (nulls left out). */
function fill(el, ...kids) {
  el.replaceChildren();
  return addKids(el, kids);
}

/* An HTML element: h('a', {href: '#/'}, 'text', child...). */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  return addKids(el, kids);
}

/* An SVG element, the same way. */
function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  return addKids(el, kids);
}

const enc = encodeURIComponent;
const runHref = (id, step) =>
  '#/runs/' + id + (step ? '/steps/' + enc(step) : '');
const pipeHref = (name) => '#/pipelines/' + enc(name);

/* Formatting. */

const pad = (n) => String(n).padStart(2, '0');

function fmtTime(ms) {
  if (!ms)
    return '—';
  const d = new Date(ms);
  return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' +
         pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' +
         pad(d.getMinutes()) + ':' + pad(d.getSeconds());
}

function ago(ms) {
  if (!ms)
    return '—';
  const d = Date.now() - ms, a = Math.abs(d);
  let s;
  if (a < 1500)
    return d < 0 ? 'now' : 'just now';
  if (a < 60e3)
    s = Math.round(a / 1e3) + ' s';
  else if (a < 60 * 60e3)
    s = Math.round(a / 60e3) + ' min';
  else if (a < 36 * 3600e3)
    s = Math.round(a / 3600e3) + ' h';
  else
    s = Math.round(a / 86400e3) + ' d';
  return d < 0 ? 'in ' + s : s + ' ago';
}

function dur(ms) {
  if (ms == null || ms < 0 || Number.isNaN(ms))
    return '—';
  if (ms < 1000)
    return Math.round(ms) + ' ms';
  const s = ms / 1000;
  if (s < 60)
    return (s < 10 ? s.toFixed(1) : Math.round(s)) + ' s';
  const m = Math.floor(s / 60);
  if (m < 60)
    return m + ' min ' + pad(Math.floor(s % 60)) + ' s';
  return Math.floor(m / 60) + ' h ' + pad(m % 60) + ' min';
}

/* A period as written in a pipeline: 2s, 5m, 1h30m. */
function period(ms) {
  if (!ms)
    return '0s';
  const units = [['d', 86400e3], ['h', 3600e3], ['m', 60e3], ['s', 1e3],
                 ['ms', 1]];
  let out = '';
  for (const [u, n] of units) {
    if (ms >= n) {
      out += Math.floor(ms / n) + u;
      ms %= n;
    }
  }
  return out;
}

function num(v) {
  if (v == null || (typeof v === 'number' && Number.isNaN(v)))
    return '—';
  if (typeof v !== 'number')
    return String(v);
  if (Number.isInteger(v))
    return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e7))
    return v.toExponential(3);
  return String(+v.toPrecision(4));
}

function bytes(n) {
  if (n == null)
    return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}

const basename = (p) => String(p || '').replace(/\/+$/, '').split('/').pop();
const runTime = (r) => r.started_at ? (r.finished_at || Date.now()) -
                                      r.started_at : null;

/* "5 min ago", kept fresh by the ticker below. */
function agoEl(ms, cls) {
  return h('span', {class: cls || null, title: fmtTime(ms),
                    'data-t': ms || null}, ago(ms));
}
setInterval(() => {
  for (const el of document.querySelectorAll('[data-t]'))
    el.textContent = ago(+el.dataset.t);
}, 5000);

function badge(status, label, title) {
  return h('span', {class: 'badge s-' + status, title: title || null},
           label || status);
}

function kv(rows) {
  const dl = h('dl', {class: 'kv'});
  for (const [k, v] of rows)
    if (v != null && v !== '' && !(Array.isArray(v) && !v.length))
      dl.append(h('dt', null, k), h('dd', null, v));
  return dl;
}

function panel(title, extra, ...body) {
  return h('section', {class: 'panel flush'},
           h('div', {class: 'panel-head'}, h('h2', null, title),
             h('div', {class: 'spacer'}), extra),
           body);
}

/* Which disclosures are open, by key: views are rebuilt on every
 * change, and an opened one stays open. */
const opened = new Set();

function rawJson(label, value, key) {
  const d = h('details', {class: 'raw', open: opened.has(key)},
              h('summary', null, label),
              h('pre', null, JSON.stringify(value, null, 2)));
  d.addEventListener('toggle', () => {
    if (d.open)
      opened.add(key);
    else
      opened.delete(key);
  });
  return d;
}

function commitEl(r) {
  if (!r.git_commit)
    return null;
  return h('span', {class: 'nowrap', title: r.git_commit},
           h('code', null, r.git_commit.slice(0, 10)),
           r.git_branch ? [' ', h('span', {class: 'tag'}, r.git_branch)] : null,
           r.git_dirty ? [' ', h('span', {class: 'tag dirty',
                                          title: 'uncommitted changes'},
                                 'dirty')] : null);
}

/* Errors and messages. */

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function toast(msg, kind, link) {
  const el = h('div', {class: 'toast ' + (kind || ''), role: 'status',
                      title: 'click to dismiss',
                      onclick: (e) => e.target === el && el.remove()}, msg,
               link ? [' ', h('a', {href: link.href,
                                    style: 'color:#fff;text-decoration:underline'},
                              link.text)] : null);
  document.getElementById('toasts').append(el);
  setTimeout(() => el.remove(), kind === 'err' ? 10000 : 5000);
}

function errorBox(msg, retry, label) {
  return h('div', {class: 'error-box', role: 'alert'}, msg,
           retry ? [' ', h('button', {class: 'btn small', type: 'button',
                                      onclick: retry}, label || 'Try again')]
                 : null);
}

/* The API. */

const token = () => sessionStorage.getItem(TOKEN_KEY);

function setToken(t) {
  if (t)
    sessionStorage.setItem(TOKEN_KEY, t);
  else
    sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById('token').textContent = t ? 'Token set' : 'Set token';
}

function authHeaders() {
  const t = token();
  return t ? {Authorization: 'Bearer ' + t} : {};
}

async function failure(r) {
  let msg = r.statusText || 'HTTP ' + r.status;
  try {
    const j = await r.json();
    if (j && j.error)
      msg = j.error;
  } catch (e) { /* not JSON */ }
  return new HttpError(r.status, msg);
}

async function get(path) {
  const r = await fetch(API + path, {headers: authHeaders()});
  if (!r.ok)
    throw await failure(r);
  return r.json();
}

/* Ask for the API token in the dialog; resolves to it, or null. */
function askToken(why) {
  const dlg = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  document.getElementById('token-why').textContent = why || '';
  input.value = token() || '';
  dlg.returnValue = '';
  dlg.showModal();
  input.focus();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      const v = input.value.trim();
      input.value = '';
      if (dlg.returnValue === 'ok' && v) {
        setToken(v);
        resolve(v);
        return;
      }
      if (dlg.returnValue === 'clear')
        setToken(null);
      resolve(null);
    }, {once: true});
  });
}

/* POST with the token (asked for once, then kept in sessionStorage).
 * Resolves to {status, body}, or null when there was no usable token
 * (the user was told why); throws HttpError on other failures. */
async function post(path, body) {
  let t = token();
  if (!t && !(t = await askToken('')))
    return null;
  const r = await fetch(API + path, {
    method: 'POST',
    headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + t},
    body: JSON.stringify(body || {}),
  });
  if (r.status === 401) {
    const e = await failure(r);
    setToken(null);
    toast('The token was refused (401: ' + e.message + '). Set the right ' +
          'token and try again.', 'err');
    return null;
  }
  if (r.status === 403) {
    const e = await failure(r);
    toast('Not allowed (403): ' + e.message, 'err');
    return null;
  }
  if (!r.ok)
    throw await failure(r);
  return {status: r.status, body: await r.json()};
}

async function startRun(name, params) {
  try {
    const r = await post('pipelines/' + enc(name) + '/runs',
                         params ? {params} : {});
    if (!r)
      return;
    if (r.body.run_id)
      toast('Started run #' + r.body.run_id + ' of ' + name + '.', 'ok',
            {href: runHref(r.body.run_id), text: 'Open'});
    else
      toast(name + ': ' + r.body.status +
            (r.body.reason ? ' (' + r.body.reason + ')' : ''));
    if (view)
      view.soon(50);
  } catch (e) {
    toast('Could not start ' + name + ': ' + e.message, 'err');
  }
}

function runNowButton(name) {
  const b = h('button', {
    class: 'btn primary small', type: 'button', 'data-run-now': name,
    title: 'Start a run of ' + name + ' now',
    onclick: async () => {
      b.disabled = true;
      try {
        await startRun(name);
      } finally {
        b.disabled = false;
      }
    },
  }, '▶ Run now');
  return b;
}

/* A dialog of the pipeline's params, filled with their defaults; starts
 * a run with the ones changed. */
function paramsButton(p) {
  const names = Object.keys(p.params || {});
  if (!names.length)
    return null;
  return h('button', {class: 'btn small', type: 'button',
                      'data-run-params': p.name, onclick: () => {
    const inputs = names.map((k) => h('input', {type: 'text', name: k,
                                                value: p.params[k],
                                                'aria-label': k}));
    const dlg = h('dialog', {class: 'params'},
      h('form', {method: 'dialog'},
        h('h3', null, 'Run ' + p.name + ' with params'),
        h('div', {class: 'param-grid'}, names.map((k, i) =>
          [h('label', null, h('code', null, k)), inputs[i]])),
        h('menu', null,
          h('button', {value: 'cancel', class: 'btn ghost', type: 'submit'},
            'Cancel'),
          h('button', {value: 'ok', class: 'btn primary', type: 'submit'},
            '▶ Run'))));
    document.body.append(dlg);
    dlg.addEventListener('close', () => {
      const params = {};
      inputs.forEach((el, i) => {
        if (el.value !== String(p.params[names[i]]))
          params[names[i]] = el.value;
      });
      dlg.remove();
      if (dlg.returnValue === 'ok')
        startRun(p.name, Object.keys(params).length ? params : null);
    });
    dlg.showModal();
  }}, 'Run with params…');
}

/* Views. Each view owns a container and reloads itself with refresh();
 * soon() coalesces the refreshes that a burst of events asks for. */

let view = null;

function makeView(el, load, opts) {
  let busy = false, again = false, timer = null;
  const v = {
    el, dead: false, loaded: false,
    async refresh() {
      if (v.dead)
        return;
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        await load(v);
        v.loaded = true;
      } catch (e) {
        /* A bug of the page, not an answer of the API: tell the console. */
        if (!(e instanceof HttpError))
          console.error(e);
        if (!v.dead) {
          if (v.loaded)
            toast('Could not refresh: ' + e.message, 'err');
          else if (e.status === 401)
            /* Beyond loopback, reading needs the token too. */
            fill(el, errorBox('This kiln serve wants the API token to show ' +
                              'anything (' + e.message + '). ',
                              async () => {
                                if (await askToken(''))
                                  v.refresh();
                              }, 'Set token'));
          else
            fill(el, errorBox(e.message, () => v.refresh()));
        }
      }
      busy = false;
      if (again && !v.dead) {
        again = false;
        v.refresh();
      }
    },
    soon(ms) {
      if (timer || v.dead)
        return;
      timer = setTimeout(() => {
        timer = null;
        v.refresh();
      }, ms == null ? 300 : ms);
    },
    onEvent: (opts && opts.onEvent) || (() => {}),
    dispose() {
      v.dead = true;
      clearTimeout(timer);
      if (opts && opts.dispose)
        opts.dispose();
    },
  };
  return v;
}

function pageHead(crumbs, title, sub, actions) {
  return h('div', {class: 'page-head'},
           h('div', {class: 'titles'},
             crumbs ? h('div', {class: 'crumbs'}, crumbs) : null,
             h('h1', null, title),
             sub ? h('div', {class: 'sub'}, sub) : null),
           actions ? h('div', {class: 'actions'}, actions) : null);
}

/* Runs: a table, marks, and a pager over ?before=. */

/* What started a run, in a few words (long: with the trigger's reason). */
function triggerText(r, long) {
  const i = r.trigger_info || {};
  const d = i.detail || {};
  if (r.trigger === 'manual' && d.user && d.user.via)
    return 'manual (' + d.user.via + ')';
  if (r.trigger === 'schedule' && i.schedule)
    return 'schedule ' + i.schedule + (long && i.due ? ', due ' + i.due : '');
  if (r.trigger === 'retry' && i.retry_of)
    return 'retry of #' + i.retry_of;
  if (long && i.reason)
    return r.trigger + ': ' + i.reason;
  return r.trigger || '—';
}

function runsTable(runs, withPipeline) {
  if (!runs.length)
    return h('div', {class: 'empty'}, 'No runs yet.');
  const git = runs.some((r) => r.git_commit);
  return h('table', {class: 't runs'},
    h('thead', null, h('tr', null,
      h('th', null, 'Run'), withPipeline ? h('th', null, 'Pipeline') : null,
      h('th', null, 'Status'), h('th', null, 'Trigger'),
      h('th', null, 'Started'), h('th', {class: 'num'}, 'Duration'),
      git ? h('th', null, 'Commit') : null, h('th', null, 'Reason'))),
    h('tbody', null, runs.map((r) => h('tr', {'data-run': r.id,
                                              'data-status': r.status},
      h('td', null, h('a', {href: runHref(r.id)}, '#' + r.id)),
      withPipeline ? h('td', null, h('a', {href: pipeHref(r.pipeline)},
                                     r.pipeline)) : null,
      h('td', null, badge(r.status)),
      h('td', null, triggerText(r)),
      h('td', {class: 'nowrap'}, r.started_at ? agoEl(r.started_at)
                                              : agoEl(r.created_at, 'muted')),
      h('td', {class: 'num'}, dur(runTime(r))),
      git ? h('td', null, commitEl(r)) : null,
      h('td', {class: 'reason', title: r.reason || null}, r.reason || '')))));
}

function marks(runs) {
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
function pager(state, next, refresh) {
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

function triggerTarget(t) {
  return t.current || t.path || t.url || t.file ||
         (t.branch ? (t.remote ? t.remote + '/' : '') + t.branch : '');
}

function triggerChips(p) {
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

function scheduleEl(p) {
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

/* Overview: every pipeline, then the latest runs of all. */

function overviewView(el) {
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
                 badge(last.status)), ' ',
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

/* All runs, filtered and paged. */

function runsView(el, query) {
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
      get('runs?' + q), names ? null : get('pipelines')]);
    if (pl)
      names = pl.pipelines.map((p) => p.name);
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

function clip(s, px, charPx) {
  const n = Math.max(4, Math.floor(px / charPx));
  s = String(s);
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

let graphSeq = 0;

/* Draw nodes [{id, title, sub, cls, pill, tip, href, onclick, attrs}] and
 * edges [[from, to]] as an SVG graph. */
function drawGraph(list, edges, opts) {
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
          clip(n.title, b.w - (n.pill ? 72 : 24), 7.6)),
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

function legend(items) {
  return h('div', {class: 'legend'}, items.map(([cls, label]) =>
    h('span', null, h('i', {class: 'lg-' + cls,
                            style: legendStyle[cls] || ''}), label)));
}

const legendStyle = {
  succeeded: 'background:#f0fdf4;border-color:#4ac26b',
  running: 'background:#eff6ff;border-color:#60a5fa',
  failed: 'background:#fff5f5;border-color:#f08c8c',
  retrying: 'background:#fffbeb;border-color:#f5b041',
  cached: 'background:#ecfeff;border-color:#22b8cf',
  gated: 'background:#faf5ff;border-color:#a78bfa;border-style:dashed',
  skipped: 'background:#fafbfc;border-color:#c4cad0;border-style:dashed',
  pending: 'background:#fff;border-color:#c4cad0',
  cancelled: 'background:#f6f8fa;border-color:#afb8c1',
};

/* Charts. */

function niceStep(range, n) {
  const raw = range / Math.max(1, n);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function ticks(lo, hi, n) {
  if (!(hi > lo))
    return [lo];
  const s = niceStep(hi - lo, n), out = [];
  for (let v = Math.ceil(lo / s) * s; v <= hi + s * 1e-9; v += s)
    out.push(+v.toPrecision(12));
  return out;
}

/* A line chart: series [{name, color, points: [{x, y, tip, href}]}];
 * opts {width, height, xFmt, yFmt, xTicks, threshold, thresholdLabel}. */
function lineChart(series, opts) {
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
function chartWidth(fraction) {
  const content = app.clientWidth - 48;
  if (!fraction || window.innerWidth <= 1000)
    return content - 38;
  return Math.floor((content - 16) * fraction - 38);
}

/* A run: graph, timeline, logs, metrics, details. */

function stepState(s) {
  const a = s.attempts_detail[s.attempts_detail.length - 1];
  if (s.status === 'succeeded' && a && a.status === 'cached')
    return 'cached';
  return s.status;
}

function stepPill(s) {
  const a = s.attempts_detail[s.attempts_detail.length - 1];
  if (!a || a.status !== 'cached')
    return null;
  return a.executor === 'reuse' ? 'REUSED' : 'CACHED';
}

function stepSub(s) {
  const st = stepState(s);
  const a = s.attempts_detail[s.attempts_detail.length - 1];
  if (st === 'cached')
    return a && a.cached_from_run ? 'from run #' + a.cached_from_run
                                  : 'outputs reused';
  if (st === 'running' || st === 'retrying' || st === 'succeeded' ||
      st === 'failed' || st === 'cancelled') {
    const t = s.started_at ? dur((s.finished_at || Date.now()) - s.started_at)
                           : '';
    return st + (t ? ' · ' + t : '') + (s.attempts > 1 ? ' · try ' + s.attempts
                                                       : '');
  }
  return st;
}

function runView(el, query, idText, stepArg) {
  const id = +idText;
  let run = null, pipe = null, pipeTried = false, selected = stepArg || null;
  let attemptSel = null;
  const log = {key: null, offset: 0, size: 0, timer: null, busy: false,
               pre: h('pre', {class: 'log', 'aria-label': 'step log'}),
               bar: h('div', {class: 'logbar'})};

  const stepOf = (name) => run && run.steps.find((s) => s.name === name);

  function defaultStep() {
    const by = (f) => run.steps.find(f);
    const s = by((x) => x.status === 'running' || x.status === 'retrying') ||
              by((x) => x.status === 'failed') ||
              run.steps.slice().reverse().find((x) =>
                x.attempts_detail.some((a) => a.log_path)) ||
              run.steps[0];
    return s ? s.name : null;
  }

  function select(name) {
    selected = name;
    attemptSel = null;
    history.replaceState(null, '', runHref(id, name));
    render();
  }

  function attemptOf(s) {
    if (!s || !s.attempts_detail.length)
      return null;
    return s.attempts_detail.find((a) => a.attempt === attemptSel) ||
           s.attempts_detail[s.attempts_detail.length - 1];
  }

  function sysLine(...parts) {
    fill(log.pre, h('span', {class: 'sys'}, parts));
  }

  /* Show the selected step's log; while its attempt runs, keep asking
   * for what was added since the last offset. */
  function syncLog() {
    const s = stepOf(selected), a = attemptOf(s);
    const key = s ? s.name + '#' + (a ? a.attempt : 0) + '#' +
                    (a && a.log_path ? 'log' : s.status) : '';
    if (key === log.key) {
      if (a && a.log_path && !log.timer && !log.busy &&
          (a.status === 'running' || log.offset < log.size))
        pollLog();
      return;
    }
    log.key = key;
    log.offset = 0;
    log.size = 0;
    clearTimeout(log.timer);
    log.timer = null;
    if (!s) {
      sysLine('No step selected.');
      return;
    }
    if (!a) {
      sysLine(s.status === 'pending' ? 'This step has not started yet.'
              : 'Step ' + s.status + (s.reason ? ': ' + s.reason : '') +
                '. No command ran.');
      return;
    }
    if (!a.log_path) {
      if (a.status === 'cached')
        sysLine('No command ran: ' + (a.reason || 'outputs reused') + '. ',
                a.cached_from_run
                    ? h('a', {href: runHref(a.cached_from_run, s.name)},
                        'Open the log of run #' + a.cached_from_run)
                    : null);
      else
        sysLine('No log for this attempt' + (a.reason ? ': ' + a.reason : '') +
                '.');
      return;
    }
    fill(log.pre);
    pollLog();
  }

  async function pollLog() {
    const s = stepOf(selected), a = attemptOf(s), key = log.key;
    if (!a || !a.log_path || view !== v)
      return;
    /* Read once more after the attempt ends: it may have written its
     * last lines after this read. */
    const wasRunning = a.status === 'running';
    log.busy = true;
    try {
      const r = await fetch(API + 'runs/' + id + '/steps/' + enc(s.name) +
                            '/log?attempt=' + a.attempt + '&offset=' +
                            log.offset, {headers: authHeaders()});
      if (key !== log.key || v.dead)
        return;
      if (!r.ok) {
        const e = await failure(r);
        if (!log.offset)
          sysLine(e.message);
      } else {
        const t = await r.text();
        if (key !== log.key)
          return;
        const atEnd = log.pre.scrollTop + log.pre.clientHeight >=
                      log.pre.scrollHeight - 24;
        if (t)
          log.pre.append(t);
        log.offset = +r.headers.get('x-kiln-offset') || log.offset + t.length;
        log.size = +r.headers.get('x-kiln-size') || log.offset;
        if (!log.pre.firstChild)
          sysLine(a.status === 'running' ? 'Waiting for output...'
                                         : 'The log is empty.');
        else if (log.pre.firstChild.className === 'sys' && t)
          log.pre.firstChild.remove();
        if (atEnd)
          log.pre.scrollTop = log.pre.scrollHeight;
      }
    } catch (e) {
      if (!log.offset)
        sysLine('Could not load the log: ' + e.message);
    } finally {
      log.busy = false;
    }
    renderLogBar();
    /* Everything read: poll while the attempt runs (and once after);
     * more to read: go on (up to 8 MiB shown). */
    const now = attemptOf(stepOf(selected));
    if (key !== log.key || v.dead || !now)
      return;
    const more = log.offset < log.size && log.offset < (8 << 20);
    const running = now.status === 'running' || wasRunning;
    if (more || running) {
      log.timer = setTimeout(() => {
        log.timer = null;
        pollLog();
      }, more ? 0 : 1000);
    }
  }

  function renderLogBar() {
    const s = stepOf(selected), a = attemptOf(s);
    if (!s) {
      fill(log.bar);
      return;
    }
    const tailing = a && a.status === 'running' && a.log_path;
    fill(log.bar,
      h('strong', null, s.name), badge(stepState(s)),
      a ? h('span', {class: 'small muted'},
            'attempt ' + a.attempt + (a.executor ? ' · ' + a.executor : '') +
            (a.exit_code != null ? ' · exit ' + a.exit_code : '') +
            (a.signal ? ' · signal ' + a.signal : '')) : null,
      s.attempts_detail.length > 1
          ? h('div', {class: 'seg'}, s.attempts_detail.map((x) =>
              h('button', {type: 'button', class: x === a ? 'on' : null,
                           title: x.status + (x.reason ? ': ' + x.reason : ''),
                           onclick: () => {
                             attemptSel = x.attempt;
                             render();
                           }}, '#' + x.attempt))) : null,
      h('div', {class: 'spacer'}),
      tailing ? h('span', {class: 'tailing'}, 'live') : null,
      log.size ? h('span', {class: 'small muted'}, bytes(log.size)) : null,
      a && a.log_path
          ? h('a', {class: 'small', target: '_blank', rel: 'noopener',
                    href: API + 'runs/' + id + '/steps/' + enc(s.name) +
                          '/log?attempt=' + a.attempt}, 'raw') : null);
  }

  function stepTabs() {
    return h('div', {class: 'steps-tabs', role: 'tablist'},
      run.steps.map((s) => h('button', {
        type: 'button', role: 'tab', class: s.name === selected ? 'on' : null,
        'data-step': s.name, 'aria-selected': s.name === selected,
        onclick: () => select(s.name)},
        h('span', {class: 'dot d-' + stepState(s)}), s.name)));
  }

  function dag() {
    if (!run.steps.length && pipe && pipe.dag) {
      /* Not started: the definition's steps, all pending. */
      return drawGraph(pipe.dag.nodes.map((n) => ({
        id: n.name, title: n.name, sub: 'pending', cls: 'n-pending',
        attrs: {'data-step': n.name, 'data-status': 'pending'},
      })), pipe.dag.edges, {maxWidth: chartWidth(),
                            label: 'steps of run ' + id});
    }
    const names = new Set(run.steps.map((s) => s.name));
    let edges = [];
    if (pipe && pipe.dag)
      edges = pipe.dag.edges.filter(([a, b]) => names.has(a) && names.has(b));
    const state = new Map(run.steps.map((s) => [s.name, stepState(s)]));
    const nodes = run.steps.map((s) => ({
      id: s.name, title: s.name, sub: stepSub(s),
      cls: 'n-' + stepState(s) + (s.name === selected ? ' sel' : ''),
      pill: stepPill(s),
      tip: s.name + ' (' + s.kind + '): ' + s.status +
           (s.reason ? '\n' + s.reason : ''),
      attrs: {'data-step': s.name, 'data-status': s.status},
      onclick: () => select(s.name),
    }));
    return drawGraph(nodes, edges, {
      maxWidth: chartWidth(), label: 'steps of run ' + id,
      liveEdge: (a, b) => state.get(b) === 'running' &&
                          (state.get(a) === 'succeeded' ||
                           state.get(a) === 'cached'),
    });
  }

  function timeline() {
    const steps = run.steps;
    const starts = steps.flatMap((s) => s.attempts_detail.map((a) => a.started_at))
                        .filter(Boolean);
    if (!starts.length)
      return h('div', {class: 'empty'}, 'Nothing has started yet.');
    const now = Date.now();
    const t0 = Math.min(run.started_at || Infinity, ...starts);
    const ends = steps.flatMap((s) => s.attempts_detail.map((a) =>
      a.finished_at || (a.status === 'running' ? now : a.started_at)));
    const t1 = Math.max(t0 + 1000, run.finished_at || 0, ...ends);
    const W = Math.max(520, chartWidth()), lw = 150, rw = 96, rowH = 26, top = 8;
    const H = top + steps.length * rowH + 24;
    const x = (t) => lw + (t - t0) / (t1 - t0) * (W - lw - rw);
    const root = svg('svg', {width: W, height: H, class: 'tl', role: 'img',
                             'aria-label': 'timeline'});
    const grid = svg('g', {class: 'grid'}), axis = svg('g', {class: 'axis'});
    for (const t of ticks(0, t1 - t0, 8)) {
      grid.append(svg('line', {x1: x(t0 + t), x2: x(t0 + t), y1: top,
                               y2: H - 22}));
      axis.append(svg('text', {x: x(t0 + t), y: H - 6,
                               'text-anchor': 'middle'}, '+' + dur(t)));
    }
    root.append(grid, axis);
    steps.forEach((s, i) => {
      const y = top + i * rowH;
      const row = svg('g', {class: 'row', 'data-step': s.name},
        svg('rect', {class: 'bg', x: 0, y, width: W, height: rowH}),
        svg('text', {class: 'lbl', x: 6, y: y + 17}, clip(s.name, lw - 14, 7)));
      row.addEventListener('click', () => select(s.name));
      let end = lw;
      for (const a of s.attempts_detail) {
        if (!a.started_at)
          continue;
        const fin = a.finished_at || (a.status === 'running' ? now
                                                             : a.started_at);
        const bx = x(a.started_at), bw = Math.max(3, x(fin) - bx);
        row.append(svg('rect', {class: 'bar b-' + a.status, x: bx, y: y + 6,
                                width: bw, height: rowH - 12, rx: 3},
          svg('title', null, s.name + ' attempt ' + a.attempt + ': ' +
                             a.status + ', ' + dur(fin - a.started_at) +
                             (a.reason ? ' (' + a.reason + ')' : ''))));
        end = Math.max(end, bx + bw);
      }
      const st = stepState(s);
      const note = s.attempts_detail.length
          ? (st === 'cached' ? 'cached' : dur(s.started_at
              ? (s.finished_at || now) - s.started_at : null))
          : st;
      row.append(svg('text', {class: 'note', x: end + 6, y: y + 17}, note));
      root.append(row);
    });
    return h('div', {class: 'graph'}, root);
  }

  function metricsTable() {
    if (!run.metrics.length)
      return h('div', {class: 'empty'}, 'No metrics recorded.');
    return h('table', {class: 't'},
      h('thead', null, h('tr', null, h('th', null, 'Step'),
        h('th', null, 'Metric'), h('th', {class: 'num'}, 'Value'), h('th'))),
      h('tbody', null, run.metrics.map((m) => h('tr', null,
        h('td', null, m.step), h('td', null, h('code', null, m.key)),
        h('td', {class: 'num'}, num(m.value)),
        h('td', {class: 'num'}, h('a', {
          class: 'small', href: pipeHref(run.pipeline) + '?metric=' +
                                enc(m.step + '.' + m.key)}, 'trend ›'))))));
  }

  function artifactsTable() {
    const rows = [];
    for (const s of run.steps)
      for (const a of s.attempts_detail)
        for (const art of a.artifacts || [])
          rows.push([s, a, art]);
    if (!rows.length)
      return null;
    return panel('Artifacts', null, h('table', {class: 't'},
      h('thead', null, h('tr', null, h('th', null, 'Step'), h('th', null, ''),
        h('th', null, 'Path'), h('th', null, 'Type'),
        h('th', {class: 'num'}, 'Size'), h('th', null, 'SHA-256'), h('th'))),
      h('tbody', null, rows.map(([s, a, art]) => h('tr', null,
        h('td', null, s.name + (s.attempts_detail.length > 1
                                ? ' #' + a.attempt : '')),
        h('td', null, h('span', {class: 'tag'}, art.output ? 'output'
                                                           : 'input')),
        h('td', {title: art.path}, h('code', null, art.path)),
        h('td', null, art.type),
        h('td', {class: 'num'}, bytes(art.size)),
        h('td', null, h('code', {title: art.sha256},
                        String(art.sha256).slice(0, 12))),
        h('td', {class: 'num'}, h('a', {class: 'small',
                                        href: '#/artifacts/' + art.id},
                                  'lineage ›')))))));
  }

  function details() {
    const params = Object.entries(run.params || {});
    return kv([
      ['Pipeline', h('a', {href: pipeHref(run.pipeline)}, run.pipeline)],
      ['Trigger', run.trigger_info && run.trigger_info.retry_of
          ? h('a', {href: runHref(run.trigger_info.retry_of)},
              triggerText(run, true))
          : triggerText(run, true)],
      ['Created', fmtTime(run.created_at)],
      ['Started', fmtTime(run.started_at)],
      ['Finished', fmtTime(run.finished_at)],
      ['Duration', dur(runTime(run))],
      ['Commit', commitEl(run) || h('span', {class: 'muted'},
                                    'not in a Git repository')],
      ['Params', params.length ? h('div', {class: 'chips'}, params.map(([k, val]) =>
        h('span', {class: 'chip'}, k + '=' + val))) : null],
      ['File', run.file ? h('code', null, run.file) : null],
      ['Workdir', run.workdir ? h('code', null, run.workdir) : null],
      ['Definition', run.pipeline_hash
          ? h('code', {title: run.pipeline_hash},
              run.pipeline_hash.slice(0, 12)) : null],
      ['Trigger info', run.trigger_info ? rawJson('show', run.trigger_info,
                                                  'trigger-info')
                                        : null],
    ]);
  }

  async function act(what) {
    try {
      const r = await post('runs/' + id + '/' + what);
      if (!r)
        return;
      if (what === 'retry' && r.body.run_id) {
        toast('Retrying as run #' + r.body.run_id + '.', 'ok');
        location.hash = runHref(r.body.run_id);
      } else {
        toast('Cancelling run #' + id + '.');
        v.soon(50);
      }
    } catch (e) {
      toast('Could not ' + what + ' run #' + id + ': ' + e.message, 'err');
    }
  }

  function render() {
    if (!run || v.dead)
      return;
    if (!selected || !stepOf(selected))
      selected = defaultStep();
    const live = run.status === 'running' || run.status === 'queued';
    const head = pageHead(
      [h('a', {href: '#/'}, 'Pipelines'), ' / ',
       h('a', {href: pipeHref(run.pipeline)}, run.pipeline)],
      ['Run #' + run.id + ' ', badge(run.status)],
      [triggerText(run, true), ' · ',
       run.started_at ? ['started ', agoEl(run.started_at)] : 'not started',
       run.started_at ? ' · ' + (run.finished_at ? 'took ' : 'running for ') +
                        dur(runTime(run)) : null,
       run.git_commit ? [' · ', commitEl(run)] : null],
      [live ? h('button', {class: 'btn danger', type: 'button',
                           'data-action': 'cancel',
                           onclick: () => act('cancel')}, 'Cancel') : null,
       run.status === 'failed' || run.status === 'cancelled'
           ? h('button', {class: 'btn', type: 'button', 'data-action': 'retry',
                          title: 'Run again, reusing the steps that succeeded',
                          onclick: () => act('retry')}, 'Retry') : null,
       h('a', {class: 'btn', href: pipeHref(run.pipeline)}, 'Pipeline')]);
    /* The log moves to the new page: keep where it was scrolled to. */
    const top = log.pre.scrollTop;
    const atEnd = top + log.pre.clientHeight >= log.pre.scrollHeight - 24;
    const graphNote = pipe ? null
        : h('span', {class: 'small muted'}, pipeTried
            ? 'pipeline not loaded: dependencies unknown' : '');
    fill(el,
      head,
      !run.reason ? null : run.status === 'failed'
          ? errorBox('Failed: ' + run.reason)
          : h('div', {class: 'note-box'}, run.reason),
      panel('Steps', graphNote, dag(),
            legend([['succeeded', 'succeeded'], ['running', 'running'],
                    ['failed', 'failed'], ['cached', 'cached / reused'],
                    ['gated', 'gated'], ['skipped', 'skipped'],
                    ['pending', 'pending']])),
      panel('Timeline', null, timeline()),
      panel('Logs', null, stepTabs(), h('div', {class: 'logbox'}, log.bar,
                                        log.pre)),
      h('div', {class: 'grid2'},
        panel('Metrics', null, metricsTable()),
        h('section', {class: 'panel'}, h('h2', null, 'Details'), details())),
      h('div', {style: 'height:16px'}),
      artifactsTable());
    log.pre.scrollTop = atEnd ? log.pre.scrollHeight : top;
    document.title = 'Run #' + run.id + ' · ' + run.pipeline + ' · kiln';
    syncLog();
    renderLogBar();
  }

  let tick = null;
  const v = makeView(el, async () => {
    run = await get('runs/' + id);
    if (!pipeTried) {
      pipeTried = true;
      try {
        pipe = await get('pipelines/' + enc(run.pipeline));
      } catch (e) {
        if (e.status !== 404)
          throw e;
      }
    }
    render();
    /* Durations of what runs grow without events. */
    clearInterval(tick);
    if (run.status === 'running')
      tick = setInterval(() => v.soon(0), 5000);
  }, {
    onEvent(type, d) {
      if (d.run_id === id)
        v.soon(150);
    },
    dispose() {
      clearTimeout(log.timer);
      clearInterval(tick);
    },
  });
  return v;
}

/* A pipeline: definition, runs, a metric's trend, drift. */

function pipelineView(el, query, name) {
  name = decodeURIComponent(name);
  const state = {stack: [], before: 0, metric: query.get('metric') || '',
                 stat: '', target: ''};
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
      if (d.pipeline === name)
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
      !p ? null : h('div', {class: 'grid2'},
        panel('Steps', last ? h('span', {class: 'small muted'},
                                'coloured by ', h('a', {href: runHref(last.id)},
                                                  'run #' + last.id)) : null,
              pipelineDag(p, last)),
        h('section', {class: 'panel'}, h('h2', null, 'Definition'), about(p))),
      h('div', {style: 'height:16px'}),
      panel('Runs', h('a', {class: 'small',
                            href: '#/runs?pipeline=' + enc(name)}, 'filter ›'),
            runsTable(page.runs, false),
            pager(state, page.next_before, () => v.refresh())),
      h('div', {class: 'grid2 even'},
        trendPanel(series, chartWidth(0.5)),
        p ? driftPanel(p, chartWidth(0.5)) : null),
      h('div', {style: 'height:16px'}),
      p ? checksPanel(p) : null);
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
      if (prev && !c.run_id && !prev.run_id && prev.trigger === c.trigger &&
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
      h('table', {class: 't'},
        h('thead', null, h('tr', null, h('th', null, 'When'),
          h('th', null, 'Trigger'), h('th', null, 'Target'),
          h('th', null, 'Outcome'), h('th', null, 'Reason'),
          h('th', null, 'Run'))),
        h('tbody', null, list.slice(0, 15).map((c) => h('tr', null,
          h('td', {class: 'nowrap'}, agoEl(c.checked_at),
            c.n > 1 ? h('span', {class: 'small muted',
                                 title: 'since ' + fmtTime(c.first)},
                        ' · ' + c.n + ' checks') : null),
          h('td', null, c.trigger),
          h('td', null, h('code', null, c.target || '')),
          h('td', null, badge(c.status)),
          h('td', {class: 'reason', title: c.reason || null}, c.reason || ''),
          h('td', null, c.run_id ? h('a', {href: runHref(c.run_id)},
                                     '#' + c.run_id) : ''))))));
  }

  return v;
}

/* The model registry. */

function modelsView(el, query, only) {
  only = only ? decodeURIComponent(only) : null;
  return makeView(el, async () => {
    const m = await get(only ? 'models/' + enc(only) : 'models');
    const names = [...new Set(m.versions.map((x) => x.name))];
    document.title = 'Models · kiln';
    fill(el,
      pageHead(only ? [h('a', {href: '#/models'}, 'Models'), ' / '] : null,
               only || 'Models',
               names.length + (names.length === 1 ? ' model, ' : ' models, ') +
               m.versions.length + ' versions'),
      names.length ? names.map((n) => model(n, m.versions.filter((x) =>
                                               x.name === n),
                                             m.aliases.filter((a) =>
                                               a.name === n)))
                   : h('div', {class: 'panel empty'}, 'No models registered ' +
                       'yet. A step registers one with register: {model, path}.'));
  }, {
    onEvent(type, d) {
      if (type === 'run' && d.status === 'succeeded')
        view.soon(500);
    },
  });

  function model(name, versions, aliases) {
    return h('section', {class: 'panel flush model', 'data-model': name},
      h('div', {class: 'panel-head'},
        h('h2', null, h('a', {href: '#/models/' + enc(name)}, name)),
        h('div', {class: 'aliases'}, aliases.map((a) =>
          h('span', {class: 'tag alias'}, a.alias + ' → v' + a.version))),
        h('div', {class: 'spacer'}),
        h('span', {class: 'small muted'}, versions.length + ' versions')),
      h('table', {class: 't'},
        h('thead', null, h('tr', null, h('th', null, 'Version'),
          h('th', null, 'Aliases'), h('th', null, 'Registered'),
          h('th', null, 'Run'), h('th', null, 'Commit'),
          h('th', null, 'Metrics'), h('th', null, 'Artifact'))),
        h('tbody', null, versions.map((x) => h('tr', null,
          h('td', null, h('strong', null, 'v' + x.version)),
          h('td', null, x.aliases.map((a) => [h('span', {class: 'tag alias'}, a),
                                              ' '])),
          h('td', {class: 'nowrap'}, agoEl(x.created_at)),
          h('td', null, h('a', {href: runHref(x.run_id)}, '#' + x.run_id)),
          h('td', null, commitEl(x) || h('span', {class: 'muted'}, '—')),
          h('td', null, h('div', {class: 'metric-list'},
            Object.entries(x.metrics || {}).map(([k, val]) =>
              h('span', null, k + ' ', h('b', null, num(val)))))),
          h('td', {title: x.path + '\n' + x.sha256},
            x.artifact_id ? h('a', {href: '#/artifacts/' + x.artifact_id},
                              h('code', null, basename(x.path)))
                          : h('code', null, basename(x.path)),
            ' ', h('code', {class: 'muted'}, String(x.sha256).slice(0, 8))))))));
  }
}

/* An artifact's lineage. */

function artifactView(el, query, idText) {
  const id = +idText;
  const state = {dir: query.get('direction') === 'down' ? 'down' : 'up',
                 depth: +query.get('depth') || 0};
  const v = makeView(el, async () => {
    const tree = await get('artifacts/' + id + '/lineage?direction=' +
                           state.dir + (state.depth ? '&depth=' + state.depth
                                                    : ''));
    render(tree);
  });

  function render(tree) {
    const nodes = new Map(), edges = [];
    const art = (a) => {
      const k = 'a' + a.id;
      if (!nodes.has(k))
        nodes.set(k, {
          id: k, title: basename(a.path),
          sub: a.type + ' · ' + String(a.sha256).slice(0, 8) + ' · ' +
               bytes(a.size),
          cls: 'art' + (a.id === id ? ' root' : ''),
          tip: a.path + '\nsha256 ' + a.sha256 + '\n' + bytes(a.size) +
               ', ' + fmtTime(a.created_at),
          attrs: {'data-artifact': a.id},
          onclick: () => {
            location.hash = '#/artifacts/' + a.id + '?direction=' + state.dir;
          },
        });
      return k;
    };
    const exec = (x) => {
      const k = 'x' + x.execution_id;
      if (!nodes.has(k))
        nodes.set(k, {
          id: k, title: x.step, sub: x.pipeline + ' · run #' + x.run_id,
          cls: 'n-succeeded',
          tip: x.step + ' (' + x.kind + '), attempt ' + x.attempt +
               ' of run #' + x.run_id + ' of ' + x.pipeline +
               (x.git_commit ? '\ncommit ' + x.git_commit : ''),
          attrs: {'data-execution': x.execution_id},
          onclick: () => { location.hash = runHref(x.run_id, x.step); },
        });
      return k;
    };
    const walk = (a) => {
      const ak = art(a);
      if (a.produced_by) {
        const xk = exec(a.produced_by);
        edges.push([xk, ak]);
        for (const i of a.produced_by.inputs || [])
          edges.push([walk(i), xk]);
      }
      for (const x of a.used_by || []) {
        const xk = exec(x);
        edges.push([ak, xk]);
        for (const o of x.outputs || [])
          edges.push([xk, walk(o)]);
      }
      return ak;
    };
    walk(tree);
    const pb = tree.produced_by;
    document.title = 'Artifact ' + id + ' · kiln';
    fill(el,
      pageHead('Artifact #' + id, basename(tree.path), h('code', null,
                                                         tree.path),
        [h('div', {class: 'seg'}, [['up', 'Where it came from'],
                                   ['down', 'What used it']].map(([d, l]) =>
          h('button', {type: 'button', class: d === state.dir ? 'on' : null,
                       onclick: () => {
                         state.dir = d;
                         history.replaceState(null, '', '#/artifacts/' + id +
                                              '?direction=' + d);
                         v.refresh();
                       }}, l))),
         h('select', {'aria-label': 'depth', onchange: (e) => {
           state.depth = +e.target.value;
           v.refresh();
         }}, [[0, 'all levels'], [1, '1 level'], [2, '2 levels'],
              [3, '3 levels'], [5, '5 levels']].map(([d, l]) =>
           h('option', {value: d, selected: d === state.depth}, l)))]),
      panel('Lineage', h('span', {class: 'small muted'},
                         state.dir === 'up' ? 'inputs → step → output'
                                            : 'artifact → steps that read it → their outputs'),
            nodes.size > 1 ? drawGraph([...nodes.values()], edges,
                                       {maxWidth: chartWidth(),
                                        label: 'lineage of artifact ' + id})
                           : h('div', {class: 'empty'}, state.dir === 'up'
                               ? 'No recorded step made this artifact.'
                               : 'No recorded step used this artifact.')),
      h('section', {class: 'panel'}, h('h2', null, 'Artifact'), kv([
        ['Path', h('code', null, tree.path)],
        ['SHA-256', h('code', null, tree.sha256)],
        ['Size', bytes(tree.size) + (tree.is_dir ? ' (directory)' : '')],
        ['Type', tree.type],
        ['Recorded', fmtTime(tree.created_at)],
        ['Made by', pb ? h('span', null, h('a', {href: runHref(pb.run_id,
                                                               pb.step)},
                                           pb.step + ' in run #' + pb.run_id),
                           ' of ', h('a', {href: pipeHref(pb.pipeline)},
                                     pb.pipeline)) : null],
        ['Commit', pb ? commitEl(pb) : null],
      ])));
  }
  return v;
}

/* Routing. */

const routes = [
  [/^\/?$/, overviewView],
  [/^\/runs\/?$/, runsView],
  [/^\/runs\/(\d+)(?:\/steps\/([^/]+))?\/?$/, runView],
  [/^\/pipelines\/([^/]+)\/?$/, pipelineView],
  [/^\/models(?:\/([^/]+))?\/?$/, modelsView],
  [/^\/artifacts\/(\d+)\/?$/, artifactView],
];

function route() {
  const hash = location.hash.replace(/^#/, '');
  const q = hash.indexOf('?');
  const path = q < 0 ? hash : hash.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  if (view)
    view.dispose();
  view = null;
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('active', a.dataset.nav ===
      (path.startsWith('/runs') ? 'runs' : path.startsWith('/models')
                                  ? 'models' : path.startsWith('/artifacts')
                                  ? '' : 'pipelines'));
  const el = h('div', {class: 'view'}, h('p', {class: 'loading'},
                                         'Loading...'));
  fill(app, el);
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) {
      view = fn(el, query, ...m.slice(1).map((x) => x == null ? undefined
                                                              : x));
      view.refresh();
      window.scrollTo(0, 0);
      return;
    }
  }
  fill(el, errorBox('There is no page at ' + path + '. '),
                     h('a', {href: '#/'}, 'Back to the pipelines'));
}

/* Live updates. EventSource reconnects by itself (the server says retry:
 * 2000); after a gap the view reloads, since events may have been
 * missed. */

let live = false;

function setLive(on, text) {
  const el = document.getElementById('live');
  live = on;
  el.className = 'live ' + (on ? 'on' : 'off');
  el.textContent = text || (on ? 'live' : 'reconnecting');
  el.title = on ? 'Live updates: connected' : 'Live updates: not connected';
}

function connect() {
  const es = new EventSource(API + 'events');
  let down = false;
  es.addEventListener('open', () => {
    setLive(true);
    if (down && view)
      view.soon(50);
    down = false;
  });
  es.addEventListener('error', () => {
    setLive(false);
    down = true;
    if (es.readyState === EventSource.CLOSED)
      setTimeout(connect, 5000);
  });
  for (const type of ['run', 'step']) {
    es.addEventListener(type, (e) => {
      let d;
      try {
        d = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      if (view)
        view.onEvent(type, d);
    });
  }
}

/* Without the event stream, poll now and then. */
setInterval(() => {
  if (!live && view && document.visibilityState === 'visible')
    view.soon(0);
}, 10000);

document.getElementById('token').addEventListener('click', () => askToken(''));
document.getElementById('token-input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    e.preventDefault();
    document.getElementById('token-dialog').close('ok');
  }
});
setToken(token());
window.addEventListener('hashchange', route);
/* Charts and graphs are drawn for the width they had. */
window.addEventListener('resize', () => {
  if (view)
    view.soon(250);
});
route();
connect();
})();
