// A pipeline's page shows, in its trigger checks, how the alerts of a
// drift check went: one sent, one failed with why, each webhook by its
// host only (run by tests/cli/test-notify.sh on the pipeline "drifty",
// whose first drift check alerted two webhooks), at 1400 and 400 px.
// Env: KILN_URL, KILN_WEB_SHOTS, CHROMIUM.
import { atWidths, shots } from './browser.mjs';

const url = process.env.KILN_URL;
await atWidths([1400, 400], async (page, width) => {
  await page.goto(url + '#/pipelines/drifty');
  await page.waitForSelector('.alert[data-alert="failed"]');
  const alerts = await page.$$eval('.alert', (els) =>
    els.map((e) => [e.dataset.alert, e.textContent, e.title]));
  const sent = alerts.find((a) => a[0] === 'sent');
  const failed = alerts.find((a) => a[0] === 'failed');
  if (!sent || !/alert to 127\.0\.0\.1:\d+/.test(sent[1]))
    throw new Error('no sent alert: ' + JSON.stringify(alerts));
  if (!/HTTP 500/.test(failed[1]) || failed[2] !== '3 attempts')
    throw new Error('the failed alert: ' + JSON.stringify(failed));
  const all = alerts.map((a) => a[1]).join(' / ');
  if (/SECRET|\/broken|\/hook/.test(all))
    throw new Error('a webhook path shown: ' + all);
  // The alert sits in its check's row, under the outcome.
  const row = await page.$eval('.alert[data-alert="failed"]', (e) =>
    e.closest('tr').textContent);
  if (!/drift/.test(row) || !/fired/.test(row))
    throw new Error('the failed alert\'s row: ' + row);
  await page.screenshot({ path: shots + '/drift-alerts-' + width + '.png',
                          fullPage: true });
  await page.evaluate(() => document.querySelector('.alert[data-alert=' +
                                                   '"failed"]').scrollIntoView());
  await page.screenshot({ path: shots + '/drift-alerts-row-' + width +
                          '.png' });
});
