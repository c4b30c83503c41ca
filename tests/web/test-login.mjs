// Signing in to the status page over HTTPS, in Debian's chromium driven
// by playwright-core. test-login.sh starts kiln serve with a self-signed
// certificate and the pipelines "login" (one step of about 2 s, a param)
// and "broken" (fails; one failed run exists), and sets:
//   KILN_URL             the daemon's base URL (https://127.0.0.1:PORT/)
//   KILN_CA              its certificate (curl --cacert)
//   KILN_VIEWER_TOKEN    vic's token (viewer)
//   KILN_OPERATOR_TOKEN  olga's token (operator)
//   KILN_WEB_SHOTS       where screenshots go (login-*.png)
//   CHROMIUM             the browser (/usr/bin/chromium)
// Any page error or console error fails the test, except the answers a
// step asks for (a viewer's write refused).
import { checks, launch } from './browser.mjs';
import { execFileSync } from 'node:child_process';

const url = process.env.KILN_URL;
const ca = process.env.KILN_CA;
const viewer = process.env.KILN_VIEWER_TOKEN;
const operator = process.env.KILN_OPERATOR_TOKEN;

/* curl against the daemon, checking its certificate: [status, body]. */
function curl(method, path, ...args) {
  const out = execFileSync('curl', ['-sS', '--max-time', '10', '--cacert', ca,
                                    '-X', method, '-w', '\n%{http_code}',
                                    ...args, new URL(path, url).href],
                           { encoding: 'utf8' });
  const i = out.lastIndexOf('\n');
  return [+out.slice(i + 1), out.slice(0, i)];
}

/* A run of PIPELINE started through the API with TOKEN: its id. */
function startRun(pipeline, token) {
  const [code, body] = curl('POST', 'api/v1/pipelines/' + pipeline + '/runs',
                            '-H', 'Authorization: Bearer ' + token,
                            '-H', 'Content-Type: application/json',
                            '-d', '{}');
  if (code !== 201)
    throw new Error('POST runs of ' + pipeline + ': ' + code + ' ' + body);
  return JSON.parse(body).run_id;
}

/* Until run ID has ended (10 s at most): its status. */
async function runEnds(id) {
  for (let i = 0; i < 40; i++) {
    const [code, body] = curl('GET', 'api/v1/runs/' + id);
    const st = code === 200 ? JSON.parse(body).status : '';
    if (!['queued', 'running', ''].includes(st))
      return st;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('run ' + id + ' has not ended');
}

/* What in the header or the page is wider than the window (outside a
 * panel that scrolls sideways on purpose, as a runs table's does), or
 * spills out of the header, or overlaps in it: [] when nothing. */
async function badLayout() {
  return page.evaluate(() => {
    const out = [], W = document.documentElement.clientWidth;
    const name = (e) => e.tagName.toLowerCase() +
      (e.id ? '#' + e.id : '') +
      (e.className && typeof e.className === 'string'
          ? '.' + e.className.trim().split(/\s+/).join('.') : '') +
      (e.textContent ? ' "' + e.textContent.trim().slice(0, 30) + '"' : '');
    if (document.documentElement.scrollWidth > W)
      out.push('the page is ' + document.documentElement.scrollWidth +
               ' px wide');
    const top = document.querySelector('header.top');
    if (top.scrollWidth > top.clientWidth + 1)
      out.push('the header scrolls: ' + top.scrollWidth + ' > ' +
               top.clientWidth);
    const hb = top.getBoundingClientRect();
    const scrolls = (e) => {
      for (let p = e.parentElement; p && p !== document.body;
           p = p.parentElement)
        if (/auto|scroll/.test(getComputedStyle(p).overflowX))
          return true;
      return false;
    };
    for (const e of document.querySelectorAll('header.top *, main *')) {
      if (scrolls(e))
        continue;
      const r = e.getBoundingClientRect();
      if (r.width && (r.right > W + 0.5 || r.left < -0.5))
        out.push(name(e) + ' spans ' + Math.round(r.left) + '..' +
                 Math.round(r.right));
      if (r.width && e.closest('header.top') &&
          (r.bottom > hb.bottom + 0.5 || r.top < hb.top - 0.5))
        out.push(name(e) + ' spills out of the header');
    }
    const kids = [...top.children].filter((e) =>
      e.getBoundingClientRect().width && !e.classList.contains('spacer'));
    for (let i = 0; i < kids.length; i++)
      for (let j = i + 1; j < kids.length; j++) {
        const a = kids[i].getBoundingClientRect();
        const b = kids[j].getBoundingClientRect();
        if (a.left < b.right - 0.5 && b.left < a.right - 0.5 &&
            a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
          out.push(name(kids[i]) + ' overlaps ' + name(kids[j]));
      }
    return out.slice(0, 8);
  });
}

/* The action buttons on show: [] for a viewer. */
const actionButtons = () => page.$$eval(
  'button[data-run-now], button[data-run-params], ' +
  'button[data-action="cancel"], button[data-action="retry"]',
  (l) => l.map((b) => b.textContent.trim()));

const browser = await launch(['--ignore-certificate-errors']);
const context = await browser.newContext({
  viewport: { width: 1400, height: 900 }, ignoreHTTPSErrors: true });
const page = await context.newPage();
const { ok, step, shot, end } = checks(page, 'login-');
page.setDefaultTimeout(15000);
const errors = [];
let expected = null;      // a console error a step asks for
page.on('pageerror', (e) => errors.push('page error: ' + e.message));
page.on('console', (m) => {
  if (m.type() !== 'error' || (expected && expected.test(m.text())))
    return;
  errors.push('console error: ' + m.text());
});
// KILN_DEBUG=1: every request of the page and how it ended.
if (process.env.KILN_DEBUG) {
  page.on('request', (r) => console.log('> ' + r.method() + ' ' + r.url()));
  page.on('requestfinished', async (r) => console.log(
    '< ' + r.method() + ' ' + r.url() + ' ' + (await r.response())?.status()));
  page.on('requestfailed', (r) => console.log(
    '! ' + r.method() + ' ' + r.url() + ' ' + r.failure()?.errorText));
}
page.on('dialog', (d) => {
  errors.push('unexpected dialog: ' + d.message());
  d.dismiss();
});

const session = () => page.evaluate(async () =>
  (await fetch('/api/v1/session')).json());
const sessionCookie = async () =>
  (await context.cookies()).find((c) => c.name === 'kiln_session');

async function logIn(token, who) {
  if ((await page.textContent('#login')).trim() !== 'Log in')
    throw new Error('not logged out: ' + await page.textContent('#login'));
  await page.click('#login');
  await page.waitForSelector('#login-token');
  await page.fill('#login-token', token);
  await page.click('form.login button[type="submit"]');
  await page.waitForFunction(() => location.hash === '#/');
  await page.waitForSelector('#me >> text=' + who);
}

await step('the page over HTTPS, anonymous on loopback', async () => {
  ok('an https URL', url.startsWith('https://127.0.0.1:'), url);
  await page.goto(url);
  await page.waitForSelector('.pipe[data-pipeline="login"]');
  await page.waitForSelector('#live.on');   // the event stream over TLS
  ok('a secure context', await page.evaluate(() => window.isSecureContext));
  ok('Log in on offer', (await page.textContent('#login')).trim() === 'Log in');
  ok('no action buttons', (await actionButtons()).length === 0);
});

let failed = 0;
await step('vic logs in: a Secure, HttpOnly cookie the page cannot read',
           async () => {
  await logIn(viewer, 'vic · viewer');
  ok('Log out on offer', (await page.textContent('#login')).trim() ===
     'Log out' && await page.getAttribute('#login', 'data-action') ===
     'logout');
  const c = await sessionCookie();
  ok('a session cookie', c !== undefined,
     JSON.stringify(await context.cookies()));
  ok('Secure', c && c.secure === true);
  ok('HttpOnly', c && c.httpOnly === true);
  ok('SameSite=Strict', c && c.sameSite === 'Strict', c && c.sameSite);
  ok('not for a script', !(await page.evaluate(() => document.cookie))
     .includes('kiln_session'));
  const s = await session();
  ok('the server says vic, viewer, through the page',
     s.user === 'vic' && s.role === 'viewer' && s.via === 'page',
     JSON.stringify(s));
  await page.waitForSelector('#live.on');
  failed = (await (await page.evaluate(async () =>
    (await fetch('/api/v1/runs?pipeline=broken')).json()))).runs[0].id;
});

await step('a viewer sees no action buttons anywhere', async () => {
  await page.waitForSelector('.pipe[data-pipeline="login"]');
  ok('overview: no Run now', (await actionButtons()).length === 0,
     (await actionButtons()).join());
  await page.goto(url + '#/pipelines/login');
  await page.waitForSelector('h1 >> text=login');
  await page.waitForSelector('.panel');
  ok('pipeline page: no Run now or Run with params',
     (await actionButtons()).length === 0, (await actionButtons()).join());
  await page.goto(url + '#/runs/' + failed);
  await page.waitForSelector('h1 .badge.s-failed');
  ok('a failed run: no Retry', (await actionButtons()).length === 0,
     (await actionButtons()).join());
  const running = startRun('login', operator);
  await page.goto(url + '#/runs/' + running);
  await page.waitForSelector('h1 .badge.s-running, h1 .badge.s-queued');
  ok('a running run: no Cancel', (await actionButtons()).length === 0,
     (await actionButtons()).join());
  await page.waitForSelector('h1 .badge.s-succeeded', { timeout: 20000 });
  ok('no Retry or Cancel once it is over',
     (await actionButtons()).length === 0, (await actionButtons()).join());
  // The server says no too, whatever the page shows.
  expected = /status of 403/;
  const code = await page.evaluate(async () => {
    const s = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/pipelines/login/runs', {
      method: 'POST', body: '{}',
      headers: { 'Content-Type': 'application/json', 'X-Kiln-CSRF': s.csrf } });
    return r.status;
  });
  expected = null;
  ok('a viewer\'s write with the session: 403', code === 403, String(code));
  await page.goto(url + '#/models');
  await page.waitForSelector('[data-model="loginmodel"] ' +
                             '.alias-move[data-alias="production"]');
  ok('models: a viewer gets no Promote or Roll back',
     await page.$('button[data-promote], button[data-rollback]') === null);
});

await step('logging out ends the session', async () => {
  const old = await sessionCookie();
  const csrf = (await session()).csrf;
  await page.click('#login');
  await page.waitForSelector('#login[data-action="login"]');
  ok('the header says Log in', (await page.textContent('#login')).trim() ===
     'Log in' && (await page.textContent('#me')).trim() === '');
  ok('the cookie is gone from the browser', !(await sessionCookie()));
  ok('the server says nobody', (await session()).user === null);
  const jar = ['-b', 'kiln_session=' + old.value];
  let [code, body] = curl('GET', 'api/v1/session', ...jar);
  ok('the old cookie replayed: nobody', code === 200 &&
     JSON.parse(body).user === null, code + ' ' + body);
  [code, body] = curl('POST', 'api/v1/pipelines/login/runs', ...jar,
                      '-H', 'Origin: ' + url.replace(/\/$/, ''),
                      '-H', 'X-Kiln-CSRF: ' + csrf,
                      '-H', 'Content-Type: application/json', '-d', '{}');
  ok('a write with the old cookie: 401', code === 401, code + ' ' + body);
  await page.goto(url + '#/login');
  await page.waitForSelector('#login-token');
  // Events of a run go by while the login view is on show.
  const n = errors.length;
  const other = startRun('login', operator);
  await runEnds(other);
  await page.waitForTimeout(300);
  ok('the login view takes the events of runs', errors.length === n,
     errors.slice(n).join('; '));
  await shot('login-view');
  await page.setViewportSize({ width: 400, height: 800 });
  await page.waitForSelector('#login-token');
  await shot('login-narrow-view');
  const bad = await badLayout();
  ok('at 400 px, the login view fits', bad.length === 0, bad.join('; '));
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto(url);
});

let started = 0;
await step('olga logs in, Run now, the run turns green live', async () => {
  await page.waitForSelector('.pipe[data-pipeline="login"]');
  await logIn(operator, 'olga · operator');
  await page.waitForSelector('#live.on');
  await page.evaluate(() => { window.kilnNoReload = true; });
  await page.click('button[data-run-now="login"]');
  const t = await page.waitForSelector('.toast.ok >> text=/Started run #\\d+/');
  started = +(/#(\d+)/.exec(await t.textContent())[1]);
  await page.click('.toast.ok a >> text=Open');
  await page.waitForSelector(`h1 >> text=Run #${started}`);
  await page.waitForSelector('h1 .badge.s-running, h1 .badge.s-queued',
                             { timeout: 5000 });
  ok('Cancel offered to an operator',
     await page.$('button[data-action="cancel"]') !== null);
  await page.waitForSelector('h1 .badge.s-succeeded', { timeout: 20000 });
  ok('the page was not reloaded',
     await page.evaluate(() => window.kilnNoReload === true));
  ok('the event stream stayed up', await page.$('#live.on') !== null);
  ok('no Cancel once it is over',
     await page.$('button[data-action="cancel"]') === null);
  await page.click('.steps-tabs button[data-step="work"]');
  await page.waitForSelector('pre.log >> text=worked 1');
  await shot('login-run');
  await page.goto(url);
  await page.waitForSelector(`.runs tr[data-run="${started}"]` +
                             '[data-status="succeeded"]');
  ok('Run now on the overview', await page.$(
     'button[data-run-now="login"]') !== null);
  await shot('login-overview');
  await page.goto(url + '#/pipelines/login');
  await page.waitForSelector('button[data-run-params="login"]');
  ok('Run now on the pipeline page', await page.$(
     '.page-head button[data-run-now="login"]') !== null);
  await page.goto(url + '#/models');
  await page.waitForSelector('[data-model="loginmodel"] ' +
                             'button[data-rollback="production"]');
  ok('models: Promote for an operator', await page.$(
     '[data-model="loginmodel"] button[data-promote="1"]') !== null);
});

await step('at 400 px: the header and the pages fit', async () => {
  await page.setViewportSize({ width: 400, height: 800 });
  for (const [name, hash, sel] of [
    ['overview', '#/', 'button[data-run-now="login"]'],
    ['run', '#/runs/' + started, 'h1 .badge.s-succeeded'],
  ]) {
    await page.goto(url + hash);
    await page.waitForSelector(sel);
    await page.waitForSelector('#me >> text=olga · operator');
    await shot('login-narrow-' + name);
    const cut = await page.$$eval('#me > *', (l) => l.filter((e) =>
      e.offsetWidth && e.scrollWidth > e.clientWidth).map((e) =>
      e.textContent));
    ok('at 400 px, ' + name + ': who is signed in is not cut',
       cut.length === 0, cut.join());
    const bad = await badLayout();
    ok('at 400 px, ' + name + ' fits', bad.length === 0, bad.join('; '));
  }
  await page.setViewportSize({ width: 1400, height: 900 });
});

ok('no page or console errors', errors.length === 0, errors.join('\n'));
await end(browser);
