import { test, expect } from '@playwright/test';
import { ready, signIn, watchErrors } from './helpers';

test('the overview shows the server and the navigation', async ({ page, javaScriptEnabled }) => {
  const errors = watchErrors(page);
  await signIn(page, javaScriptEnabled);

  await expect(page).toHaveTitle('Overview · Weir');
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  const server = page.getByRole('region', { name: 'This server' });
  await expect(server.getByText('Ready')).toBeVisible();
  await expect(server.getByText('Schema version')).toBeVisible();

  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const name of ['Overview', 'Pipelines', 'Runs', 'Artifacts', 'Models', 'Stacks', 'Components', 'Secrets', 'Settings']) {
    await expect(nav.getByRole('link', { name, exact: true })).toBeVisible();
  }
  await expect(nav.getByRole('link', { name: 'Overview' })).toHaveAttribute('aria-current', 'page');
  expect(errors).toEqual([]);
});

test('the models page says how to make a model when there is none to show', async ({ page, javaScriptEnabled }) => {
  const errors = watchErrors(page);
  await signIn(page, javaScriptEnabled);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models' }).click();
  await expect(page).toHaveURL(/\/models$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Models' })).toBeVisible();
  // Other tests add models as they go: either the list or the empty state is there.
  await expect(page.getByRole('table', { name: 'Models' }).or(page.getByRole('region', { name: 'No models' }))).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models' }))
    .toHaveAttribute('aria-current', 'page');
  await expect(page).toHaveTitle('Models · Weir');
  expect(errors).toEqual([]);
});

test('settings sections are tabs', async ({ page, javaScriptEnabled }) => {
  await signIn(page, javaScriptEnabled, '/settings');
  await expect(page).toHaveURL(/\/settings$/);
  const tabs = page.getByRole('navigation', { name: 'Settings sections' });
  await tabs.getByRole('link', { name: 'Audit log' }).click();
  await expect(page).toHaveURL(/\/settings\/audit$/);
  await expect(tabs.getByRole('link', { name: 'Audit log' })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByRole('heading', { level: 2, name: 'Audit log' })).toBeVisible();
  await tabs.getByRole('link', { name: 'Teams' }).click();
  await expect(page).toHaveURL(/\/settings\/teams$/);
  await expect(page.getByRole('heading', { level: 2, name: 'Create a team' })).toBeVisible();
});

test('an unknown address shows the 404 page', async ({ page, javaScriptEnabled }) => {
  await signIn(page, javaScriptEnabled);
  const response = await page.goto('/no-such-page');
  expect(response?.status()).toBe(404);
  await ready(page, javaScriptEnabled);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await page.getByRole('link', { name: 'Go to the overview' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
});
