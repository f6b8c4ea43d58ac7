import { test, expect } from '@playwright/test';
import { ADMIN, PASSWORD, ready, signIn, watchErrors } from './helpers';

test('a signed-out visitor is asked to sign in and returns to the page asked for', async ({ page, javaScriptEnabled }) => {
  const errors = watchErrors(page);
  await page.goto('/runs');
  await ready(page, javaScriptEnabled);
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fruns$/);
  await expect(page.getByRole('navigation', { name: 'Main' })).toHaveCount(0);

  await page.getByLabel('User name').fill(ADMIN);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/runs$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Runs' })).toBeVisible();
  await expect(page.getByRole('banner').getByText(ADMIN, { exact: true })).toBeVisible();
  expect(errors).toEqual([]);
});

test('a wrong password is refused with a message and the name kept', async ({ page, javaScriptEnabled }) => {
  await page.goto('/sign-in');
  await ready(page, javaScriptEnabled);
  await page.getByLabel('User name').fill('no-such-user');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Wrong user name or password.');
  await expect(page.getByLabel('User name')).toHaveValue('no-such-user');
  await ready(page, javaScriptEnabled);
});

test('signing out ends the session', async ({ page, javaScriptEnabled }) => {
  await signIn(page, javaScriptEnabled);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.goto('/settings');
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fsettings$/);
});

test('a made-up setup link says it is not valid', async ({ page, javaScriptEnabled }) => {
  await page.goto('/setup?token=made-up');
  await ready(page, javaScriptEnabled);
  await expect(page.getByRole('alert')).toContainText('This setup link is not valid');
  await page.getByRole('link', { name: 'Go to sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});
