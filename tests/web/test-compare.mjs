// The compare view and a step's Retry from here in Debian's chromium,
// driven by playwright-core. test-compare.sh starts kiln serve after 30
// runs of "sweep" (params lr, depth, opt differ, seed does not; metrics
// train.acc, train.loss and evaluate.score differ, evaluate.same does
// not) and sets:
//   KILN_URL          the daemon's base URL (http://127.0.0.1:PORT/)
//   KILN_TEST_TOKEN   its API token (admin)
//   KILN_WEB_SHOTS    where screenshots go
//   CHROMIUM          the browser (/usr/bin/chromium)
// Any page error or console error fails the test.
import { checks, launch } from './browser.mjs';
import { readFileSync } from 'node:fs';

const url = process.env.KILN_URL;
const token = process.env.KILN_TEST_TOKEN;
const api = (path) => new URL('api/v1/' + path, url).href;

async function apiGet(path) {
  const r = await fetch(api(path), {
    headers: { Authorization: 'Bearer ' + token } });
  if (!r.ok)
    throw new Error('GET ' + path + ': ' + r.status);
  return r.json();
}

/* The table's column heads (their sort keys) and its rows' cells. */
const heads = () => page.$$eval('table.compare th[data-sort]',
                                (l) => l.map((t) => t.dataset.sort));
const column = (metric) => page.$$eval(
  `table.compare td[data-metric="${metric}"]`,
  (l) => l.map((t) => Number(t.textContent)));
const runIds = () => page.$$eval('table.compare tbody tr',
                                 (l) => l.map((t) => +t.dataset.run));
const sorted = (a, desc) => a.every((x, i) => !i ||
  (desc ? a[i - 1] >= x : a[i - 1] <= x));

/* The CSV the page exports, parsed: [header, ...rows]. */
function parseCsv(text) {
  const rows = [];
  for (const line of text.split('\r\n')) {
    if (!line)
      continue;
    rows.push(line.split(','));   /* no value here holds a comma */
  }
  return rows;
}

const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1400, height: 900 },
                                     acceptDownloads: true });
const { ok, step, shot, end } = checks(page, 'compare-');
page.setDefaultTimeout(15000);
const errors = [];
page.on('pageerror', (e) => errors.push('page error: ' + e.message));
page.on('console', (m) => {
  if (m.type() === 'error')
    errors.push('console error: ' + m.text());
});
page.on('dialog', (d) => {
  errors.push('unexpected dialog: ' + d.message());
  d.dismiss();
});

const all = await apiGet('compare?pipeline=sweep&last=30&limit=1000&all=1');
const accOf = new Map(all.rows.map((r) => [r.run, r.metrics['train.acc']]));
ok('30 runs to compare', all.total === 30, String(all.total));

await step('anonymous: the compare view, but no Retry from here', async () => {
  await page.goto(url + '#/runs/1/steps/train');
  await page.waitForSelector('.logbar strong');
  ok('no Retry from here', await page.$('button[data-retry-from]') === null);
  await page.goto(url + '#/compare?runs=1,2');
  await page.waitForSelector('table.compare tbody tr[data-run="2"]');
});

await step('log in', async () => {
  await page.goto(url + '#/login');
  await page.fill('#login-token', token);
  await page.press('#login-token', 'Enter');
  await page.waitForSelector('#login[data-action="logout"]');
});

await step('choose three runs on the pipeline page and compare them',
           async () => {
  await page.goto(url + '#/pipelines/sweep');
  await page.waitForSelector('table.runs input[data-pick]');
  ok('Compare needs two runs',
     await page.isDisabled('button[data-compare]'));
  const ids = (await page.$$eval('table.runs input[data-pick]',
                                 (l) => l.map((b) => +b.dataset.pick)))
    .slice(0, 3);
  for (const id of ids)
    await page.check(`input[data-pick="${id}"]`);
  ok('the button counts them',
     (await page.textContent('button[data-compare]')).trim() === 'Compare 3');
  await shot('compare-pipeline', false);
  await page.click('button[data-compare]');
  await page.waitForSelector('table.compare tbody tr');
  const want = ids.slice().sort((a, b) => a - b).join(',');
  ok('the URL names them', page.url().endsWith('#/compare?runs=' + want),
     page.url());
  const got = (await runIds()).slice().sort((a, b) => a - b).join(',');
  ok('the table has those runs', got === want, got);
});

await step('compare the latest 30: the columns that differ', async () => {
  await page.goto(url + '#/pipelines/sweep');
  await page.waitForSelector('input[data-compare-last]');
  await page.fill('input[data-compare-last]', '30');
  await page.dispatchEvent('input[data-compare-last]', 'change');
  await page.click('a[data-compare-latest]');
  await page.waitForSelector('table.compare tbody tr');
  ok('the URL', page.url().endsWith('#/compare?pipeline=sweep&last=30'),
     page.url());
  const h = await heads();
  for (const k of ['params.lr', 'params.depth', 'params.opt', 'train.acc',
                   'train.loss', 'evaluate.score'])
    ok('a column for ' + k, h.includes(k), h.join(' '));
  for (const k of ['params.seed', 'evaluate.same'])
    ok('no column for ' + k + ' (the same in every run)', !h.includes(k),
       h.join(' '));
  ok('30 rows on one page', (await runIds()).length === 30);
  await page.check('input[data-all]');
  await page.waitForSelector('th[data-sort="params.seed"]');
  ok('show all: evaluate.same too',
     (await heads()).includes('evaluate.same'));
  await page.uncheck('input[data-all]');
  await page.waitForSelector('th[data-sort="params.seed"]',
                             { state: 'detached' });
  await page.waitForSelector('svg.chart.scatter circle.pt');
  await shot('compare-wide');
});

await step('sort by a metric both ways, page by page', async () => {
  await page.goto(url + '#/compare?pipeline=sweep&last=30&limit=10');
  await page.waitForSelector('table.compare tbody tr');
  ok('a page of 10', (await runIds()).length === 10);
  ok('1-10 of 30', await page.getAttribute('[data-range]', 'data-range') ===
     '1-10');
  await page.click('th[data-sort="train.acc"] button');
  await page.waitForSelector('th[data-sort="train.acc"][aria-sort="descending"]');
  const byAcc = all.rows.map((r) => r.metrics['train.acc'])
    .sort((a, b) => b - a);
  let acc = await column('train.acc');
  ok('highest first', sorted(acc, true) &&
     acc.join() === byAcc.slice(0, 10).join(), acc.join(' '));
  ok('each row its run\'s acc', (await runIds()).every((id, i) =>
     accOf.get(id) === acc[i]));
  ok('the URL keeps the sort', /sort=train\.acc(&|$)/.test(page.url()),
     page.url());
  await page.click('button[data-page="next"]');
  await page.waitForSelector('[data-range="11-20"]');
  acc = await column('train.acc');
  ok('page 2 goes on from page 1', sorted(acc, true) &&
     acc.join() === byAcc.slice(10, 20).join(), acc.join(' '));
  await page.click('button[data-page="next"]');
  await page.waitForSelector('[data-range="21-30"]');
  ok('the last page has no Next',
     await page.isDisabled('button[data-page="next"]'));
  await page.click('th[data-sort="train.acc"] button');
  await page.waitForSelector('th[data-sort="train.acc"][aria-sort="ascending"]');
  ok('a new sort starts at page 1',
     await page.getAttribute('[data-range]', 'data-range') === '1-10');
  acc = await column('train.acc');
  const up = byAcc.slice().reverse();
  ok('lowest first', sorted(acc, false) &&
     acc.join() === up.slice(0, 10).join(), acc.join(' '));
  await page.click('th[data-sort="params.lr"] button');
  await page.waitForSelector('th[data-sort="params.lr"][aria-sort="descending"]');
  const lr = await page.$$eval('table.compare td[data-param="lr"]',
                               (l) => l.map((t) => Number(t.textContent)));
  ok('by a param, highest first', sorted(lr, true) && lr[0] === 0.3,
     lr.join(' '));
});

await step('export CSV: every row, in the table\'s order', async () => {
  await page.goto(url + '#/compare?pipeline=sweep&last=30&limit=10' +
                  '&sort=train.loss:asc');
  await page.waitForSelector('th[data-sort="train.loss"][aria-sort="ascending"]');
  const [dl] = await Promise.all([page.waitForEvent('download'),
                                  page.click('button[data-export="csv"]')]);
  ok('a .csv file', dl.suggestedFilename() === 'compare-sweep.csv',
     dl.suggestedFilename());
  const rows = parseCsv(readFileSync(await dl.path(), 'utf8'));
  const head = rows[0];
  ok('the header', head.slice(0, 4).join() ===
     'run,pipeline,status,created_at' && head.includes('lr') &&
     head.includes('train.acc') && !head.includes('seed'), head.join());
  ok('30 rows, not a page', rows.length === 31, String(rows.length));
  const li = head.indexOf('train.loss'), ai = head.indexOf('train.acc');
  const loss = rows.slice(1).map((r) => Number(r[li]));
  ok('sorted as the table', sorted(loss, false), loss.join(' '));
  ok('each run\'s values', rows.slice(1).every((r) =>
     accOf.get(+r[0]) === Number(r[ai]) && r[1] === 'sweep' &&
     r[2] === 'succeeded'));
});

await step('the chart: a metric against a param', async () => {
  await page.goto(url + '#/compare?pipeline=sweep&last=30&limit=10');
  await page.waitForSelector('svg.chart.scatter circle.pt');
  await page.selectOption('select[data-axis="y"]', 'train.acc');
  await page.selectOption('select[data-axis="x"]', 'lr');
  await page.waitForSelector('svg.chart.scatter[aria-label="train.acc against lr"]');
  const n = await page.$$eval('svg.chart.scatter circle.pt', (l) => l.length);
  ok('a point per run, not per page', n === 30, String(n));
  const tip = await page.$eval('svg.chart.scatter circle.pt title',
                               (t) => t.textContent);
  ok('a point says its run', /^run #\d+: lr=[\d.]+, train\.acc = /.test(tip),
     tip);
  await page.selectOption('select[data-axis="x"]', 'opt');
  await page.waitForFunction(() =>
    [...document.querySelectorAll('svg.chart.scatter .axis text')]
      .some((t) => t.textContent === 'rmsprop'));
  const xs = await page.$$eval('svg.chart.scatter circle.pt',
                               (l) => [...new Set(l.map((c) => c.getAttribute('cx')))]);
  ok('a categorical param: three evenly spaced columns', xs.length === 3,
     xs.join(' '));
  await shot('compare-chart-categorical', false);
});

await step('at 400 px: no sideways scroll, the table scrolls in its panel',
           async () => {
  await page.setViewportSize({ width: 400, height: 800 });
  /* Another URL: a view of its own, drawn for this width. */
  await page.goto(url + '#/compare?pipeline=sweep&last=30&limit=12');
  await page.waitForSelector('[data-range="1-12"]');
  await page.waitForSelector('svg.chart.scatter circle.pt');
  const w = await page.evaluate(() => [document.documentElement.scrollWidth,
                                       innerWidth]);
  ok('the page is no wider than the window', w[0] <= w[1], w.join(' > '));
  const inner = await page.$eval('table.compare', (t) => {
    const box = t.parentElement;
    return [box.scrollWidth, box.clientWidth,
            getComputedStyle(box).overflowX];
  });
  ok('the table scrolls inside its panel', inner[0] > inner[1] &&
     inner[2] === 'auto', inner.join(' '));
  const svgW = await page.$eval('svg.chart.scatter', (s) =>
    s.getBoundingClientRect().right);
  ok('the chart fits', svgW <= 400, String(svgW));
  await shot('compare-narrow');
  await page.goto(url + '#/pipelines/sweep');
  await page.waitForSelector('table.runs input[data-pick]');
  const pw = await page.evaluate(() => document.documentElement.scrollWidth);
  ok('the pipeline page with its checkboxes fits', pw <= 400, String(pw));
  await shot('compare-narrow-pipeline');
  await page.setViewportSize({ width: 1400, height: 900 });
});

await step('Retry from here: a new run reusing the steps before', async () => {
  const from = all.rows[5].run;
  await page.goto(url + '#/runs/' + from + '/steps/train');
  await page.waitForSelector('button[data-retry-from="train"]');
  await page.click('button[data-retry-from="train"]');
  await page.waitForSelector('dialog.confirm[open]');
  await shot('compare-retry-dialog', false);
  await page.click('dialog.confirm button[value="ok"]');
  await page.waitForFunction((id) => {
    const m = location.hash.match(/^#\/runs\/(\d+)/);
    return m && +m[1] !== id;
  }, from);
  const id = +page.url().match(/#\/runs\/(\d+)/)[1];
  ok('a new run', id > 30, String(id));
  await page.waitForSelector('h1 .badge.s-succeeded', { timeout: 30000 });
  const run = await apiGet('runs/' + id);
  const last = (n) => {
    const s = run.steps.find((x) => x.name === n);
    return s.attempts_detail[s.attempts_detail.length - 1];
  };
  ok('a retry of the run', run.trigger === 'retry' &&
     +run.trigger_info.retry_of === from, JSON.stringify(run.trigger_info));
  ok('prepare reused', last('prepare').status === 'cached' &&
     last('prepare').executor === 'reuse', JSON.stringify(last('prepare')));
  ok('train ran again', last('train').status === 'succeeded',
     JSON.stringify(last('train')));
  ok('evaluate ran again', last('evaluate').status === 'succeeded',
     JSON.stringify(last('evaluate')));
  ok('the page marks prepare reused', await page.$eval(
     'svg.dag [data-step="prepare"]', (n) => n.textContent.includes('REUSED')));
  await shot('compare-retried');
});

await step('a sweep\'s items: from the run page, sorted, exported', async () => {
  const grid = +process.env.KILN_GRID_RUN;
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto(url + '#/runs/' + grid);
  await page.click('a[data-compare-items="train"]');
  await page.waitForSelector('table.compare tbody tr[data-item]');
  const items = () => page.$$eval('table.compare tbody tr',
                                  (l) => l.map((r) => r.dataset.item));
  ok('six items', (await items()).length === 6, (await items()).join(' '));
  ok('titled as items', (await page.textContent('h1')).trim() ===
     'Compare items', await page.textContent('h1'));
  const head = await page.$$eval('table.compare thead th',
                                 (l) => l.map((t) => t.textContent.trim()));
  ok('their values and metric as columns', head.some((t) => t.startsWith('lr')) &&
     head.some((t) => t.startsWith('depth')) &&
     head.some((t) => t.startsWith('train.acc')), head.join('|'));
  await page.click('th[data-sort="train.acc"] button');
  await page.waitForSelector('th[data-sort="train.acc"][aria-sort="descending"]');
  ok('the best item first', (await items())[0] === 'train[lr=0.2,depth=3]',
     (await items()).join(' '));
  const want = await apiGet('compare?items=' + grid + ':train&sort=train.acc');
  ok('the order the API gives', (await items()).join() ===
     want.rows.map((r) => r.item).join(), (await items()).join(' '));
  const [dl] = await Promise.all([page.waitForEvent('download'),
                                  page.click('button[data-export="csv"]')]);
  /* Item names hold commas: quoted fields. */
  const lines = readFileSync(await dl.path(), 'utf8').split('\r\n')
    .filter((l) => l);
  const fields = (l) => [...l.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)]
    .map((m) => m[1].replace(/^"|"$/g, '').replace(/""/g, '"'))
    .slice(0, -1);
  ok('the CSV has an item column', fields(lines[0])[1] === 'item',
     lines[0]);
  ok('seven lines, the best item first', lines.length === 7 &&
     fields(lines[1])[1] === 'train[lr=0.2,depth=3]', lines.join(' / '));
  await shot('compare-items');
});

ok('no page or console errors', errors.length === 0, errors.join('\n'));
await end(browser);
