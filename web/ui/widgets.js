/*
 * widgets.js: the small pieces every view uses: badges, panels, key-value
 * lists, times that stay fresh, commits, messages.
 */
import {h} from './dom.js';
import {ago, fmtTime} from './format.js';

/* "5 min ago", kept fresh by the ticker below. */
export function agoEl(ms, cls) {
  return h('span', {class: cls || null, title: fmtTime(ms),
                    'data-t': ms || null}, ago(ms));
}
setInterval(() => {
  for (const el of document.querySelectorAll('[data-t]'))
    el.textContent = ago(+el.dataset.t);
}, 5000);

export function badge(status, label, title) {
  return h('span', {class: 'badge s-' + status, title: title || null},
           label || status.replace('_', ' '));
}

/* A run's status; one whose kiln process is gone says so. */
export function runBadge(run) {
  if (run.orphaned)
    return badge('lost', 'orphaned', 'The kiln process that ran it is gone: ' +
                 '`kiln resume ' + run.id + '` takes it over (kiln serve ' +
                 'does by itself), `kiln abandon ' + run.id + '` ends it.');
  return badge(run.status);
}

export function kv(rows) {
  const dl = h('dl', {class: 'kv'});
  for (const [k, v] of rows)
    if (v != null && v !== '' && !(Array.isArray(v) && !v.length))
      dl.append(h('dt', null, k), h('dd', null, v));
  return dl;
}

export function panel(title, extra, ...body) {
  return h('section', {class: 'panel flush'},
           h('div', {class: 'panel-head'}, h('h2', null, title),
             h('div', {class: 'spacer'}), extra),
           body);
}

/* Which disclosures are open, by key: views are rebuilt on every
 * change, and an opened one stays open. */
const opened = new Set();

export function rawJson(label, value, key) {
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

export function commitEl(r) {
  if (!r.git_commit)
    return null;
  return h('span', {class: 'nowrap', title: r.git_commit},
           h('code', null, r.git_commit.slice(0, 10)),
           r.git_branch ? [' ', h('span', {class: 'tag'}, r.git_branch)] : null,
           r.git_dirty ? [' ', h('span', {class: 'tag dirty',
                                          title: 'uncommitted changes'},
                                 'dirty')] : null);
}

/* A content hash: its first n (12) hex digits on show, the whole of it in the
 * element (double-click selects it all, copying gives all of it) and in
 * its title; a click selects it and copies it where the browser lets the
 * page write the clipboard. */
export function hashEl(sha, n) {
  if (!sha)
    return h('span', {class: 'muted'}, '—');
  sha = String(sha);
  const el = h('code', {class: 'hash', style: n ? 'width:' + n + 'ch' : null,
                        title: 'sha256 ' + sha + '\n(click to copy)',
                        'data-sha256': sha}, sha);
  el.addEventListener('click', () => {
    getSelection().selectAllChildren(el);
    if (navigator.clipboard && window.isSecureContext)
      navigator.clipboard.writeText(sha).then(
        () => toast('Copied sha256 ' + sha.slice(0, 12) + '…', 'ok'),
        () => {});
  });
  return el;
}

/* An artifact's type: model (register:), metrics (metrics:) or file, by
 * what declared it. Records made before types meant that still say
 * dataset or deployment (by the step's kind): shown as they are. */
export function typeTag(type) {
  return h('span', {class: 'tag type ty-' + String(type).replace(/\W/g, ''),
                    'data-type': type}, type || '—');
}

export function pageHead(crumbs, title, sub, actions) {
  return h('div', {class: 'page-head'},
           h('div', {class: 'titles'},
             crumbs ? h('div', {class: 'crumbs'}, crumbs) : null,
             h('h1', null, title),
             sub ? h('div', {class: 'sub'}, sub) : null),
           actions ? h('div', {class: 'actions'}, actions) : null);
}

/* Messages. */

export function toast(msg, kind, link) {
  const el = h('div', {class: 'toast ' + (kind || ''), role: 'status',
                      title: 'click to dismiss',
                      onclick: (e) => e.target === el && el.remove()}, msg,
               link ? [' ', h('a', {href: link.href,
                                    style: 'color:#fff;text-decoration:underline'},
                              link.text)] : null);
  document.getElementById('toasts').append(el);
  setTimeout(() => el.remove(), kind === 'err' ? 10000 : 5000);
}

/* Ask before doing something (an in-page dialog: the browser's own
 * confirm() blocks the page). Resolves to true when ok was chosen;
 * Escape or the other button (no: 'Cancel') resolve to false. kind
 * 'danger' paints ok red. */
export function confirmDialog(title, text, ok, kind, no) {
  return new Promise((resolve) => {
    const dlg = h('dialog', {class: 'confirm', 'data-confirm': ok},
      h('form', {method: 'dialog'},
        h('h3', null, title),
        text ? h('p', null, text) : null,
        h('menu', null,
          h('button', {value: 'cancel', class: 'btn ghost', type: 'submit'},
            no || 'Cancel'),
          h('button', {value: 'ok', type: 'submit',
                       class: 'btn ' + (kind === 'danger' ? 'danger'
                                                          : 'primary')},
            ok))));
    document.body.append(dlg);
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(dlg.returnValue === 'ok');
    });
    dlg.showModal();
  });
}

export function errorBox(msg, retry, label) {
  return h('div', {class: 'error-box', role: 'alert'}, msg,
           retry ? [' ', h('button', {class: 'btn small', type: 'button',
                                      onclick: retry}, label || 'Try again')]
                 : null);
}
