/**
 * Headless Chromium for tests, driven by playwright-core with Debian's `chromium` package (no browser
 * download). The flags keep Chromium off the network: this machine has none beyond the registries.
 * playwright gives each launch a fresh empty profile.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Chromium is required in CI (.ci/run installs it); a developer without it skips browser tests. */
export const haveChromium = existsSync(CHROMIUM) || process.env.CI === 'true';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
