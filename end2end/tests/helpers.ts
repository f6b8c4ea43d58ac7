import { expect, type Page } from '@playwright/test';

export const ADMIN = process.env.WEIR_E2E_ADMIN ?? 'admin';
export const PASSWORD = process.env.WEIR_E2E_PASSWORD ?? '';

// Collects console errors and uncaught exceptions (a CSP violation shows up here too).
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

// With JavaScript, waits until the dashboard has hydrated; without, checks it did not.
// `timeout` (ms) for pages that take long to hydrate on a debug build.
export async function ready(page: Page, javaScriptEnabled: boolean, timeout?: number) {
  const marker = page.locator('.app');
  await expect(marker).toHaveAttribute('data-hydrated', javaScriptEnabled ? 'true' : 'false', { timeout });
}

// Signs in through the sign-in form, starting from `path` (which redirects there);
// `timeout` (ms) for the hydration of that page.
export async function signIn(page: Page, javaScriptEnabled: boolean, path = '/', timeout?: number) {
  await page.goto(path);
  await ready(page, javaScriptEnabled);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await page.getByLabel('User name').fill(ADMIN);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible({ timeout });
  await ready(page, javaScriptEnabled, timeout);
}
