/*
 * view-artifact.js: #/artifacts/ID, an artifact's lineage as a graph, up
 * (where it came from) or down (what used it).
 */
import {fill, h} from './dom.js';
import {basename, bytes, fmtTime, pipeHref, runHref} from './format.js';
import {get} from './api.js';
import {makeView} from './view.js';
import {commitEl, kv, pageHead, panel} from './widgets.js';
import {drawGraph} from './dag.js';
import {chartWidth} from './charts.js';

export function artifactView(el, query, idText) {
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
