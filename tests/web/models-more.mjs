// The models view of a model with 25 versions (run by
// tests/cli/test-models-view.sh): the newest 20 and the one production
// points at, a note saying so, and a link that lists all 25; at 1400 and
// 400 px. Env: KILN_URL, KILN_WEB_SHOTS, CHROMIUM.
import { atWidths, shots } from './browser.mjs';

const url = process.env.KILN_URL;
await atWidths([1400, 400], async (page, width) => {
  const many = 'section.model[data-model="many"]';
  await page.goto(url + '#/models');
  await page.waitForSelector(many + ' .panel-foot[data-more="25"]');
  const shown = await page.$$eval(many + ' tr[data-version]',
                                  (trs) => trs.map((tr) => +tr.dataset.version));
  if (shown.length !== 21 || shown[0] !== 25 || !shown.includes(2))
    throw new Error('listed: ' + shown.join(' '));
  const head = await page.textContent(many + ' .panel-head');
  if (!/25 versions/.test(head))
    throw new Error('its count: ' + head);
  const sub = await page.textContent('body');
  if (!/4 models, 29 versions/.test(sub))
    throw new Error('the page\'s count: ' + sub.slice(0, 200));
  const note = await page.textContent(many + ' .panel-foot');
  if (!/The newest 20 of 25 versions/.test(note))
    throw new Error('note: ' + note);
  await page.screenshot({ path: shots + '/models-more-' + width + '.png',
                          fullPage: true });
  await page.click(many + ' .panel-foot a');
  await page.waitForFunction(() => location.hash === '#/models/many?all');
  await page.waitForFunction((sel) =>
    document.querySelectorAll(sel).length === 25,
    'section.model[data-model="many"] tr[data-version]');
  if (await page.$(many + ' .panel-foot'))
    throw new Error('all listed, yet a note');
});
