// A model's page lists every run of its deploy command and how it ended
// (run by tests/cli/test-deploy-kill.sh once its kills left one of each:
// moved, failed with an exit status, never started, lost), newest first,
// at 1400 and 400 px. Env: KILN_URL, KILN_WEB_SHOTS, CHROMIUM.
import { atWidths, shots } from './browser.mjs';

const url = process.env.KILN_URL;
await atWidths([1400, 400], async (page, width) => {
  await page.goto(url + '#/models/m');
  await page.waitForSelector('table.deploys tbody tr');
  const rows = await page.$$eval('table.deploys tbody tr', (trs) =>
    trs.map((tr) => [tr.dataset.outcome,
                     tr.querySelector('.tag.alias').textContent,
                     tr.textContent]));
  const outcome = (alias) => (rows.find((r) => r[1] === alias) || [])[0];
  const text = (alias) => (rows.find((r) => r[1] === alias) || [])[2] || '';
  if (outcome('production') !== 'moved' || outcome('shadow') !== 'failed' ||
      outcome('gone') !== 'lost' || outcome('at-deploy-gated') !== 'failed')
    throw new Error('outcomes: ' + JSON.stringify(rows.map((r) => r.slice(0, 2))));
  if (!/exit status 3/.test(text('shadow')) ||
      !/never started/.test(text('at-deploy-gated')) ||
      !/its end is unknown/.test(text('gone')))
    throw new Error('how they ended: ' + rows.map((r) => r[2]).join(' / '));
  // Newest first: the API's canary move was the last one made.
  if (rows[0][1] !== 'canary')
    throw new Error('newest first: ' + rows[0][1]);
  const badge = await page.textContent('tr[data-outcome="lost"] .badge');
  if (badge.trim() !== 'lost')
    throw new Error('lost badge: ' + badge);
  await page.screenshot({ path: shots + '/deploys-' + width + '.png',
                          fullPage: true });
  // The table itself, in the window (the view may render again at any
  // moment: no element handle is kept).
  await page.evaluate(() =>
    document.querySelector('details.deploys').scrollIntoView());
  await page.screenshot({ path: shots + '/deploys-table-' + width + '.png' });
});
