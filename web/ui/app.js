/*
 * app.js: the kiln status page.
 *
 * Hash routes (#/, #/runs, #/runs/12, #/pipelines/NAME, #/models,
 * #/artifacts/ID) pick a view; a view loads what it shows from /api/v1 and
 * builds its DOM with h() and svg(), which put every string in as a text
 * node or an attribute, never as HTML. One EventSource on /api/v1/events
 * tells the current view when a run or a step changes; the view fetches
 * again, at most every few hundred milliseconds. Graphs, charts and the
 * timeline are SVG drawn here: no framework, no build step. Each part is
 * an ES module (index.html loads this one; the browser follows the
 * imports):
 *
 *   dom.js       h() and svg()
 *   format.js    times, durations, numbers, sizes, links
 *   widgets.js   badges, panels, times kept fresh, messages
 *   api.js       the API, and who is signed in (a session cookie)
 *   view.js      the view on show, and what every view does
 *   actions.js   Run now, Run with params
 *   runs.js      runs tables, marks, pager, triggers, step states
 *   dag.js       graph layout and drawing
 *   charts.js    line charts
 *   router.js    the fragment picks the view
 *   events.js    live updates
 *   view-*.js    one file per view (view-login.js: #/login)
 */
import {loadSession, logout, me} from './api.js';
import {view} from './view.js';
import {route} from './router.js';
import {connect} from './events.js';

document.getElementById('login').addEventListener('click', async () => {
  if (!me().user) {
    location.hash = '#/login';
    return;
  }
  await logout();
  route();
});
await loadSession();
window.addEventListener('hashchange', route);
/* Charts and graphs are drawn for the width they had. */
window.addEventListener('resize', () => {
  if (view)
    view.soon(250);
});
route();
connect();
