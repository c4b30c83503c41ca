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
