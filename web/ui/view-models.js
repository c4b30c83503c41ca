/*
 * view-models.js: #/models and #/models/NAME, the model registry: each
 * model's versions (immutable, known by the hash of their bytes), with
 * their aliases, run, commit, metrics and artifacts.
 */
import {fill, h} from './dom.js';
import {basename, enc, num, runHref} from './format.js';
import {get} from './api.js';
import {makeView, view} from './view.js';
import {agoEl, commitEl, hashEl, pageHead} from './widgets.js';

export function modelsView(el, query, only) {
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
      h('table', {class: 't cards'},
        h('thead', null, h('tr', null, h('th', null, 'Version'),
          h('th', null, 'SHA-256'), h('th', null, 'Aliases'),
          h('th', null, 'Registered'), h('th', null, 'Run'),
          h('th', null, 'Commit'), h('th', null, 'Metrics'),
          h('th', null, 'Artifact'))),
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
          h('td', {'data-label': 'Metrics'},
            Object.keys(x.metrics || {}).length
                ? h('div', {class: 'metric-list'},
                    Object.entries(x.metrics).map(([k, val]) =>
                      h('span', null, k + ' ', h('b', null, num(val)))))
                : h('span', {class: 'muted'}, '—')),
          /* The lineage of the bytes as the run that registered them
           * made them (other runs may have made the same bytes). */
          h('td', {'data-label': 'Artifact', title: x.path},
            x.artifact_id
                ? h('a', {href: '#/artifacts/' + x.artifact_id + '?run=' +
                                x.run_id}, h('code', null, basename(x.path)))
                : h('code', null, basename(x.path))))))));
  }
}
