import { test, expect } from '@playwright/test';
import { ready, signIn } from './helpers';

test('an admin invites a teammate, who accepts in another browser and sees the team', async ({ page, browser, javaScriptEnabled }) => {
  test.slow();
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

test('a team admin changes roles, removes members and revokes links on the team page', async ({ page, javaScriptEnabled: js }) => {
  test.slow();
  const team = `crew-${js ? 'js' : 'nojs'}-${Date.now()}`;
  const member = `crewmate-${js ? 'js' : 'nojs'}-${Date.now()}`;
  await signIn(page, js, '/settings/users');
  await page.getByLabel('User name').fill(member);
  await page.getByLabel('Password', { exact: true }).fill('crewmate long password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('status')).toContainText('created');

  await page.goto('/settings/teams');
  await page.getByLabel('Team name').fill(team);
  await page.getByRole('button', { name: 'Create team' }).click();
  const row = page.getByRole('table', { name: 'Your teams' }).getByRole('row').filter({ hasText: team });
  await row.getByRole('button', { name: 'Create invitation link' }).click();
  await expect(page.getByRole('textbox', { name: 'Invitation link' })).toBeVisible();
  await page.getByRole('table', { name: 'Your teams' }).getByRole('row').filter({ hasText: team }).getByRole('link').click();
  await ready(page, js);
  await expect(page.getByRole('heading', { level: 1, name: team })).toBeVisible();

  // Revoke the pending link, then issue a new one.
  const invitations = page.getByRole('table', { name: 'Invitations' });
  await invitations.getByRole('button', { name: 'Revoke' }).first().click();
  await expect(page.getByRole('status')).toContainText('Invitation revoked');
  await expect(invitations.getByRole('row').nth(1)).toContainText('Revoked');

  // Add a member, make them an editor, then remove them.
  const members = page.getByRole('table', { name: 'Members' });
  await page.getByLabel('Add a member').fill(member);
  await page.getByLabel('Role of the new member').selectOption('viewer');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(page.getByRole('status')).toContainText(`Added ${member} as viewer`);
  await members.getByLabel(`Role of ${member}`, { exact: true }).selectOption('editor');
  await members.getByRole('button', { name: `Change role of ${member}` }).click();
  await expect(page.getByRole('status')).toContainText('Role changed to editor');
  await expect(members.getByLabel(`Role of ${member}`, { exact: true })).toHaveValue('editor');
  await members.getByRole('button', { name: `Remove ${member}` }).click();
  await expect(page.getByRole('status')).toContainText('Member removed');
  await expect(members.getByRole('row').filter({ hasText: member })).toHaveCount(0);

  // The last admin cannot step down.
  await members.getByLabel('Role of admin', { exact: true }).selectOption('viewer');
  await members.getByRole('button', { name: 'Change role of admin' }).click();
  await expect(page.getByRole('alert')).toContainText('at least one admin');
});
