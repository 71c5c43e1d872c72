import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import { describeIf } from './servers/common.js';

/**
 * A real Chromium for the console's tests (issue 21): Debian's `chromium`, driven by playwright-core
 * (its own browser downloads are not used). As root it needs --no-sandbox.
 */
export const CHROMIUM = process.env.FAULTLINE_CHROMIUM ?? '/usr/bin/chromium';

export const chromiumSuite = () => describeIf(existsSync(CHROMIUM), 'Chromium', 'apt-get install chromium');

/** Where the tests leave their screenshots (docs/screenshots has the README's copies). */
export const SCREENSHOTS = join(import.meta.dirname, '..', 'test-results', 'console');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
}

/** A fresh browser profile (cookies, storage) with a page, as a new person at a new machine. */
export async function newPage(browser: Browser, o: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', ...o });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  return page;
}

/** Uncaught errors in the console's pages (each test expects none). */
export const pageErrors: string[] = [];

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Signs in on the console's form (the page must show it). */
export async function signIn(
  page: Page,
  username: string,
  password: string,
  labels = { user: 'User name', password: 'Password', submit: 'Sign in' },
) {
  await page.getByLabel(labels.user).fill(username);
  await page.getByLabel(labels.password, { exact: true }).fill(password);
  await page.getByRole('button', { name: labels.submit }).click();
}
