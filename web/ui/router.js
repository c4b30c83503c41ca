/*
 * router.js: the URL's fragment picks the view (#/, #/runs, #/runs/12,
 * #/pipelines/NAME, #/models, #/artifacts/ID, #/compare?runs=1,2,
 * #/login).
 */
import {app, fill, h} from './dom.js';
import {setView, view} from './view.js';
import {errorBox} from './widgets.js';
import {overviewView} from './view-overview.js';
import {runsView} from './view-runs.js';
import {runView} from './view-run.js';
import {pipelineView} from './view-pipeline.js';
import {modelsView} from './view-models.js';
import {artifactView} from './view-artifact.js';
import {loginView} from './view-login.js';
import {compareView} from './view-compare.js';

const routes = [
  [/^\/?$/, overviewView],
  [/^\/runs\/?$/, runsView],
  [/^\/runs\/(\d+)(?:\/steps\/([^/]+))?\/?$/, runView],
  [/^\/pipelines\/([^/]+)\/?$/, pipelineView],
  [/^\/models(?:\/([^/]+))?\/?$/, modelsView],
  [/^\/artifacts\/(\d+)\/?$/, artifactView],
  [/^\/compare\/?$/, compareView],
  [/^\/login\/?$/, loginView],
];

export function route() {
  const hash = location.hash.replace(/^#/, '');
  const q = hash.indexOf('?');
  const path = q < 0 ? hash : hash.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  if (view)
    view.dispose();
  setView(null);
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('active', a.dataset.nav ===
      (path.startsWith('/runs') ? 'runs' : path.startsWith('/models')
                                  ? 'models' : path.startsWith('/artifacts') ||
                                    path.startsWith('/login')
                                  ? '' : 'pipelines'));
  const el = h('div', {class: 'view'}, h('p', {class: 'loading'},
                                         'Loading...'));
  fill(app, el);
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) {
      const args = m.slice(1).map((x) => x == null ? undefined : x);
      setView(fn(el, query, ...args));
      view.refresh();
      window.scrollTo(0, 0);
      return;
    }
  }
  fill(el, errorBox('There is no page at ' + path + '. '),
                     h('a', {href: '#/'}, 'Back to the pipelines'));
}
