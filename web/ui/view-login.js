/*
 * view-login.js: #/login, signing in with a token from kiln tokens create.
 */
import {h, fill} from './dom.js';
import {login, me} from './api.js';
import {errorBox, pageHead} from './widgets.js';

export function loginView(el) {
  let busy = false;
  const input = h('input', {type: 'password', name: 'token', id: 'login-token',
                            autocomplete: 'current-password',
                            placeholder: 'kiln_…', 'aria-label': 'Token'});
  const why = h('p', {class: 'error-text', id: 'login-why'});
  const form = h('form', {class: 'panel login', onsubmit: async (e) => {
    e.preventDefault();
    if (busy || !input.value.trim())
      return;
    busy = true;
    why.textContent = '';
    try {
      await login(input.value.trim());
      location.hash = '#/';
    } catch (err) {
      why.textContent = err.status === 401 ? 'The token was refused: ' +
                        err.message : err.message;
    } finally {
      busy = false;
    }
  }},
    h('label', {for: 'login-token'}, 'Token'),
    input,
    h('p', {class: 'muted small'}, 'A token from ', h('code', null,
      'kiln tokens create USER'), '. The page keeps only a session cookie, ' +
      'which ends when you log out, after 12 hours, or when the token is ' +
      'revoked.'),
    why,
    h('button', {class: 'btn primary', type: 'submit'}, 'Log in'));
  return {
    refresh() {
      const s = me();
      fill(el, pageHead(null, 'Log in', s.user
                        ? 'Signed in as ' + s.user + ' (' + s.role + ')' : null),
           s.anonymous_reads || s.user ? null
             : errorBox('This kiln serve shows nothing until you log in.'),
           form);
      input.focus();
    },
    soon() {},
    /* events.js tells every view of runs and steps: nothing here. */
    onEvent() {},
    dispose() { this.dead = true; },
  };
}
