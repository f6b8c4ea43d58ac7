import { expect, type Page } from '@playwright/test';

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
export async function ready(page: Page, javaScriptEnabled: boolean) {
  const marker = page.locator('.app');
  await expect(marker).toHaveAttribute('data-hydrated', javaScriptEnabled ? 'true' : 'false');
}
