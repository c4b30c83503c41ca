/*
 * view-models.js: #/models and #/models/NAME, the model registry: each
 * model's versions (immutable, known by the hash of their bytes), with
 * their aliases, run, commit, the params of the run that made them, their
 * key metrics and artifacts; the history of the aliases (who moved which
 * alias from which version to which, and when); on a model's page, every
 * run of its deploy command and how it ended; and for operators and
 * admins Promote (point an alias at a version) and Roll back (an alias to
 * the version it held before), each asked for in a dialog first.
 */
import {fill, h} from './dom.js';
import {basename, enc, fmtTime, num, runHref} from './format.js';
import {can, get, post} from './api.js';
import {makeView, view} from './view.js';
import {agoEl, badge, commitEl, confirmDialog, hashEl, pageHead, toast}
  from './widgets.js';

/* Why these key metrics, for their title. */
const KEY_FROM = {
  'gates': 'the metrics the run\'s gates (when:) read',
  'registering step': 'the first metrics of the step that registered it',
  'run': 'the first metrics of the run that made it',
};

/* How many versions a model has: numbers count from 1 and its newest
 * is always listed, so the newest one's number. */
function countOf(versions) {
  return Math.max(0, ...versions.map((x) => x.version));
}

export function modelsView(el, query, only) {
  only = only ? decodeURIComponent(only) : null;
  /* ?all: every version and move (the API gives the newest by default). */
  const all = query.has('all');
  const v = makeView(el, async () => {
    const m = await get((only ? 'models/' + enc(only) : 'models') +
                        (all ? '?limit=0&history=0' : ''));
    const names = [...new Set(m.versions.map((x) => x.name))];
    const total = names.reduce((sum, n) =>
      sum + countOf(m.versions.filter((x) => x.name === n)), 0);
    document.title = 'Models · kiln';
    fill(el,
      pageHead(only ? [h('a', {href: '#/models'}, 'Models'), ' / '] : null,
               only || 'Models',
               names.length + (names.length === 1 ? ' model, ' : ' models, ') +
               total + (total === 1 ? ' version' : ' versions')),
      names.length ? names.map((n) => model(n, m.versions.filter((x) =>
                                               x.name === n),
                                             m.aliases.filter((a) =>
                                               a.name === n),
                                             (m.history || []).filter((x) =>
                                               x.name === n),
                                             m.deploys, m.limit))
                   : h('div', {class: 'panel empty'}, 'No models registered ' +
                       'yet. A step registers one with register: {model, path}.'));
  }, {
    onEvent(type, d) {
      if (type === 'run' && d.status === 'succeeded')
        view.soon(500);
    },
  });
  return v;

  /* Point alias of name at version (or back, with rollback), once asked. */
  async function move(name, alias, version, rollback) {
    try {
      const r = await post('models/' + enc(name) + '/aliases/' + enc(alias) +
                           (rollback ? '/rollback' : ''),
                           rollback ? {} : {version});
      if (!r)
        return;
      toast(name + ': ' + alias + ' → v' + r.body.version + '.', 'ok');
    } catch (e) {
      toast('Could not ' + (rollback ? 'roll back ' : 'promote to ') + alias +
            ': ' + e.message, 'err');
    }
    v.refresh();
  }

  /* Promote: which alias (the model's own, or a new name), then ok. */
  function promote(name, x, aliases) {
    const current = aliases.map((a) => a.alias);
    const input = h('input', {type: 'text', name: 'alias', list: 'aliases-' +
                              name, value: current.includes('production') ||
                              !current.length ? 'production' : current[0],
                              'aria-label': 'alias', required: true,
                              pattern: '[A-Za-z0-9_.\\-]+'});
    const dlg = h('dialog', {class: 'promote', 'data-for': name,
                             'data-version': x.version},
      h('form', {method: 'dialog'},
        h('h3', null, 'Promote ' + name + ' v' + x.version),
        h('p', null, 'Point an alias at v' + x.version + ' (made by run #' +
          x.run_id + '). Whoever pulls the alias gets these bytes.'),
        h('label', null, 'Alias'), input,
        h('datalist', {id: 'aliases-' + name},
          current.map((a) => h('option', {value: a}))),
        h('p', {class: 'small muted', 'data-now': ''}),
        h('menu', null,
          h('button', {value: 'cancel', class: 'btn ghost', type: 'submit',
                       formnovalidate: true}, 'Cancel'),
          h('button', {value: 'ok', class: 'btn primary', type: 'submit'},
            'Promote'))));
    const now = dlg.querySelector('[data-now]');
    const say = () => {
      const a = aliases.find((y) => y.alias === input.value);
      now.textContent = a ? input.value + ' now points at v' + a.version +
                            '.' : input.value ? input.value + ' is new.' : '';
    };
    input.addEventListener('input', say);
    say();
    document.body.append(dlg);
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (dlg.returnValue === 'ok' && input.value)
        move(name, input.value, x.version, false);
    });
    dlg.showModal();
  }

  async function rollback(name, a, history) {
    /* The version it held before, as the history has it. */
    const moves = history.filter((y) => y.alias === a.alias);
    const last = moves[moves.length - 1];
    const back = last && last.from != null ? ' back to v' + last.from : ' back';
    if (await confirmDialog('Roll back ' + a.alias + ' of ' + name + '?',
                            a.alias + ' points at v' + a.version + '; it ' +
                            'goes' + back + ', the version that held it ' +
                            'before.', 'Roll back', 'danger'))
      move(name, a.alias, 0, true);
  }

  /* Retire: the alias points nowhere (a challenger that lost), once
   * asked; a rollback brings the version back. */
  async function retire(name, a) {
    if (!await confirmDialog('Retire ' + a.alias + ' of ' + name + '?',
                             a.alias + ' points at v' + a.version + '; ' +
                             'afterwards it points nowhere, and whoever ' +
                             'pulls ' + name + '@' + a.alias + ' gets ' +
                             'nothing. Roll back brings v' + a.version +
                             ' back.', 'Retire', 'danger'))
      return;
    try {
      const r = await post('models/' + enc(name) + '/aliases/' +
                           enc(a.alias) + '/retire', {});
      if (r)
        toast(name + ': ' + a.alias + ' retired (was v' + r.body.was + ').',
              'ok');
    } catch (e) {
      toast('Could not retire ' + a.alias + ': ' + e.message, 'err');
    }
    v.refresh();
  }

  function aliasTag(name, a, history) {
    return h('span', {class: 'alias-move', 'data-alias': a.alias},
      h('span', {class: 'tag alias'}, a.alias + ' → v' + a.version),
      can('operator')
          ? [h('button', {class: 'btn ghost small', type: 'button',
                          'data-rollback': a.alias,
                          title: 'Point ' + a.alias + ' back at the ' +
                                 'version that held it before',
                          onclick: () => rollback(name, a, history)},
               '↶ Roll back'),
             h('button', {class: 'btn ghost small', type: 'button',
                          'data-retire': a.alias,
                          title: 'Point ' + a.alias + ' nowhere',
                          onclick: () => retire(name, a)},
               '✕ Retire')]
          : null);
  }

  function params(x) {
    const list = Object.entries(x.params || {});
    if (!list.length)
      return h('span', {class: 'muted'}, '—');
    return h('div', {class: 'metric-list params'}, list.map(([k, val]) =>
      h('span', {'data-param': k}, k + '=', h('b', null, String(val)))));
  }

  function keyMetrics(x) {
    const list = Object.entries(x.key_metrics || {});
    if (!list.length)
      return h('span', {class: 'muted'}, '—');
    return h('div', {class: 'metric-list key-metrics',
                     title: 'Key metrics: ' + KEY_FROM[x.key_metrics_from] +
                            ' (all of them on the run\'s page)'},
      list.map(([k, val]) => h('span', {'data-metric': k}, k + ' ',
                              h('b', null, num(val)))));
  }

  /* What the newest step that read this version as NAME@ALIAS recorded
   * under ALIAS.KEY: its live metrics (a monitor's, in shadow or in
   * production). */
  function liveMetrics(x) {
    const list = Object.entries(x.live_metrics || {});
    if (!list.length)
      return h('span', {class: 'muted'}, '—');
    return h('div', {class: 'metric-list live-metrics',
                     title: 'Live metrics: recorded by run #' +
                            x.live_metrics_run + ', which read this version'},
      list.map(([k, val]) => h('span', {'data-live': k},
                              k.replace(/^[^.]*\./, '') + ' ',
                              h('b', null, num(val)))),
      h('a', {class: 'small', href: runHref(x.live_metrics_run)},
        'run #' + x.live_metrics_run));
  }

  function historyTable(history) {
    if (!history.length)
      return null;
    return h('details', {class: 'history', open: true},
      h('summary', null, 'Alias history (' + history.length + ')'),
      h('table', {class: 't cards compact history'},
        h('thead', null, h('tr', null, h('th', null, 'When'),
          h('th', null, 'Alias'), h('th', null, 'From → to'),
          h('th', null, 'By'), h('th', null, 'Via'), h('th', null, 'What'))),
        h('tbody', null, history.slice().reverse().map((y) =>
          h('tr', {'data-audit': y.audit_id, 'data-alias': y.alias},
            h('td', {class: 'nowrap', 'data-label': 'When',
                     title: fmtTime(y.at)}, agoEl(y.at)),
            h('td', {'data-label': 'Alias'},
              h('span', {class: 'tag alias'}, y.alias)),
            h('td', {class: 'nowrap', 'data-label': 'From → to'},
              (y.from != null ? 'v' + y.from : '—') + ' → ' +
              (y.to ? 'v' + y.to : y.to === 0 ? 'none' : '—')),
            h('td', {'data-label': 'By', 'data-by': y.by}, y.by),
            h('td', {'data-label': 'Via'}, y.via),
            h('td', {'data-label': 'What'},
              y.action.replace(/^alias\./, '').replace('_', ' ')))))));
  }

  /* A model's page: every run of its deploy command, newest first, and
   * how it ended: moved (the alias followed), failed (it did not: an
   * exit status, or never started), lost (its end is unknown). */
  function deploysTable(deploys) {
    if (!deploys || !deploys.length)
      return null;
    const looks = {moved: 'succeeded', failed: 'failed', lost: 'lost'};
    return h('details', {class: 'history deploys', open: true},
      h('summary', null, 'Deploy commands (' + deploys.length + ')'),
      h('table', {class: 't cards compact deploys'},
        h('thead', null, h('tr', null, h('th', null, 'Started'),
          h('th', null, 'Alias'), h('th', null, 'Version'),
          h('th', null, 'By'), h('th', null, 'Via'),
          h('th', null, 'Outcome'), h('th', null, 'How it ended'))),
        h('tbody', null, deploys.slice().reverse().map((d) =>
          h('tr', {'data-deploy': d.id, 'data-outcome': d.outcome || 'running'},
            h('td', {class: 'nowrap', 'data-label': 'Started',
                     title: fmtTime(d.started_at)}, agoEl(d.started_at)),
            h('td', {'data-label': 'Alias'},
              h('span', {class: 'tag alias'}, d.alias)),
            h('td', {class: 'nowrap', 'data-label': 'Version'},
              (d.action === 'rollback' ? 'back to v' : 'v') + d.version),
            h('td', {'data-label': 'By'}, d.by || '—'),
            h('td', {'data-label': 'Via'}, d.via || '—'),
            h('td', {'data-label': 'Outcome'},
              d.outcome ? badge(looks[d.outcome] || 'lost', d.outcome)
                        : badge('running')),
            h('td', {'data-label': 'How it ended'},
              d.detail || h('span', {class: 'muted'}, '—')))))));
  }

  /* The versions not listed: the API gives the newest limit of them and
   * those an alias points at. */
  function moreVersions(name, versions, limit) {
    const total = countOf(versions);
    if (!limit || versions.length >= total)
      return null;
    return h('div', {class: 'panel-foot small muted', 'data-more': total},
      'The newest ' + limit + ' of ' + total + ' versions, and those an ' +
      'alias points at. ',
      h('a', {href: '#/models/' + enc(name) + '?all'}, 'All ' + total +
        ' versions'));
  }

  function model(name, versions, aliases, history, deploys, limit) {
    const ops = can('operator');
    return h('section', {class: 'panel flush model', 'data-model': name},
      h('div', {class: 'panel-head'},
        h('h2', null, h('a', {href: '#/models/' + enc(name)}, name)),
        h('div', {class: 'aliases'}, aliases.map((a) =>
          aliasTag(name, a, history))),
        h('div', {class: 'spacer'}),
        h('span', {class: 'small muted'}, countOf(versions) +
          (countOf(versions) === 1 ? ' version' : ' versions'))),
      h('table', {class: 't cards versions'},
        h('thead', null, h('tr', null, h('th', null, 'Version'),
          h('th', null, 'SHA-256'), h('th', null, 'Aliases'),
          h('th', null, 'Registered'), h('th', null, 'Run'),
          h('th', null, 'Commit'), h('th', null, 'Params'),
          h('th', null, 'Key metrics'), h('th', null, 'Live metrics'),
          h('th', null, 'Artifact'),
          ops ? h('th', null, '') : null)),
        h('tbody', null, versions.map((x) => h('tr', {'data-version':
                                                        x.version},
          h('td', {'data-label': 'Version'},
            h('strong', null, 'v' + x.version)),
          h('td', {'data-label': 'SHA-256'}, hashEl(x.sha256)),
          h('td', {'data-label': 'Aliases'},
            x.aliases.length ? x.aliases.map((a) =>
              [h('span', {class: 'tag alias'}, a), ' '])
                             : h('span', {class: 'muted'}, '—')),
          h('td', {class: 'nowrap', 'data-label': 'Registered'},
            agoEl(x.created_at)),
          h('td', {'data-label': 'Run'},
            h('a', {href: runHref(x.run_id)}, '#' + x.run_id)),
          h('td', {'data-label': 'Commit'},
            commitEl(x) || h('span', {class: 'muted'}, '—')),
          h('td', {'data-label': 'Params'}, params(x)),
          h('td', {'data-label': 'Key metrics'}, keyMetrics(x)),
          h('td', {'data-label': 'Live metrics'}, liveMetrics(x)),
          /* The lineage of the bytes as the run that registered them
           * made them (other runs may have made the same bytes). */
          h('td', {'data-label': 'Artifact', title: x.path},
            x.artifact_id
                ? h('a', {href: '#/artifacts/' + x.artifact_id + '?run=' +
                                x.run_id}, h('code', null, basename(x.path)))
                : h('code', null, basename(x.path))),
          ops ? h('td', {'data-label': ''},
                  h('button', {class: 'btn small', type: 'button',
                               'data-promote': x.version,
                               title: 'Point an alias at v' + x.version,
                               onclick: () => promote(name, x, aliases)},
                    '⇧ Promote'))
              : null)))),
      moreVersions(name, versions, limit),
      historyTable(history),
      deploysTable(deploys));
  }
}
