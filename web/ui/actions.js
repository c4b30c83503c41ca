/*
 * actions.js: starting runs: Run now, and Run with params (shown to
 * operators and admins only). A run that started opens its page; one
 * queued or refused is told in a message.
 */
import {h} from './dom.js';
import {enc, runHref} from './format.js';
import {can, post} from './api.js';
import {view} from './view.js';
import {toast} from './widgets.js';

async function startRun(name, params) {
  try {
    const r = await post('pipelines/' + enc(name) + '/runs',
                         params ? {params} : {});
    if (!r)
      return;
    if (r.status === 201 && r.body.run_id) {
      /* Started: its page, where it goes on live. */
      toast('Started run #' + r.body.run_id + ' of ' + name + '.', 'ok',
            {href: runHref(r.body.run_id), text: 'Open'});
      location.hash = runHref(r.body.run_id);
      return;
    }
    if (r.body.run_id)
      toast('Run #' + r.body.run_id + ' of ' + name + ' ' + r.body.status +
            '.', 'ok', {href: runHref(r.body.run_id), text: 'Open'});
    else
      toast(name + ': ' + r.body.status +
            (r.body.reason ? ' (' + r.body.reason + ')' : ''));
    if (view)
      view.soon(50);
  } catch (e) {
    toast('Could not start ' + name + ': ' + e.message, 'err');
  }
}

export function runNowButton(name) {
  if (!can('operator'))
    return null;
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
export function paramsButton(p) {
  const names = Object.keys(p.params || {});
  if (!names.length || !can('operator'))
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
