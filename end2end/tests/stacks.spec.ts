import { test, expect, type Browser, type Page } from '@playwright/test';
import { ready, signIn, watchErrors } from './helpers';

function suffix(js: boolean): string {
  return `${js ? 'js' : 'nojs'}-${Math.random().toString(36).slice(2, 8)}`;
}

// A fresh account per run: the active stack is per user, and both projects (JavaScript
// on and off) run at once.
async function newUser(page: Page, browser: Browser, js: boolean, name: string): Promise<Page> {
  const password = `${name} password`;
  await signIn(page, js, '/settings/users');
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('status')).toContainText(`Account ${name} created.`);

  const context = await browser.newContext({ javaScriptEnabled: js });
  const me = await context.newPage();
  await me.goto('/sign-in');
  await ready(me, js);
  await me.getByLabel('User name').fill(name);
  await me.getByLabel('Password').fill(password);
  await me.getByRole('button', { name: 'Sign in' }).click();
  await expect(me.getByRole('button', { name: 'Sign out' })).toBeVisible();
  return me;
}

test('a secret, an S3 artifact store from its flavor form, a stack made active and shared with a team', async ({ page, browser, javaScriptEnabled: js }) => {
  // A long journey (about 20 page loads in two browsers): allow three times the default.
  test.slow();
  const id = suffix(js);
  const secret = `aws-e2e-${id}`;
  const store = `s3-e2e-${id}`;
  const stack = `stack-e2e-${id}`;
  const me = await newUser(page, browser, js, `stacker-${id}`);
  const errors = watchErrors(me);

  // The vault: one secret with two keys, through the plain form.
  await me.goto('/secrets/new');
  await ready(me, js);
  await me.getByLabel('Name').fill(secret);
  await me.getByLabel('Key 1', { exact: true }).fill('access_key_id');
  await me.getByLabel('Value 1', { exact: true }).fill('AKIAE2EEXAMPLE');
  await me.getByLabel('Key 2', { exact: true }).fill('secret_access_key');
  await me.getByLabel('Value 2', { exact: true }).fill('e2e-secret-value');
  await me.getByRole('button', { name: 'Create secret' }).click();
  await expect(me.getByRole('status')).toContainText(`Secret ${secret} created with 2 keys.`);
  await expect(me.getByRole('heading', { level: 1, name: secret })).toBeVisible();
  await expect(me.getByText('e2e-secret-value')).toHaveCount(0);

  // Revealing asks first, then shows the values once.
  await me.getByRole('link', { name: 'Reveal values' }).click();
  await me.getByRole('button', { name: 'Yes, reveal the values' }).click();
  await expect(me.getByRole('textbox', { name: 'Value of secret_access_key' })).toHaveValue('e2e-secret-value');

  // Register an S3 artifact store: type, flavor, then the form drawn from its schema.
  await me.goto('/components/new');
  await ready(me, js);
  await me.getByRole('link', { name: /^Artifact store/ }).click();
  await me.getByRole('link', { name: /^s3 / }).click();
  await expect(me.getByRole('heading', { name: 'Artifact store · s3' })).toBeVisible();
  await ready(me, js);
  await me.getByLabel('Name').fill(store);
  await me.getByLabel('Access key id').selectOption(`{{${secret}.access_key_id}}`);
  await me.getByLabel('Secret access key').selectOption(`{{${secret}.secret_access_key}}`);
  // The bucket is left empty: the server's refusal appears on that field, and what was
  // chosen is kept.
  await me.getByRole('button', { name: 'Register component' }).click();
  await expect(me.getByLabel('Bucket')).toHaveAccessibleDescription(/required/);
  await expect(me.getByLabel('Access key id')).toHaveValue(`{{${secret}.access_key_id}}`);
  await expect(me.getByLabel('Name')).toHaveValue(store);
  await ready(me, js);
  await me.getByLabel('Bucket').fill('weir-e2e-bucket');
  await me.getByRole('button', { name: 'Register component' }).click();
  await expect(me.getByRole('status')).toContainText(`Registered artifact store ${store}.`);
  await expect(me.getByRole('heading', { level: 1, name: store })).toBeVisible();
  await expect(me.getByText(`{{${secret}.secret_access_key}}`)).toBeVisible();

  await me.goto('/components?type=artifact_store');
  await expect(me.getByRole('table', { name: 'Artifact store' }).getByRole('row').filter({ hasText: store })).toContainText('s3');

  // Compose a stack from the default orchestrator and the new store, then activate it.
  await me.goto('/stacks/new');
  await ready(me, js);
  await me.getByLabel('Name').fill(stack);
  await me.getByLabel('Orchestrator').selectOption('default-orchestrator');
  await me.getByLabel('Artifact store').selectOption(store);
  await me.getByRole('button', { name: 'Create stack' }).click();
  await expect(me.getByRole('status')).toContainText(`Created stack ${stack}.`);
  await expect(me.getByRole('table', { name: 'Stack components' })).toContainText(store);
  await ready(me, js);
  await me.getByRole('button', { name: `Activate ${stack}` }).click();
  await expect(me).toHaveURL(/\/stacks$/);
  await expect(me.getByRole('status')).toContainText(`${stack} is now your active stack`);
  const rows = me.getByRole('table', { name: 'Stacks' }).getByRole('row');
  const mine = rows.filter({ hasText: stack });
  await expect(mine).toContainText('Active');
  await expect(mine).toContainText(`Artifact store: ${store}`);
  await expect(mine.getByRole('button', { name: `Activate ${stack}` })).toHaveCount(0);
  await expect(rows.filter({ hasText: 'default-orchestrator' }).filter({ hasText: 'Default' }).getByRole('button', { name: 'Activate default' })).toBeVisible();

  // Sharing the stack with a team names what must be shared with it, and asks once.
  const team = `team-e2e-${id}`;
  await me.goto('/settings/teams');
  await me.getByLabel('Team name').fill(team);
  await me.getByRole('button', { name: 'Create team' }).click();
  await expect(me.getByRole('status')).toContainText(`Created team ${team}.`);
  await me.goto(`/stacks/${stack}`);
  await ready(me, js);
  await me.getByLabel('Share with').selectOption(team);
  await me.getByRole('button', { name: 'Save sharing' }).click();
  const needs = me.getByRole('list', { name: 'Also to share' });
  await expect(needs).toContainText(`Component ${store}`);
  await expect(needs).toContainText(`Secret ${secret}`);
  await ready(me, js);
  await me.getByRole('button', { name: 'Share these too' }).click();
  await expect(me.getByRole('status')).toContainText(`Stack ${stack} is shared with ${team}.`);
  await expect(me.getByRole('region', { name: 'About' })).toContainText(`Team ${team}`);
  await me.goto(`/components/${store}`);
  await expect(me.getByRole('region', { name: 'About' })).toContainText(`Team ${team}`);

  // The stack's components change on its page.
  await me.goto(`/stacks/${stack}`);
  await ready(me, js);
  const composer = me.getByRole('region', { name: 'Change components' });
  await expect(composer.getByLabel('Artifact store')).toHaveValue(store);
  await composer.getByLabel('Artifact store').selectOption('default-artifact-store');
  await composer.getByRole('button', { name: 'Save components' }).click();
  await expect(me.getByRole('status')).toContainText(`Saved the components of ${stack}.`);
  await expect(me.getByRole('table', { name: 'Stack components' })).toContainText('default-artifact-store');
  expect(errors).toEqual([]);
  await me.context().close();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a secret is created through the plain form', async ({ page }) => {
    const name = `nojs-secret-${suffix(false)}`;
    await signIn(page, false, '/secrets/new');
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Key 1', { exact: true }).fill('token');
    await page.getByLabel('Value 1', { exact: true }).fill('no-js-token-value');
    await page.getByLabel('Value 2', { exact: true }).fill('a value without a key');
    await page.getByRole('button', { name: 'Create secret' }).click();
    await expect(page.getByText('row 2 has a value but no key')).toBeVisible();
    await expect(page.getByLabel('Name')).toHaveValue(name);
    await expect(page.getByLabel('Key 1', { exact: true })).toHaveValue('token');
    await expect(page.getByLabel('Value 1', { exact: true })).toHaveValue('');

    await page.getByLabel('Value 1', { exact: true }).fill('no-js-token-value');
    await page.getByRole('button', { name: 'Create secret' }).click();
    await expect(page.getByRole('status')).toContainText(`Secret ${name} created with 1 key.`);
    await ready(page, false);
    await page.goto('/secrets');
    const row = page.getByRole('table', { name: 'Secrets' }).getByRole('row').filter({ hasText: name });
    await expect(row).toContainText('token');
    await expect(row).toContainText('Private');
    await expect(page.getByText('no-js-token-value')).toHaveCount(0);
  });
});
