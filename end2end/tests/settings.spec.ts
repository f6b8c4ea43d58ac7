import { test, expect, type Page } from '@playwright/test';
import { ready, signIn } from './helpers';

async function signInAs(page: Page, js: boolean, name: string, password: string) {
  await page.goto('/sign-in');
  await ready(page, js);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

test('account settings: profile, API keys, password; admins manage users and read the audit log', async ({ page, browser, javaScriptEnabled: js }) => {
  // A long journey (two browsers, about 25 page loads): allow three times the default.
  test.slow();
  const name = `setty-${js ? 'js' : 'nojs'}-${Date.now()}`;

  // An administrator creates the account.
  await signIn(page, js, '/settings/users');
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password', { exact: true }).fill('setty first password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('status')).toContainText(`Account ${name} created.`);
  await expect(page.getByRole('table', { name: 'Users' }).getByRole('row').filter({ hasText: name })).toContainText('Active');

  // The user edits their profile and manages an API key.
  const context = await browser.newContext({ javaScriptEnabled: js });
  const me = await context.newPage();
  await signInAs(me, js, name, 'setty first password');
  await me.goto('/settings/profile');
  await me.getByLabel('Display name').fill('Setty Person');
  await me.getByRole('button', { name: 'Save profile' }).click();
  await expect(me.getByRole('status')).toContainText('Profile saved.');
  await expect(me.getByRole('banner').getByText('Setty Person')).toBeVisible();

  await me.goto('/settings/api-keys');
  await expect(me.getByRole('heading', { name: 'No API keys yet' })).toBeVisible();
  await me.getByLabel('Key name').fill('laptop');
  await me.getByLabel('Expires in days').fill('30');
  await me.getByRole('button', { name: 'Create API key' }).click();
  await expect(me.getByRole('textbox', { name: 'API key', exact: true })).toHaveValue(/^weir_[a-z0-9]{8}_/);
  const row = me.getByRole('table', { name: 'Your API keys' }).getByRole('row').filter({ hasText: 'laptop' });
  await expect(row).toContainText('Active');
  await row.getByRole('button', { name: 'Revoke laptop' }).click();
  await expect(me.getByRole('status')).toContainText('API key laptop revoked');
  await expect(row).toContainText('Revoked');

  // A wrong current password is refused on its field; the right one changes it.
  await me.goto('/settings/profile');
  await me.getByLabel('Current password').fill('not my password');
  await me.getByLabel('New password', { exact: true }).fill('setty second password');
  await me.getByLabel('New password again').fill('setty second password');
  await me.getByRole('button', { name: 'Change password' }).click();
  await expect(me.getByText('is not your current password')).toBeVisible();
  await me.getByLabel('Current password').fill('setty first password');
  await me.getByLabel('New password', { exact: true }).fill('setty second password');
  await me.getByLabel('New password again').fill('setty second password');
  await me.getByRole('button', { name: 'Change password' }).click();
  await expect(me.getByRole('status')).toContainText('Password changed');
  await expect(me.getByRole('button', { name: 'Sign out' })).toBeVisible();

  // Not an administrator: no user management, no audit log.
  await me.goto('/settings/users');
  await expect(me.getByText('Only server administrators manage accounts.')).toBeVisible();
  await me.goto('/settings/audit');
  await expect(me.getByText('Only server administrators read the audit log.')).toBeVisible();

  // The administrator sees the revocation in the audit log, then deactivates the account.
  await page.goto('/settings/audit');
  await page.getByLabel('Action').selectOption('api_key_revoked');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=api_key_revoked/);
  await expect(page.getByRole('table', { name: 'Audit log' }).getByRole('row').filter({ hasText: name }).first()).toBeVisible();
  await page.goto('/settings/users');
  await page.getByRole('button', { name: `Deactivate ${name}` }).click();
  await expect(page.getByRole('status')).toContainText(`${name} is deactivated`);

  await me.goto('/settings/profile');
  await expect(me).toHaveURL(/\/sign-in/);
  await context.close();
});
