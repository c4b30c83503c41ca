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
// the page logged an error, else 0.
export async function atWidths(widths, each) {
  const browser = await launch();
  const errors = [];
  let failed = false;
  try {
    for (const width of widths) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      page.setDefaultTimeout(15000);
      page.on('pageerror', (e) => errors.push('page error: ' + e.message));
      page.on('console', (m) => {
        if (m.type() === 'error')
          errors.push('console error: ' + m.text());
      });
      await each(page, width);
      await page.close();
    }
  } catch (e) {
    failed = true;
    console.error(e.message);
  }
  await browser.close();
  for (const e of errors)
    console.error(e);
  process.exit(failed || errors.length ? 1 : 0);
}
