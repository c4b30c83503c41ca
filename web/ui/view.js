/*
 * view.js: the view on show, and what every view does: load, show what
 * went wrong, refresh when told.
 */
import {fill} from './dom.js';
import {HttpError} from './api.js';
import {errorBox, toast} from './widgets.js';

/* Views. Each view owns a container and reloads itself with refresh();
 * soon() coalesces the refreshes that a burst of events asks for. */

export let view = null;

/* Only the router changes the view on show. */
export function setView(v) {
  view = v;
}

export function makeView(el, load, opts) {
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
            /* Beyond loopback, reading needs a login too. */
            fill(el, errorBox('Log in to see this (' + e.message + '). ',
                              () => { location.hash = '#/login'; },
                              'Log in'));
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
