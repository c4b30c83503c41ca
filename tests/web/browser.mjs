// What every browser test starts with: the screenshots' directory
// (KILN_WEB_SHOTS, made when missing) and Debian's chromium, headless
// (CHROMIUM: another one), with any more flags a test needs.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

export const shots = process.env.KILN_WEB_SHOTS || '.';
mkdirSync(shots, { recursive: true });

export function launch(extra = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu',
           '--disable-background-networking', ...extra],
  });
}

// A check of the page at each width: a new page (15 s timeouts) with its
// page errors and console errors collected, each(page, width) run on it;
// the browser closed, then the process exits 1 when a check threw or
// the page logged an error, else 0. A width whose requests chromium
// dropped because the machine's network changed (ERR_NETWORK_CHANGED:
// podman making a container's network in a test beside this one) is
// checked once more on a new page, saying so; any other failure stands.
export async function atWidths(widths, each) {
  const browser = await launch();
  let errors = [];
  let failed = false;
  for (const width of widths) {
    for (let round = 1; round <= 2; round++) {
      const mine = [];
      let threw = null;
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      page.setDefaultTimeout(15000);
      page.on('pageerror', (e) => mine.push('page error: ' + e.message));
      page.on('console', (m) => {
        if (m.type() === 'error')
          mine.push('console error: ' + m.text());
      });
      try {
        await each(page, width);
      } catch (e) {
        threw = e;
      }
      await page.close();
      const changed = mine.some((e) => e.includes('ERR_NETWORK_CHANGED'));
      if ((threw || mine.length) && changed && round === 1) {
        console.error('at ' + width + ' px: the network changed under ' +
                      'chromium (ERR_NETWORK_CHANGED): checking again');
        continue;
      }
      if (threw) {
        failed = true;
        console.error(threw.message);
      }
      errors = errors.concat(mine);
      break;
    }
    if (failed)
      break;
  }
  await browser.close();
  for (const e of errors)
    console.error(e);
  process.exit(failed || errors.length ? 1 : 0);
}

// The checks of a long test on one page: ok(what, cond, detail) counts a
// check; step(name, fn) runs one part of the test, where a timeout or an
// exception is a failure with what the page says (its error box and
// messages) and a screenshot of the moment (failed-PREFIXNAME.png), and
// the test goes on until its third failure; shot(name, full) takes a
// screenshot (of the whole page unless full is false) without the
// messages fixed to the window; end(browser) closes the browser, prints
// the tally and exits 1 when a check failed.
export function checks(page, prefix = '') {
  let failures = 0, count = 0;
  const ok = (what, cond, detail) => {
    count++;
    if (!cond) {
      failures++;
      console.error('FAIL: ' + what + (detail ? ': ' + detail : ''));
    }
  };
  const step = async (name, fn) => {
    if (failures >= 3) {
      console.error('skipped: ' + name + ' (too many failures)');
      return;
    }
    try {
      await fn();
      console.log('ok: ' + name);
    } catch (e) {
      failures++;
      const box = await page.$('.error-box').catch(() => null);
      const toasts = await page.$$eval('.toast', (l) =>
        l.map((t) => t.textContent).join(' | ')).catch(() => '');
      console.error('FAIL: ' + name + ': ' + e.message.split('\n')[0] +
                    (box ? ' (the page says: ' + await box.textContent() +
                           ')' : '') +
                    (toasts ? ' (messages: ' + toasts + ')' : ''));
      await page.screenshot({ path: shots + '/failed-' + prefix +
                              name.replace(/\W+/g, '-') + '.png',
                              fullPage: true }).catch(() => {});
    }
  };
  const shot = async (name, full = true) => {
    await page.evaluate(() => {
      for (const t of document.querySelectorAll('.toast'))
        t.remove();
    });
    await page.screenshot({ path: shots + '/' + name + '.png',
                            fullPage: full });
  };
  const end = async (browser) => {
    await browser.close();
    console.log(count + ' checks, ' + failures + ' failed; screenshots in ' +
                shots);
    process.exit(failures ? 1 : 0);
  };
  return { ok, step, shot, end };
}
