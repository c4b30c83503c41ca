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
