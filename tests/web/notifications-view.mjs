// A run's page lists its notifications: each webhook by its host only,
// sent, failed with why, and pending (run by tests/cli/test-notify.sh on
// its first run: two sent, one failed, one pending), at 1400 and 400 px.
// Env: KILN_URL, KILN_WEB_SHOTS, CHROMIUM.
import { atWidths, shots } from './browser.mjs';

const url = process.env.KILN_URL;
await atWidths([1400, 400], async (page, width) => {
  await page.goto(url + '#/runs/1');
  await page.waitForSelector('table.notifications tbody tr');
  const rows = await page.$$eval('table.notifications tbody tr', (trs) =>
    trs.map((tr) => [tr.dataset.status, tr.dataset.notification,
                     tr.textContent]));
  const statuses = rows.map((r) => r[0]).sort().join(' ');
  if (statuses !== 'failed pending sent sent')
    throw new Error('statuses: ' + statuses);
  const all = rows.map((r) => r[2]).join(' / ');
  // Hosts only: no path of a webhook's URL (a Slack URL's secret).
  if (/\/(slack|flaky|down|SECRET)/.test(all))
    throw new Error('a webhook path shown: ' + all);
  const failed = rows.find((r) => r[0] === 'failed');
  if (!/127\.0\.0\.1:1\b/.test(failed[1]) ||
      !/Failed to connect/.test(failed[2]))
    throw new Error('the failed one: ' + failed[2]);
  const badge = await page.textContent('tr[data-status="pending"] .badge');
  if (badge.trim() !== 'pending')
    throw new Error('pending badge: ' + badge);
  await page.screenshot({ path: shots + '/notifications-' + width + '.png',
                          fullPage: true });
  await page.evaluate(() =>
    document.querySelector('table.notifications').scrollIntoView());
  await page.screenshot({ path: shots + '/notifications-table-' + width +
                          '.png' });
});
