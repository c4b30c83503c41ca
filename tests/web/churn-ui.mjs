// The status page on the churn example after a drift-triggered retrain
// whose model became the challenger (run by tests/cli/test-churn.sh while
// its daemon runs). Checks the
// overview, the pipeline page (drift statistics) and the retrained run,
// and saves the screenshots the README shows. Env: KILN_URL, RUN (the
// drift-triggered run), KILN_WEB_SHOTS, CHROMIUM.
import { launch, shots } from './browser.mjs';

const url = process.env.KILN_URL;
const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.setDefaultTimeout(15000);
const errors = [];
page.on('pageerror', (e) => errors.push('page error: ' + e.message));
page.on('console', (m) => {
  if (m.type() === 'error')
    errors.push('console error: ' + m.text());
});
let failed = false;
try {
  await page.goto(url);
  await page.waitForSelector('.pipe[data-pipeline="churn"]');
  await page.waitForSelector('.trig[data-trigger="drift"]');
  await page.screenshot({ path: shots + '/churn-overview.png' });
  await page.goto(url + '#/pipelines/churn');
  await page.waitForSelector('table.drift td >> text=radius');
  await page.screenshot({ path: shots + '/churn-pipeline.png', fullPage: true });
  await page.goto(url + '#/runs/' + process.env.RUN);
  await page.waitForSelector('h1 .badge.s-succeeded');
  const nodes = await page.$$eval('svg.dag .node[data-step]', (l) => l.length);
  if (nodes !== 10)
    throw new Error('the DAG has ' + nodes + ' steps, not 10');
  await page.waitForSelector('svg.dag .node[data-step="challenge"][data-status="succeeded"]');
  await page.screenshot({ path: shots + '/churn-run.png', fullPage: true });
} catch (e) {
  failed = true;
  console.error('FAIL: ' + e.message.split('\n')[0]);
  await page.screenshot({ path: shots + '/churn-failed.png', fullPage: true })
    .catch(() => {});
}
for (const e of errors)
  console.error('FAIL: ' + e);
await browser.close();
process.exit(failed || errors.length ? 1 : 0);
