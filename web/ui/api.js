/*
 * api.js: the JSON API under /api/v1, and who is signed in.
 *
 * A browser signs in at #/login with a token (kiln tokens create): POST
 * /login sets an HttpOnly session cookie that every fetch and the event
 * stream then send. me() is who the server says we are (GET
 * /api/v1/session); writes carry that session's CSRF token.
 */
import {fill, h} from './dom.js';
import {toast} from './widgets.js';

export const API = '/api/v1/';

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let session = {user: null, role: null, csrf: null, anonymous_reads: true};
const RANK = {viewer: 1, operator: 2, admin: 3};

export const me = () => session;
/* May the one signed in do what needs role? */
export const can = (role) => (RANK[session.role] || 0) >= RANK[role];

/* Ask the server who we are; show it in the header. */
export async function loadSession() {
  try {
    const r = await fetch(API + 'session');
    if (r.ok)
      session = await r.json();
  } catch (e) { /* the daemon is away: stay as we were */ }
  const who = document.getElementById('me');
  const btn = document.getElementById('login');
  /* "alice · operator"; on a phone the role goes below the name. */
  fill(who, session.user ? [h('span', {class: 'user'}, session.user),
                            h('span', {class: 'sep'}, ' · '),
                            h('span', {class: 'role'}, session.role)] : null);
  who.title = session.user ? 'Signed in as ' + session.user + ' (' +
                             session.role + ')' : '';
  btn.textContent = session.user ? 'Log out' : 'Log in';
  btn.dataset.action = session.user ? 'logout' : 'login';
  return session;
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
  const r = await fetch(API + path);
  if (!r.ok)
    throw await failure(r);
  return r.json();
}

/* POST to the API as the one signed in. Resolves to {status, body}, or
 * null when it was refused (the user was told why: 401 goes to the login
 * page); throws HttpError on other failures. */
export async function post(path, body) {
  const headers = {'Content-Type': 'application/json'};
  if (session.csrf)
    headers['X-Kiln-CSRF'] = session.csrf;
  const r = await fetch(API + path, {method: 'POST', headers,
                                     body: JSON.stringify(body || {})});
  if (r.status === 401) {
    toast('Log in first (' + (await failure(r)).message + ').', 'err');
    location.hash = '#/login';
    return null;
  }
  if (r.status === 403) {
    toast('Not allowed (403): ' + (await failure(r)).message, 'err');
    return null;
  }
  if (!r.ok)
    throw await failure(r);
  return {status: r.status, body: await r.json()};
}

/* Sign in with a token: a session cookie. Resolves to the session, or
 * throws HttpError (401: the token was refused). */
export async function login(token) {
  const r = await fetch('/login', {method: 'POST',
                                   headers: {'Content-Type': 'application/json'},
                                   body: JSON.stringify({token})});
  if (!r.ok)
    throw await failure(r);
  return loadSession();
}

export async function logout() {
  await fetch('/logout', {method: 'POST'});
  return loadSession();
}
