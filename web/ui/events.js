/*
 * events.js: live updates. One EventSource on /api/v1/events tells the
 * view on show when a run or a step changes. EventSource reconnects by
 * itself (the server says retry: 2000) with Last-Event-ID, and the server
 * replays what it kept since (or says "reset"); after a gap the view
 * reloads all the same.
 */
import {API, loadSession} from './api.js';
import {view} from './view.js';

let live = false;

function setLive(on, text) {
  const el = document.getElementById('live');
  live = on;
  el.className = 'live ' + (on ? 'on' : 'off');
  el.textContent = text || (on ? 'live' : 'reconnecting');
  el.title = on ? 'Live updates: connected' : 'Live updates: not connected';
}

export function connect() {
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
  /* Reconnecting, EventSource names the last event it saw and the server
   * sends what came since; when it no longer has all of it, "reset". */
  es.addEventListener('reset', () => {
    if (view)
      view.soon(50);
  });
  /* The session or token that opened the stream ended (a logout, an
   * expiry, a revoked token): the header shows who we are now. */
  es.addEventListener('signed-out', () => {
    loadSession();
    if (view)
      view.soon(50);
  });
  for (const type of ['run', 'step', 'pipelines']) {
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
