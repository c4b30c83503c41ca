/*
 * api.js: the JSON API under /api/v1, and the token that changes need
 * (asked for once, then kept in the tab's sessionStorage).
 */
import {toast} from './widgets.js';

export const API = '/api/v1/';
const TOKEN_KEY = 'kiln.token';

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY);

export function setToken(t) {
  if (t)
    sessionStorage.setItem(TOKEN_KEY, t);
  else
    sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById('token').textContent = t ? 'Token set' : 'Set token';
}

export function authHeaders() {
  const t = token();
  return t ? {Authorization: 'Bearer ' + t} : {};
}

export async function failure(r) {
  let msg = r.statusText || 'HTTP ' + r.status;
  try {
    const j = await r.json();
    if (j && j.error)
      msg = j.error;
  } catch (e) { /* not JSON */ }
  return new HttpError(r.status, msg);
}

export async function get(path) {
  const r = await fetch(API + path, {headers: authHeaders()});
  if (!r.ok)
    throw await failure(r);
  return r.json();
}

/* Ask for the API token in the dialog; resolves to it, or null. */
export function askToken(why) {
  const dlg = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  document.getElementById('token-why').textContent = why || '';
  input.value = token() || '';
  dlg.returnValue = '';
  dlg.showModal();
  input.focus();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      const v = input.value.trim();
      input.value = '';
      if (dlg.returnValue === 'ok' && v) {
        setToken(v);
        resolve(v);
        return;
      }
      if (dlg.returnValue === 'clear')
        setToken(null);
      resolve(null);
    }, {once: true});
  });
}

/* POST with the token (asked for once, then kept in sessionStorage).
 * Resolves to {status, body}, or null when there was no usable token
 * (the user was told why); throws HttpError on other failures. */
export async function post(path, body) {
  let t = token();
  if (!t && !(t = await askToken('')))
    return null;
  const r = await fetch(API + path, {
    method: 'POST',
    headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + t},
    body: JSON.stringify(body || {}),
  });
  if (r.status === 401) {
    const e = await failure(r);
    setToken(null);
    toast('The token was refused (401: ' + e.message + '). Set the right ' +
          'token and try again.', 'err');
    return null;
  }
  if (r.status === 403) {
    const e = await failure(r);
    toast('Not allowed (403): ' + e.message, 'err');
    return null;
  }
  if (!r.ok)
    throw await failure(r);
  return {status: r.status, body: await r.json()};
}
