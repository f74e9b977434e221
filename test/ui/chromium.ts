// Debian's Chromium, driven by playwright-core (which never downloads a browser of its own). The
// browser tests fail, rather than skip, where it is missing, and say how to install it.
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** The flags this machine's Chromium needs: no sandbox as root, no GPU, no calls home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Launches Chromium headless with a fresh, empty profile (Playwright gives every launch a new
 * temporary user-data-dir and removes it on close). `extraArgs` adds flags for one test.
 */
export async function launchChromium(executablePath = CHROMIUM, extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium is not installed at ${executablePath}, and the web UI's browser tests need it. ` +
        "Install Debian's package as root: `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium` " +
        '(.ci/run does this when it is missing). No test tool may download a browser of its own.',
    );
  }
  return chromium.launch({ executablePath, args: [...CHROMIUM_ARGS, ...extraArgs], timeout: 30_000 });
}
