import { test, expect } from '@playwright/test';
import { ready, signIn } from './helpers';

test('an admin invites a teammate, who accepts in another browser and sees the team', async ({ page, browser, javaScriptEnabled }) => {
  const team = `research-${javaScriptEnabled ? 'js' : 'nojs'}-${Date.now()}`;
  const teammate = `mate-${javaScriptEnabled ? 'js' : 'nojs'}-${Date.now()}`;

  // The admin creates a team and an invitation link for an editor.
  await signIn(page, javaScriptEnabled, '/settings/teams');
  await expect(page).toHaveURL(/\/settings\/teams$/);
  await page.getByLabel('Team name').fill(team);
  await page.getByLabel('Display name').fill('Research');
  await page.getByRole('button', { name: 'Create team' }).click();
  await expect(page.getByRole('status')).toContainText(`Created team ${team}`);
  const row = page.getByRole('table', { name: 'Your teams' }).getByRole('row').filter({ hasText: team });
  await expect(row.getByRole('cell').nth(1)).toHaveText('Admin');
  await row.getByLabel(`Role for ${team}`).selectOption('editor');
  await row.getByRole('button', { name: 'Create invitation link' }).click();
  const link = await page.getByLabel('Invitation link').inputValue();
  expect(link).toMatch(/\/invite\/[A-Za-z0-9_-]{40,}$/);

  // The teammate, in a browser of their own, opens the link and creates an account.
  const other = await browser.newContext({ javaScriptEnabled });
  const mate = await other.newPage();
  await mate.goto(link);
  await ready(mate, javaScriptEnabled);
  await expect(mate.getByRole('heading', { name: `Join ${team} as editor` })).toBeVisible();
  await mate.getByLabel('User name').fill(teammate);
  await mate.getByLabel('Password', { exact: true }).fill('a long teammate password');
  await mate.getByLabel('Password again').fill('a long teammate password');
  await mate.getByRole('button', { name: 'Create account and join' }).click();
  await expect(mate).toHaveURL(/\/settings\/teams$/);
  await expect(mate.getByRole('status')).toContainText(`You joined ${team}`);
  const mine = mate.getByRole('table', { name: 'Your teams' }).getByRole('row').filter({ hasText: team });
  await expect(mine.getByRole('cell').nth(1)).toHaveText('Editor');
  await expect(mate.getByRole('button', { name: 'Sign out' })).toBeVisible();

  // The link worked once.
  await mate.goto(link);
  await expect(mate.getByRole('alert')).toContainText('already been used');
  await other.close();
});
