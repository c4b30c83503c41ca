// The status page in Debian's chromium, driven by playwright-core.
// test-ui.sh starts kiln serve with the pipeline "webtest" and sets:
//   KILN_URL          the daemon's base URL (http://127.0.0.1:PORT/)
//   KILN_TEST_TOKEN   its API token
//   KILN_WEB_SHOTS    where screenshots go
//   CHROMIUM          the browser (/usr/bin/chromium)
// Any page error or console error fails the test, except the one 401 the
// wrong-token check asks for.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const url = process.env.KILN_URL;
const token = process.env.KILN_TEST_TOKEN;
const shots = process.env.KILN_WEB_SHOTS || '.';
const api = (path) => new URL('api/v1/' + path, url).href;
mkdirSync(shots, { recursive: true });

let failures = 0, checks = 0;
function ok(what, cond, detail) {
  checks++;
  if (!cond) {
    failures++;
    console.error('FAIL: ' + what + (detail ? ': ' + detail : ''));
  }
}

// Run one step of the test; a timeout or an exception is a failure with
// a screenshot of the moment, and the test goes on (until the third).
async function step(name, fn) {
  if (failures >= 3) {
    console.error('skipped: ' + name + ' (too many failures)');
    return;
  }
  try {
    await fn();
    console.log('ok: ' + name);
  } catch (e) {
    failures++;
    const box = await page.$('.error-box');
    console.error('FAIL: ' + name + ': ' + e.message.split('\n')[0] +
                  (box ? ' (the page says: ' + await box.textContent() + ')'
                       : ''));
    await page.screenshot({ path: shots + '/failed-' +
                            name.replace(/\W+/g, '-') + '.png',
                            fullPage: true }).catch(() => {});
  }
}

// A screenshot (of the whole page unless full is false), without the
// messages fixed to the window.
async function shot(name, full = true) {
  await page.evaluate(() => {
    for (const t of document.querySelectorAll('.toast'))
      t.remove();
  });
  await page.screenshot({ path: shots + '/' + name + '.png', fullPage: full });
}

async function startRun(params) {
  const r = await fetch(api('pipelines/webtest/runs'), {
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

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu',
         '--disable-background-networking'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
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
await step('Run now asks for the token and says when it is wrong',
           async () => {
  expect401 = true;
  await page.click('button[data-run-now="webtest"]');
  await page.waitForSelector('#token-dialog[open]');
  await page.fill('#token-input', 'not-the-token-0000');
  await page.click('#token-dialog button[value="ok"]');
  await page.waitForSelector('.toast.err >> text=/refused \\(401/');
  ok('a refused token is forgotten',
     await page.evaluate(() => sessionStorage.getItem('kiln.token')) === null);
});

await step('Run now with the token starts a run', async () => {
  await page.click('button[data-run-now="webtest"]');
  await page.waitForSelector('#token-dialog[open]');
  await page.fill('#token-input', token);
  await page.press('#token-input', 'Enter');
  const t = await page.waitForSelector('.toast.ok >> text=/Started run #\\d+/');
  first = +(/#(\d+)/.exec(await t.textContent())[1]);
  ok('the token is kept for the tab',
     await page.evaluate(() => sessionStorage.getItem('kiln.token')) === token);
  expect401 = false;
});

await step('the run appears and turns green without a reload', async () => {
  await page.waitForSelector(`.runs tr[data-run="${first}"]`);
  await page.waitForSelector(
    `.runs tr[data-run="${first}"][data-status="running"], ` +
    `.runs tr[data-run="${first}"][data-status="queued"]`, { timeout: 5000 });
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

let second = 0;
await step('a running run: live log and states, then success', async () => {
  second = await startRun({ acc: 0.97 });
  await page.goto(url + '#/runs/' + second);
  await page.waitForSelector('svg.dag .node[data-status="running"]');
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
  const rows = await page.$$eval('[data-model="webmodel"] tbody tr',
                                 (l) => l.length);
  ok('a version per run', rows === 2, String(rows));
  await shot('models');
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

await step('the runs page', async () => {
  await page.goto(url + '#/runs');
  await page.waitForSelector(`.runs tr[data-run="${first}"]`);
  await page.waitForSelector(`.runs tr[data-run="${second}"]`);
});

await step('filters, pickers and switches redraw their view', async () => {
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
  const t = await page.waitForSelector('.toast.ok >> text=/Started run #\\d+/');
  const id = +(/#(\d+)/.exec(await t.textContent())[1]);
  await page.waitForSelector(`.runs tr[data-run="${id}"][data-status="succeeded"]`,
                             { timeout: 20000 });
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
    ['models', '#/models', '[data-model="webmodel"]'],
  ];
  for (const [name, hash, sel] of pages) {
    await page.goto(url + hash);
    await page.waitForSelector(sel);
    await shot('narrow-' + name);
  }
  if (lineage) {
    await page.goto(lineage);
    await page.waitForSelector('svg.dag .node[data-execution]');
    await shot('narrow-lineage');
  }
  await page.setViewportSize({ width: 1400, height: 900 });
});

ok('no page or console errors', errors.length === 0, errors.join('\n'));
await browser.close();
console.log(checks + ' checks, ' + failures + ' failed; screenshots in ' +
            shots);
process.exit(failures ? 1 : 0);
