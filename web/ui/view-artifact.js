/*
 * view-artifact.js: #/artifacts/ID, an artifact's lineage as a graph, up
 * (where it came from) or down (what used it), and every execution that
 * made its bytes. #/artifacts/ID?run=N answers for run N: its own
 * producer (or, when run N only read the artifact, the one it read), and
 * going down only run N's steps.
 */
import {fill, h} from './dom.js';
import {basename, bytes, fmtTime, pipeHref, runHref} from './format.js';
import {get} from './api.js';
import {makeView} from './view.js';
import {agoEl, commitEl, kv, pageHead, panel, typeTag} from './widgets.js';
import {drawGraph} from './dag.js';
import {chartWidth} from './charts.js';

/* The page of artifact id, direction dir, for run (0: none). */
export function artifactHref(id, dir, run) {
  return '#/artifacts/' + id + '?direction=' + (dir || 'up') +
         (run ? '&run=' + run : '');
}

/* "make in run #2 of churn": an execution of the lineage. */
function execName(x) {
  return x.step + ' in run #' + x.run_id + ' of ' + x.pipeline;
}

export function artifactView(el, query, idText) {
  const id = +idText;
  const state = {dir: query.get('direction') === 'down' ? 'down' : 'up',
                 depth: +query.get('depth') || 0,
                 run: +query.get('run') || 0};
  const go = () => {
    history.replaceState(null, '', artifactHref(id, state.dir, state.run) +
                         (state.depth ? '&depth=' + state.depth : ''));
    v.refresh();
  };
  const v = makeView(el, async () => {
    const tree = await get('artifacts/' + id + '/lineage?direction=' +
                           state.dir + (state.depth ? '&depth=' + state.depth
                                                    : '') +
                           (state.run ? '&run=' + state.run : ''));
    render(tree);
  });

  function render(tree) {
    const nodes = new Map(), edges = [];
    /* An artifact node; run: the run to ask about it when it is opened
     * (the one that made the bytes shown here, or read them). */
    const art = (a, run) => {
      const k = 'a' + a.id;
      const others = (a.producers || []).filter((p) =>
        !a.produced_by || p.execution_id !== a.produced_by.execution_id);
      if (!nodes.has(k))
        nodes.set(k, {
          id: k, title: basename(a.path),
          sub: a.type + ' · ' + String(a.sha256).slice(0, 8) + ' · ' +
               bytes(a.size),
          /* Made by several executions: how many (the list on hover). */
          pill: others.length ? '×' + (others.length + 1) : null,
          cls: 'art' + (a.id === id ? ' root' : '') +
               (others.length ? ' multi' : ''),
          tip: a.path + '\nsha256 ' + a.sha256 + '\n' + bytes(a.size) +
               ', ' + fmtTime(a.created_at) +
               (a.produced_by ? '\nmade by ' + execName(a.produced_by) : '') +
               others.slice(0, 8).map((p) => '\nalso made by ' +
                                             execName(p)).join('') +
               (others.length > 8 ? '\nand ' + (others.length - 8) +
                                    ' more' : ''),
          attrs: {'data-artifact': a.id},
          onclick: () => {
            location.hash = artifactHref(a.id, state.dir, run);
          },
        });
      return k;
    };
    const exec = (x) => {
      const k = 'x' + x.execution_id;
      if (!nodes.has(k))
        nodes.set(k, {
          id: k, title: x.step, sub: x.pipeline + ' · run #' + x.run_id,
          cls: x.cached_from ? 'n-cached' : 'n-succeeded',
          tip: x.step + ' (' + x.kind + '), attempt ' + x.attempt +
               ' of run #' + x.run_id + ' of ' + x.pipeline +
               (x.git_commit ? '\ncommit ' + x.git_commit : '') +
               (x.cached_from ? '\nserved from the cache' : ''),
          attrs: {'data-execution': x.execution_id, 'data-run': x.run_id},
          onclick: () => { location.hash = runHref(x.run_id, x.step); },
        });
      return k;
    };
    const walk = (a, run) => {
      const ak = art(a, run);
      if (a.produced_by) {
        const xk = exec(a.produced_by);
        edges.push([xk, ak]);
        for (const i of a.produced_by.inputs || [])
          edges.push([walk(i, i.produced_by ? i.produced_by.run_id
                                            : a.produced_by.run_id), xk]);
      }
      for (const x of a.used_by || []) {
        const xk = exec(x);
        edges.push([ak, xk]);
        for (const o of x.outputs || [])
          edges.push([xk, walk(o, x.run_id)]);
      }
      return ak;
    };
    walk(tree, state.run);
    const pb = tree.produced_by;
    document.title = 'Artifact ' + id + ' · kiln';
    fill(el,
      pageHead('Artifact #' + id, basename(tree.path),
        [h('code', null, tree.path), forRun(tree)],
        [h('div', {class: 'seg'}, [['up', 'Where it came from'],
                                   ['down', 'What used it']].map(([d, l]) =>
          h('button', {type: 'button', class: d === state.dir ? 'on' : null,
                       onclick: () => {
                         state.dir = d;
                         go();
                       }}, l))),
         h('select', {'aria-label': 'depth', onchange: (e) => {
           state.depth = +e.target.value;
           go();
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
                               : state.run ? 'No step of run #' + state.run +
                                             ' used this artifact.'
                                           : 'No recorded step used this artifact.')),
      producers(tree),
      h('section', {class: 'panel'}, h('h2', null, 'Artifact'), kv([
        ['Path', h('code', null, tree.path)],
        ['SHA-256', h('code', {class: 'full-hash'}, tree.sha256)],
        ['Size', bytes(tree.size) + (tree.is_dir ? ' (directory)' : '')],
        ['Type', typeTag(tree.type)],
        ['Recorded', fmtTime(tree.created_at)],
        ['Made by', pb ? h('span', null, h('a', {href: runHref(pb.run_id,
                                                               pb.step)},
                                           pb.step + ' in run #' + pb.run_id),
                           ' of ', h('a', {href: pipeHref(pb.pipeline)},
                                     pb.pipeline)) : null],
        ['Commit', pb ? commitEl(pb) : null],
      ])));
  }

  /* Whose answer this is: run N's (with the way back to every run's),
   * or the newest producer's. */
  function forRun(tree) {
    if (!state.run)
      return null;
    const pb = tree.produced_by;
    const how = state.dir === 'down' ? 'only the steps of run #' + state.run
        : pb && pb.run_id === state.run ? 'as run #' + state.run + ' made it'
        : 'as run #' + state.run + ' read it';
    return h('div', {class: 'for-run small', 'data-run': state.run},
             how + ' · ', h('a', {href: artifactHref(id, state.dir, 0)},
                            state.dir === 'down' ? 'all runs'
                                                 : 'the newest run\'s'));
  }

  /* Every execution that made these bytes, newest first: the one the
   * graph follows, and the others ("also made by"). */
  function producers(tree) {
    const list = tree.producers;
    if (state.dir !== 'up' || !list || list.length < 2)
      return null;
    const pb = tree.produced_by;
    const followed = (p) => pb && p.execution_id === pb.execution_id;
    const shown = list.slice(0, 50);
    return panel('Made by', h('span', {class: 'small muted'},
                              list.length + ' executions made these bytes, ' +
                              'newest first'),
      h('ul', {class: 'producers'}, shown.map((p) =>
        h('li', {'data-execution': p.execution_id, 'data-run': p.run_id,
                 class: followed(p) ? 'followed' : null},
          h('span', {class: 'who'},
            followed(p) ? null : h('span', {class: 'muted'}, 'also made by '),
            'step ', h('strong', null, p.step), ' of ',
            h('a', {href: runHref(p.run_id, p.step)}, 'run #' + p.run_id),
            ' (', h('a', {href: pipeHref(p.pipeline)}, p.pipeline), ')'),
          h('span', {class: 'what small'},
            p.git_commit ? ['commit ', commitEl(p)]
                         : h('span', {class: 'muted'}, 'no commit'),
            ' · ', agoEl(p.finished_at || p.started_at),
            p.cached_from ? [' · ', h('span', {class: 'tag'},
                                      'served from the cache')] : null),
          h('span', {class: 'act small'},
            followed(p) ? h('span', {class: 'tag'}, 'in the graph')
                        : h('a', {href: artifactHref(id, 'up', p.run_id)},
                            'its lineage ›'))))),
      list.length > shown.length
          ? h('div', {class: 'small muted', style: 'padding:0 18px 12px'},
              'and ' + (list.length - shown.length) + ' earlier') : null);
  }
  return v;
}
