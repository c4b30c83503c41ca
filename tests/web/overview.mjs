// The overview of 1,001 pipelines (run by tests/web/test-overview.sh):
// the first 100 as the daemon ranks them, p0050 (its last run failed)
// on top, then "Show all 1001" (two pages from the daemon); at 1400 and
// 400 px. Env: KILN_URL, KILN_WEB_SHOTS, CHROMIUM.
import { atWidths, shots } from './browser.mjs';

const url = process.env.KILN_URL;
await atWidths([1400, 400], async (page, width) => {
  await page.goto(url + '#/');
  await page.waitForSelector('.more-pipes >> text=Show all 1001');
  const names = () => page.$$eval('.pipes > .pipe a[href^="#/pipelines/"]',
    (l) => [...new Set(l.map((a) => a.textContent.trim()))]);
  let shown = await names();
  if (shown.length !== 100 || shown[0] !== 'p0050' || shown[1] !== 'p0000')
    throw new Error('first page: ' + shown.length + ' ' +
                    shown.slice(0, 3).join());
  const head = await page.textContent('h1 + *');
  if (!/1001 loaded/.test(head))
    throw new Error('the totals: ' + head);
  await page.screenshot({ path: shots + '/overview-page-' + width + '.png' });
  await page.locator('.more-pipes').screenshot(
      { path: shots + '/overview-page-more-' + width + '.png' });
  await page.click('.more-pipes button');
  await page.waitForSelector('.more-pipes', { state: 'detached' });
  shown = await names();
  if (shown.length !== 1001 || shown[1000] !== 'p1000')
    throw new Error('all: ' + shown.length + ' ' + shown.slice(-2).join());
});
