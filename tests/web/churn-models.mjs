// The models view on the churn example after a challenger lost and one
// won (run by tests/cli/test-churn-loop.sh while its daemon runs): the
// versions with their live metrics, the aliases, and the alias history
// with the retirement and the promotion, at 1400 and 400 px. Env:
// KILN_URL, KILN_WEB_SHOTS, CHROMIUM.
import { atWidths, shots } from './browser.mjs';

const url = process.env.KILN_URL;
await atWidths([1400, 400], async (page, width) => {
  await page.goto(url + '#/models');
  await page.waitForSelector('section.model[data-model="churn"]');
  const row = (v) => 'tr[data-version="' + v + '"]';
  await page.waitForSelector(row(3) + ' .tag.alias >> text=production');
  const live3 = await page.textContent(row(3) + ' .live-metrics');
  if (!/live_auc 0\.9/.test(live3))
    throw new Error('v3 live metrics: ' + live3);
  const live2 = await page.textContent(row(2) + ' .live-metrics');
  if (!/live_batches 2/.test(live2))
    throw new Error('v2 live metrics: ' + live2);
  const hist = await page.textContent('table.history');
  if (!/v3 → none/.test(hist) || !/v2 → none/.test(hist) ||
      !/v1 → v3/.test(hist) || !/retired/.test(hist))
    throw new Error('alias history: ' + hist);
  await page.screenshot({ path: shots + '/churn-models-' + width + '.png',
                          fullPage: true });
});
