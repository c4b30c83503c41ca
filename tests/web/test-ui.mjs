// The status page in Debian's chromium, driven by playwright-core.
// test-ui.sh starts kiln serve with the pipeline "webtest" and sets:
//   KILN_URL          the daemon's base URL (http://127.0.0.1:PORT/)
//   KILN_TEST_TOKEN   its API token
//   KILN_WEB_SHOTS    where screenshots go
//   CHROMIUM          the browser (/usr/bin/chromium)
//   KILN_DAEMON_PID   kiln serve's pid (SIGHUP reloads its pipelines)
//   KILN_MORE         a directory it serves: zfail.yaml (always fails),
//                     slow.yaml (runs until cancelled)
//   KILN_REPRO_COMMITS  with git: the commits of runs 1 and 2 of "repro"
//                     (they made the same model.txt; run 3 other bytes;
//                     run 4 reproduces run 1)
// Any page error or console error fails the test, except the one 401 the
// wrong-token login asks for.
import { checks, launch } from './browser.mjs';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const url = process.env.KILN_URL;
const token = process.env.KILN_TEST_TOKEN;
const api = (path) => new URL('api/v1/' + path, url).href;

/* What at this width is cut off (wider than the window, or scrolled
 * within a panel) or overlaps in a page's head: [] when nothing. */
async function badLayout() {
  return page.evaluate(() => {
    const out = [], W = document.documentElement.clientWidth;
    const name = (e) => e.tagName.toLowerCase() +
      (e.className && typeof e.className === 'string'
          ? '.' + e.className.trim().split(/\s+/).join('.') : '') +
      (e.textContent ? ' "' + e.textContent.trim().slice(0, 30) + '"' : '');
    if (document.documentElement.scrollWidth > W)
      out.push('the page is ' + document.documentElement.scrollWidth +
               ' px wide');
    for (const e of document.querySelectorAll('main *')) {
      const r = e.getBoundingClientRect();
      if (r.width && (r.right > W + 0.5 || r.left < -0.5))
        out.push(name(e) + ' spans ' + Math.round(r.left) + '..' +
                 Math.round(r.right));
    }
    for (const e of document.querySelectorAll('main .panel, main .graph'))
      if (e.scrollWidth > e.clientWidth + 1)
        out.push(name(e) + ' scrolls: ' + e.scrollWidth + ' > ' +
                 e.clientWidth);
    for (const head of document.querySelectorAll('.page-head')) {
      const kids = [...head.querySelectorAll('.titles > *, .actions > *')];
      for (let i = 0; i < kids.length; i++)
        for (let j = i + 1; j < kids.length; j++) {
          const a = kids[i].getBoundingClientRect();
          const b = kids[j].getBoundingClientRect();
          if (a.width && b.width && a.left < b.right - 0.5 &&
              b.left < a.right - 0.5 && a.top < b.bottom - 0.5 &&
              b.top < a.bottom - 0.5)
            out.push(name(kids[i]) + ' overlaps ' + name(kids[j]));
        }
    }
    return out.slice(0, 8);
  });
}

/* The run as the API has it. */
async function apiGet(path) {
  const r = await fetch(api(path));
  if (!r.ok)
    throw new Error('GET ' + path + ': ' + r.status);
  return r.json();
}

async function startRun(params, pipeline = 'webtest') {
  const r = await fetch(api('pipelines/' + pipeline + '/runs'), {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + token,
               'Content-Type': 'application/json' },
    body: JSON.stringify({ params }),
  });
  const body = await r.json();
  if (r.status !== 201)
    throw new Error('POST runs: ' + r.status + ' ' + JSON.stringify(body));
  return body.run_id;
}

const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const { ok, step, shot, end } = checks(page, '');
page.setDefaultTimeout(15000);
const errors = [];
let expect401 = false;
page.on('pageerror', (e) => errors.push('page error: ' + e.message));
page.on('console', (m) => {
  if (m.type() !== 'error')
    return;
  if (expect401 && /status of 401/.test(m.text()))
    return;
  errors.push('console error: ' + m.text());
});
page.on('dialog', (d) => {
  errors.push('unexpected dialog: ' + d.message());
  d.dismiss();
});

await step('the overview lists the pipeline', async () => {
  await page.goto(url);
  await page.waitForSelector('.pipe[data-pipeline="webtest"]');
  await page.waitForSelector('#live.on');   // the event stream is open
  const desc = await page.textContent('.pipe[data-pipeline="webtest"] .desc');
  ok('the description is text', desc.includes('<b>not bold</b> & friends'),
     desc);
  ok('no element made from it',
     await page.$$eval('.pipe .desc b', (l) => l.length) === 0);
  await page.waitForSelector('.trig[data-trigger="drift"][data-check="quiet"]');
  await page.evaluate(() => { window.kilnNoReload = true; });
});

let first = 0;
await step('anonymous on loopback: pages, but no Run now', async () => {
  ok('the header offers Log in',
     (await page.textContent('#login')).trim() === 'Log in' &&
     await page.getAttribute('#login', 'data-action') === 'login');
  ok('nobody is named', (await page.textContent('#me')).trim() === '');
  ok('no Run now button', await page.$('button[data-run-now]') === null);
  ok('no Run with params either',
     await page.$('button[data-run-params]') === null);
  if (process.env.KILN_REPRO_COMMITS) {
    await page.evaluate(() => { location.hash = '#/models'; });
    await page.waitForSelector('[data-model="repromodel"] .alias-move' +
                               '[data-alias="production"]');
    ok('models: no Promote or Roll back',
       await page.$('button[data-promote], button[data-rollback]') === null);
    await page.evaluate(() => { location.hash = '#/'; });
    await page.waitForSelector('.pipe[data-pipeline="webtest"]');
  }
});

await step('a wrong token at #/login is refused', async () => {
  expect401 = true;
  await page.click('#login');
  await page.waitForSelector('#login-token');
  ok('the login view', /#\/login$/.test(page.url()), page.url());
  await page.fill('#login-token', 'not-the-token-0000');
  await page.click('form.login button[type="submit"]');
  await page.waitForSelector('#login-why >> text=/refused/');
  ok('still on the login view', /#\/login$/.test(page.url()), page.url());
  ok('still logged out',
     (await page.textContent('#login')).trim() === 'Log in' &&
     (await page.textContent('#me')).trim() === '');
  ok('no session cookie',
     (await page.context().cookies()).length === 0,
     JSON.stringify(await page.context().cookies()));
  expect401 = false;
});

await step('logging in with the token: the header says who, Run now starts a run',
           async () => {
  await page.fill('#login-token', token);
  await page.press('#login-token', 'Enter');
  await page.waitForFunction(() => location.hash === '#/');
  await page.waitForSelector('#me >> text=admin-token · admin');
  ok('the button says Log out',
     (await page.textContent('#login')).trim() === 'Log out' &&
     await page.getAttribute('#login', 'data-action') === 'logout');
  ok('the page was not reloaded',
     await page.evaluate(() => window.kilnNoReload === true));
  await page.click('button[data-run-now="webtest"]');
  // A run that started opens its page.
  await page.waitForFunction(() => /^#\/runs\/\d+$/.test(location.hash));
  first = +/(\d+)$/.exec(await page.evaluate(() => location.hash))[1];
  await page.waitForSelector(`h1 >> text=Run #${first}`);
  await page.waitForSelector('h1 .badge.s-running, h1 .badge.s-queued',
                             { timeout: 5000 });
  const run = await apiGet('runs/' + first);
  ok('started by the one logged in', run.started_by &&
     run.started_by.includes('admin-token'), String(run.started_by));
});

await step('the run appears and turns green without a reload', async () => {
  await page.evaluate(() => { location.hash = '#/'; });
  await page.waitForSelector(`.runs tr[data-run="${first}"]`);
  await page.waitForSelector(
    `.runs tr[data-run="${first}"][data-status="succeeded"]`,
    { timeout: 20000 });
  await page.waitForSelector(
    `.pipe[data-pipeline="webtest"] .mark[data-run="${first}"]` +
    '[data-status="succeeded"]');
  ok('the page was not reloaded',
     await page.evaluate(() => window.kilnNoReload === true));
  await shot('overview');
});

await step('the run page: DAG, gated step, log, metrics', async () => {
  await page.click(`.runs tr[data-run="${first}"] a[href="#/runs/${first}"]`);
  await page.waitForSelector('svg.dag .node[data-step="deploy"]');
  const nodes = await page.$$eval('svg.dag .node[data-step]',
                                  (l) => l.map((n) => n.dataset.step).sort());
  ok('a node per step', nodes.join() === 'deploy,evaluate,prepare,train',
     nodes.join());
  ok('deploy is marked gated',
     await page.$('svg.dag .node.n-gated[data-step="deploy"]') !== null);
  ok('edges drawn', await page.$$eval('svg.dag path.edge',
                                      (l) => l.length) === 3);
  await page.click('svg.dag .node[data-step="train"]');
  await page.waitForSelector('pre.log >> text=kiln-web-test: trained the model');
  ok('the metrics table', (await page.textContent('main')).includes('loss'));
  ok('the timeline has bars',
     await page.$$eval('svg.tl rect.bar', (l) => l.length) === 3);
});

/* Where each pipeline is on the overview, top to bottom. */
const pipeOrder = () => page.$$eval('.pipe[data-pipeline]',
                                    (l) => l.map((e) => e.dataset.pipeline));

let slow = 0;
await step('failing pipelines first, then running ones, then by name',
           async () => {
  await startRun({}, 'zfail');
  slow = await startRun({}, 'slow');
  await page.goto(url);
  const want = ['zfail', 'slow'].concat(
    process.env.KILN_REPRO_COMMITS ? ['repro', 'webtest'] : ['webtest']);
  await page.waitForFunction((w) => [...document.querySelectorAll(
    '.pipe[data-pipeline]')].map((e) => e.dataset.pipeline).join() === w,
    want.join()).catch(() => {});
  const got = await pipeOrder();
  ok('zfail (failed), slow (running), then the rest by name',
     got.join() === want.join(), got.join());
  await page.waitForSelector('.pipe[data-pipeline="zfail"].st-failed');
  await shot('overview-order');
});

await step('Cancel asks first: once no, then yes', async () => {
  await page.goto(url + '#/runs/' + slow);
  await page.waitForSelector('h1 .badge.s-running');
  await page.click('button[data-action="cancel"]');
  await page.waitForSelector('dialog.confirm[open]');
  await shot('confirm-cancel', false);
  await page.click('dialog.confirm button[value="cancel"]');
  await page.waitForSelector('dialog.confirm', { state: 'detached' });
  await page.waitForTimeout(700);
  ok('not cancelled when told no',
     (await apiGet('runs/' + slow)).status === 'running' &&
     await page.$('h1 .badge.s-running') !== null);
  await page.click('button[data-action="cancel"]');
  await page.click('dialog.confirm button[value="ok"]');
  await page.waitForSelector('h1 .badge.s-cancelled', { timeout: 10000 });
  ok('cancelled when told yes',
     (await apiGet('runs/' + slow)).status === 'cancelled');
});

await step('a pipeline file that does not load: a banner until it does',
           async () => {
  const more = process.env.KILN_MORE, pid = +process.env.KILN_DAEMON_PID;
  const zfail = more + '/zfail.yaml', never = more + '/never.yaml';
  const good = readFileSync(zfail, 'utf8');
  writeFileSync(zfail, 'pipeline: zfail\nsteps:\n' +
                '  boom: {run: "exit 3", needs: [nope]}\n');
  writeFileSync(never, 'pipeline: never\nsteps: [\n');
  await page.goto(url);
  await page.waitForSelector('.pipe[data-pipeline="webtest"]');
  process.kill(pid, 'SIGHUP');
  const row = `.load-errors .broken[data-file="${zfail}"]`;
  await page.waitForSelector(row);
  const text = await page.textContent(row);
  ok('the banner names the file and its error at line:col',
     text.includes(zfail + ':3:') &&
     text.includes('step "boom" needs unknown step "nope"'), text);
  ok('and that zfail keeps its last good definition',
     text.includes('keeps running its last good definition') &&
     await page.$('.pipe[data-pipeline="zfail"]') !== null, text);
  const nv = await page.textContent(`.load-errors .broken[data-file="${never}"]`);
  ok('a new file that never loaded, with its error',
     nv.includes('never loaded') && nv.includes(never + ':'), nv);
  ok('no pipeline row for it', (await pipeOrder()).length ===
     (process.env.KILN_REPRO_COMMITS ? 4 : 3));
  await shot('reload-banner');
  await page.setViewportSize({ width: 400, height: 800 });
  await shot('narrow-reload-banner');
  const bad = await badLayout();
  ok('at 400 px, the banner fits', bad.length === 0, bad.join('; '));
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto(url + '#/pipelines/zfail');
  await page.waitForSelector('.load-errors .broken >> text=/needs unknown/');
  writeFileSync(zfail, good);
  rmSync(never);
  process.kill(pid, 'SIGHUP');
  await page.waitForSelector('.load-errors', { state: 'detached' });
  await page.goto(url);
  await page.waitForSelector('.pipe[data-pipeline="zfail"]');
  ok('gone from the overview once it loads',
     await page.$('.load-errors') === null);
});

let second = 0;
await step('a running run: live log and states, then success', async () => {
  second = await startRun({ acc: 0.97 });
  await page.goto(url + '#/runs/' + second);
  await page.waitForSelector('svg.dag .node[data-status="running"]');
  ok('Cancel offered to the one logged in',
     await page.$('button[data-action="cancel"]') !== null);
  await page.click('.steps-tabs button[data-step="train"]');
  await page.waitForSelector('pre.log >> text=kiln-web-test: trained the model',
                             { timeout: 15000 });
  await page.waitForSelector('h1 .badge.s-succeeded', { timeout: 20000 });
  ok('the params as sent', (await page.textContent('main')).includes('acc=0.97'));
  ok('deploy ran this time',
     await page.$('svg.dag .node.n-succeeded[data-step="deploy"]') !== null);
  await page.click('svg.dag .node[data-step="deploy"]');
  await page.waitForSelector('pre.log >> text=deployed');
  await page.click('svg.dag .node[data-step="train"]');
  await page.waitForSelector('pre.log >> text=kiln-web-test: trained the model');
  await shot('run');
});

await step('the pipeline page: runs, metric trend, drift', async () => {
  await page.goto(url + '#/pipelines/webtest?metric=train.acc');
  await page.waitForSelector(`.runs tr[data-run="${second}"]`);
  await page.waitForSelector('svg.chart circle.pt');
  const pts = await page.$$eval('svg.chart[aria-label="trend of train.acc"] ' +
                                'circle.pt', (l) => l.length);
  ok('a point per run', pts === 2, String(pts));
  await page.waitForSelector('table.drift td >> text=plan');
  await shot('pipeline');
});

await step('the models page', async () => {
  await page.goto(url + '#/models');
  await page.waitForSelector('[data-model="webmodel"]');
  const rows = await page.$$eval('[data-model="webmodel"] table.versions ' +
                                 'tbody tr', (l) => l.length);
  ok('a version per run', rows === 2, String(rows));
  await shot('models');
});

await step('the models view: params, key metrics, promote and roll back',
           async () => {
  const w = '[data-model="webmodel"]';
  const v1 = w + ' tr[data-version="1"]', v2 = w + ' tr[data-version="2"]';
  ok('v1: the params of its run', (await page.textContent(
     v1 + ' [data-param="acc"]')) === 'acc=0.9');
  ok('v2: the params of its run', (await page.textContent(
     v2 + ' [data-param="acc"]')) === 'acc=0.97');
  const keys = await page.$$eval(v2 + ' .key-metrics [data-metric]',
                                 (l) => l.map((e) => e.dataset.metric));
  ok('two key metrics: the registering step\'s first two',
     keys.join() === 'train.loss,train.acc', keys.join());
  ok('why, in their title', (await page.getAttribute(
     v2 + ' .key-metrics', 'title')).includes('the step that registered it'));
  // Promote v1 to staging: told no first, then yes.
  await page.click(v1 + ' button[data-promote="1"]');
  await page.waitForSelector('dialog.promote[open]');
  await page.fill('dialog.promote input[name="alias"]', 'staging');
  await shot('promote', false);
  await page.click('dialog.promote button[value="cancel"]');
  await page.waitForSelector('dialog.promote', { state: 'detached' });
  ok('no alias when told no',
     (await apiGet('models/webmodel')).aliases.length === 0);
  for (const v of [1, 2]) {
    await page.click(w + ` button[data-promote="${v}"]`);
    await page.fill('dialog.promote input[name="alias"]', 'staging');
    await page.click('dialog.promote button[value="ok"]');
    await page.waitForSelector(w + ' .alias-move[data-alias="staging"] ' +
                               `>> text=staging → v${v}`);
  }
  let m = await apiGet('models/webmodel');
  ok('staging points at v2', m.aliases.length === 1 &&
     m.aliases[0].version === 2, JSON.stringify(m.aliases));
  const hist = await page.$$eval(w + ' table.history tbody tr', (l) =>
    l.map((r) => [...r.cells].map((c) => c.textContent.trim())));
  ok('the history, newest first, by the one logged in',
     hist.length === 2 && hist[0][1] === 'staging' &&
     hist[0][2] === 'v1 → v2' && hist[0][3] === 'admin-token' &&
     hist[0][4] === 'page' && hist[1][2] === '— → v1', JSON.stringify(hist));
  // Roll back: asked first.
  await page.click(w + ' button[data-rollback="staging"]');
  await page.waitForSelector('dialog.confirm[open] >> text=back to v1');
  await page.click('dialog.confirm button[value="cancel"]');
  await page.waitForSelector('dialog.confirm', { state: 'detached' });
  ok('still v2 when told no',
     (await apiGet('models/webmodel')).aliases[0].version === 2);
  await page.click(w + ' button[data-rollback="staging"]');
  await page.click('dialog.confirm button[value="ok"]');
  await page.waitForSelector(w + ' .alias-move[data-alias="staging"] ' +
                             '>> text=staging → v1');
  m = await apiGet('models/webmodel');
  ok('rolled back to v1, in the history too', m.aliases[0].version === 1 &&
     m.history.length === 3 && m.history[2].action === 'alias.rolled_back' &&
     m.history[2].from === 2 && m.history[2].to === 1,
     JSON.stringify(m.history));
  await page.waitForSelector(w + ' table.history tbody tr:first-child ' +
                             '>> text=rolled back');
  await shot('models-promoted');
  // Retire: asked first; the alias goes from the page, the history
  // says so; a rollback (the API's) brings v1 back.
  await page.click(w + ' button[data-retire="staging"]');
  await page.waitForSelector('dialog.confirm[open] >> text=points nowhere');
  await page.click('dialog.confirm button[value="ok"]');
  await page.waitForSelector(w + ' .alias-move[data-alias="staging"]',
                             { state: 'detached' });
  await page.waitForSelector(w + ' table.history tbody tr:first-child ' +
                             '>> text=retired');
  m = await apiGet('models/webmodel');
  ok('retired: the alias points nowhere, recorded',
     !m.aliases.some((a) => a.alias === 'staging' && a.version > 0) &&
     m.history.length === 4 && m.history[3].action === 'alias.retired',
     JSON.stringify(m));
  await shot('models-retired');
  const back = await fetch(api('models/webmodel/aliases/staging/rollback'), {
    method: 'POST', headers: { Authorization: 'Bearer ' + token } });
  ok('a rollback brings it back', back.status === 200 &&
     (await back.json()).version === 1);
});

let lineage = '';
await step('lineage of the model', async () => {
  await page.click('[data-model="webmodel"] tbody tr:first-child a[href^="#/artifacts/"]');
  await page.waitForSelector('svg.dag .node[data-execution]');
  const n = await page.$$eval('svg.dag .node', (l) => l.length);
  ok('inputs, steps and the model', n === 4, String(n));
  await shot('lineage');
  lineage = page.url();
});

// Issue 14's record, made by test-ui.sh before the daemon started:
// versions known by their hash, the same bytes made by runs 1 and 2 (at
// commits c1 and c2), run 4 reproducing run 1.
const commits = (process.env.KILN_REPRO_COMMITS || '').split(' ')
  .filter(Boolean);
const repro = commits.length === 2;
if (!repro)
  console.log('skipped: the checks of a reproduction (no git)');

/* The 12 digits a hash shows: as wide as 12 characters of its font. */
async function hashShown(sel) {
  return page.$eval(sel, (e) => {
    const probe = document.createElement('code');
    probe.className = 'hash';
    probe.style.width = 'auto';
    probe.textContent = e.textContent.slice(0, 12);
    e.after(probe);
    const w = probe.getBoundingClientRect().width;
    probe.remove();
    return {text: e.textContent, title: e.title, sha: e.dataset.sha256,
            width: e.getBoundingClientRect().width, want: w,
            clipped: e.scrollWidth > e.clientWidth};
  });
}

await step('the models view: each version by its hash', async () => {
  if (!repro)
    return;
  const api = (await apiGet('models/repromodel')).versions;
  await page.goto(url + '#/models');
  await page.waitForSelector('[data-model="repromodel"] tr[data-version="2"]');
  ok('two versions', api.length === 2 &&
     await page.$$eval('[data-model="repromodel"] table.versions tbody tr',
                       (l) => l.length) === 2);
  ok('their bytes differ', api[0].sha256 !== api[1].sha256);
  for (const v of api) {
    const row = `[data-model="repromodel"] tr[data-version="${v.version}"]`;
    const hs = await hashShown(row + ' code.hash');
    ok('v' + v.version + ': the whole hash in the element (copying)',
       hs.text === v.sha256 && hs.sha === v.sha256, hs.text);
    ok('v' + v.version + ': and in its title', hs.title.includes(v.sha256),
       hs.title);
    ok('v' + v.version + ': 12 digits on show',
       hs.clipped && Math.abs(hs.width - hs.want) < 1.5,
       hs.width + ' px, 12 digits are ' + hs.want);
    const text = await page.textContent(row);
    ok('v' + v.version + ': its run and commit',
       text.includes('#' + v.run_id) &&
       text.includes(v.git_commit.slice(0, 10)), text);
    ok('v' + v.version + ': its lineage as run ' + v.run_id + ' made it',
       await page.$(row + ` a[href="#/artifacts/${v.artifact_id}?run=` +
                    `${v.run_id}"]`) !== null);
  }
  ok('the alias on v2', (await page.textContent(
     '[data-model="repromodel"] tr[data-version="2"]')).includes('production'));
  await page.click('[data-model="repromodel"] tr[data-version="1"] code.hash');
  ok('a click selects the whole hash',
     await page.evaluate(() => String(getSelection())) === api[1].sha256);
  await shot('models-hash');
});

let sameBytes = 0;
await step('lineage: bytes made by two runs, each with its commit',
           async () => {
  if (!repro)
    return;
  const [c1, c2] = commits;
  await page.goto(url + '#/models');
  await page.click('[data-model="repromodel"] tr[data-version="1"] ' +
                   'a[href^="#/artifacts/"]');
  await page.waitForSelector('.for-run >> text=as run #1 made it');
  sameBytes = +/#\/artifacts\/(\d+)/.exec(page.url())[1];
  await page.waitForSelector('ul.producers li[data-run="2"]');
  const items = await page.$$eval('ul.producers li', (l) => l.map((li) =>
    [li.dataset.run, li.className, li.textContent]));
  ok('both producers, newest first', items.map((x) => x[0]).join() === '2,1',
     JSON.stringify(items));
  ok('run 1 followed, at its commit', items[1][1] === 'followed' &&
     items[1][2].includes(c1.slice(0, 10)), JSON.stringify(items[1]));
  ok('also made by run 2, at its commit', items[0][2].includes(
     'also made by step make of run #2') &&
     items[0][2].includes(c2.slice(0, 10)), items[0][2]);
  ok('a link to run 2', await page.$('ul.producers li[data-run="2"] ' +
                                     'a[href="#/runs/2/steps/make"]') !== null);
  ok('the graph follows run 1', await page.$(
     'svg.dag .node[data-execution][data-run="1"]') !== null &&
     await page.$('svg.dag .node[data-run="2"]') === null);
  ok('its node says two made it', (await page.textContent(
     `svg.dag .node[data-artifact="${sameBytes}"]`)).includes('×2'));
  ok('the commit below is run 1\'s', (await page.getAttribute(
     'dl.kv span[title="' + c1 + '"]', 'title')) === c1);
  await shot('lineage-producers');
  await page.click('ul.producers li[data-run="2"] a >> text=its lineage');
  await page.waitForSelector('.for-run >> text=as run #2 made it');
  await page.waitForSelector('svg.dag .node[data-execution][data-run="2"]');
  ok('now run 2\'s commit', await page.$('dl.kv span[title="' + c2 + '"]')
     !== null);
  await page.click('.for-run a');
  await page.waitForFunction(() => !/run=/.test(location.hash));
  await page.waitForSelector('ul.producers li.followed[data-run="2"]');
});

await step('a run\'s artifact opens its lineage for that run', async () => {
  if (!repro)
    return;
  await page.goto(url + '#/runs/1');
  const link = `table.artifacts tr[data-artifact="${sameBytes}"] ` +
               'a >> text=lineage';
  await page.waitForSelector(link);
  ok('the types: model, metrics, file',
     await page.$('table.artifacts .tag.ty-model[data-type="model"]') !== null &&
     await page.$('table.artifacts .tag.ty-metrics') !== null);
  await page.click(link);
  await page.waitForSelector('.for-run >> text=as run #1 made it');
  ok('?run=1 in the address', /[?&]run=1(&|$)/.test(page.url()), page.url());
  await page.click('.seg button >> text=What used it');
  await page.waitForSelector('.for-run >> text=only the steps of run #1');
  await page.waitForSelector('svg.dag .node[data-execution]');
  const runs = await page.$$eval('svg.dag .node[data-execution]',
                                 (l) => [...new Set(l.map((n) => n.dataset.run))]);
  ok('only run 1 read it', runs.join() === '1', runs.join());
});

await step('the reproduction\'s run page', async () => {
  if (!repro)
    return;
  await page.goto(url + '#/runs/4');
  await page.waitForSelector('.note-box.repro');
  ok('the head says it reproduces run #1, linked',
     (await page.textContent('.page-head .sub a[data-trigger-run="1"]')) ===
     'reproduces run #1' &&
     await page.getAttribute('.page-head .sub a[data-trigger-run="1"]',
                             'href') === '#/runs/1');
  const note = await page.textContent('.note-box.repro');
  ok('the note says what a reproduction is',
     note.includes('Reproduces run #1') && note.includes('nothing served ' +
                                                          'from the cache'),
     note);
  ok('and how its outputs compare', note.includes('2 the same bytes, ' +
                                                  '0 other bytes'), note);
  ok('each output compared', await page.$$eval(
     'table.artifacts td[data-same="true"]', (l) => l.length) === 2);
  ok('the details link the original', await page.$(
     'dl.kv a[data-trigger-run="1"][href="#/runs/1"]') !== null);
  const by = (await (await fetch(api('runs/4'))).json()).started_by;
  ok('the details say who started it', by && await page.$(
     'dl.kv [data-started-by="' + by + '"]') !== null, String(by));
  const why = await page.textContent('.step-notes li[data-steps="ship"]');
  ok('why the deploy step did not run, under the graph',
     why.includes('skipped') && why.includes('side effects are off'), why);
  await page.click('svg.dag .node[data-step="ship"]');
  await page.waitForSelector('pre.log >> text=side effects are off');
  ok('the runs list says so too', (await (await fetch(api('runs?pipeline=' +
     'repro'))).json()).runs.find((r) => r.id === 4).trigger === 'reproduce');
  await shot('reproduction');
  await page.click('.note-box.repro a');
  await page.waitForSelector('h1 >> text=Run #1');
  await page.waitForSelector('.note-box.repro[data-reproduced-by]');
  ok('the original names its reproduction, linked',
     (await page.textContent('.note-box.repro')).includes('Reproduced by ' +
                                                          'run #4') &&
     await page.$('.note-box.repro a[href="#/runs/4"]') !== null);
});

await step('the runs page', async () => {
  await page.goto(url + '#/runs');
  await page.waitForSelector(`.runs tr[data-run="${first}"]`);
  await page.waitForSelector(`.runs tr[data-run="${second}"]`);
});

await step('filters, pickers and switches redraw their view', async () => {
  await page.selectOption('select[aria-label="All pipelines"]', 'webtest');
  await page.waitForSelector(`.runs tr[data-run="${second}"]`);
  await page.selectOption('select[aria-label="Any status"]', 'failed');
  await page.waitForSelector('.empty >> text=No runs yet.');
  await page.selectOption('select[aria-label="Any status"]', 'succeeded');
  await page.waitForSelector(`.runs tr[data-run="${second}"]`);
  await page.goto(url + '#/pipelines/webtest');
  await page.selectOption('select[data-metric-picker]', 'train.loss');
  await page.waitForSelector('svg.chart[aria-label="trend of train.loss"]');
  await page.click('.seg button >> text=js');
  await page.waitForSelector('svg.chart[aria-label="drift js"]');
  await page.goto(url + '#/runs/' + first);
  await page.click('details.raw summary');
  await page.waitForSelector('details.raw[open] pre');
  if (lineage) {
    await page.goto(lineage);
    await page.click('.seg button >> text=What used it');
    await page.waitForSelector('text=artifact → steps that read it');
    await page.selectOption('select[aria-label="depth"]', '1');
    await page.waitForSelector('svg.dag .node[data-execution]');
  }
  await page.goto(url + '#/nope');
  await page.waitForSelector('.error-box >> text=There is no page at /nope.');
});

await step('Run with params from the pipeline page', async () => {
  await page.goto(url + '#/pipelines/webtest');
  await page.click('button[data-run-params="webtest"]');
  await page.fill('dialog.params input[name="acc"]', '0.5');
  await shot('params', false);
  await page.click('dialog.params button[value="ok"]');
  // It opens the new run.
  await page.waitForFunction(() => /^#\/runs\/\d+$/.test(location.hash));
  const id = +/(\d+)$/.exec(await page.evaluate(() => location.hash))[1];
  await page.waitForSelector(`h1 >> text=Run #${id}`);
  await page.waitForSelector('h1 .badge.s-succeeded', { timeout: 20000 });
  const run = await (await fetch(api('runs/' + id))).json();
  ok('the changed param was sent', run.params.acc === '0.5',
     JSON.stringify(run.params));
});

// The same pages on a phone: screenshots only (narrow-*.png).
await step('the pages at 400 px', async () => {
  await page.setViewportSize({ width: 400, height: 800 });
  const pages = [
    ['overview', '#/', '.pipe[data-pipeline="webtest"]'],
    ['runs', '#/runs', `.runs tr[data-run="${first}"]`],
    ['run', '#/runs/' + second, 'pre.log >> text=deployed'],
    ['pipeline', '#/pipelines/webtest', 'svg.chart circle.pt'],
    ['models', '#/models', '[data-model="webmodel"] table.history'],
    ['model', '#/models/webmodel', '[data-model="webmodel"] table.history'],
  ];
  /* No view scrolls sideways: DAGs and wide tables scroll inside their
   * panels. */
  const fits = async (name) => {
    const [sw, iw] = await page.evaluate(() =>
      [document.documentElement.scrollWidth, window.innerWidth]);
    ok('at 400 px, ' + name + ' does not scroll sideways', sw <= iw,
       sw + ' > ' + iw);
  };
  for (const [name, hash, sel] of pages) {
    await page.goto(url + hash);
    await page.waitForSelector(sel);
    await shot('narrow-' + name);
    await fits(name);
  }
  await page.goto(url + '#/runs/' + slow);
  await page.waitForSelector('h1 .badge.s-cancelled');
  await fits('a cancelled run');
  await page.goto(url + '#/models');
  await page.click('[data-model="webmodel"] button[data-promote="2"]');
  await page.waitForSelector('dialog.promote[open]');
  await shot('narrow-promote', false);
  const dlg = await page.$eval('dialog.promote', (d) =>
    d.getBoundingClientRect().right);
  ok('at 400 px, the promote dialog fits', dlg <= 400, String(dlg));
  await page.click('dialog.promote button[value="cancel"]');
  if (lineage) {
    await page.goto(lineage);
    await page.waitForSelector('svg.dag .node[data-execution]');
    await shot('narrow-lineage');
    await fits('lineage');
  }
  // Issue 14's views: nothing wider than the screen, nothing overlapping.
  const checked = repro ? [
    ['models-hash', '#/models', '[data-model="repromodel"] code.hash'],
    ['lineage-producers', `#/artifacts/${sameBytes}?direction=up&run=1`,
     'ul.producers li[data-run="2"]'],
    ['reproduction', '#/runs/4', '.step-notes li[data-steps="ship"]'],
  ] : [];
  for (const [name, hash, sel] of checked) {
    await page.goto(url + hash);
    await page.waitForSelector(sel);
    await shot('narrow-' + name);
    await fits(name);
    const bad = await badLayout();
    ok('at 400 px, ' + name + ' fits', bad.length === 0, bad.join('; '));
  }
  await page.setViewportSize({ width: 1400, height: 900 });
});

ok('no page or console errors', errors.length === 0, errors.join('\n'));
await end(browser);
