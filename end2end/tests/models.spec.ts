import { test, expect, request, type APIRequestContext, type APIResponse } from '@playwright/test';
import { ADMIN, PASSWORD, ready, signIn, watchErrors } from './helpers';

const BASE = process.env.WEIR_E2E_URL ?? 'http://127.0.0.1:8080';

function suffix(js: boolean): string {
  return `${js ? 'js' : 'nojs'}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

async function ok<T>(response: Promise<APIResponse>): Promise<T> {
  const r = await response;
  expect(r.ok(), `${r.url()} answered ${r.status()}: ${await r.text()}`).toBeTruthy();
  const text = await r.text();
  return (text ? JSON.parse(text) : null) as T;
}

async function session(): Promise<APIRequestContext> {
  const api = await request.newContext({
    baseURL: BASE,
    extraHTTPHeaders: { Origin: new URL(BASE).origin },
  });
  await ok(api.post('/api/v1/sessions', { data: { name: ADMIN, password: PASSWORD } }));
  return api;
}

type Created = { run: { id: string; name: string }; token: string };

// A pipeline that declares a model, run twice: each run makes a version of the model,
// links its trained model and logs an accuracy on it. Version 1 goes to production.
async function seed(id: string) {
  const model = `e2e-model-${id}`;
  const pipeline = `e2e-train-${id}`;
  const api = await session();
  const driver = await request.newContext({ baseURL: BASE });
  await ok(
    api.post('/api/v1/pipelines', {
      data: {
        spec: {
          name: pipeline,
          model: { name: model },
          steps: [{ name: 'train', command: ['true'], outputs: { model: { kind: 'model' } } }],
        },
        entrypoint: { working_dir: '/tmp' },
      },
    }),
  );
  for (const [i, accuracy] of [0.91, 0.96].entries()) {
    const created = await ok<Created>(api.post('/api/v1/runs', { data: { pipeline, name: `${pipeline}-${i + 1}` } }));
    const auth = { Authorization: `Bearer ${created.token}` };
    const base = `/api/v1/runs/${created.run.id}/steps/train`;
    await ok(driver.post(`${base}/start`, { headers: auth, data: { attempt: 1, max_attempts: 1, code_hash: 'sha256:x' } }));
    await ok(
      driver.post(`${base}/finish`, {
        headers: auth,
        data: {
          attempt: 1,
          status: 'completed',
          outputs: {
            model: { uri: `file:///tmp/${id}-${i}`, content_hash: `sha256:${id}-${i}`, size: 2048, data_type: 'file', materializer: 'file' },
          },
          model_metadata: { accuracy },
        },
      }),
    );
  }
  await ok(api.post(`/api/v1/models/${model}/versions/1/stage`, { data: { stage: 'production', reason: 'first good one' } }));
  await api.dispose();
  await driver.dispose();
  return { model, pipeline };
}

test('models: a promotion behind a confirmation archives the production version', async ({ page, javaScriptEnabled: js }) => {
  const { model, pipeline } = await seed(suffix(js));
  const errors = watchErrors(page);

  // The list shows each model with its newest and its production version.
  await signIn(page, js, '/models');
  await expect(page.getByRole('heading', { level: 1, name: 'Models' })).toBeVisible();
  const row = page.getByRole('table', { name: 'Models' }).getByRole('row').filter({ hasText: model });
  await expect(row.getByRole('link', { name: `Production version of ${model}` })).toContainText('#1');
  await expect(row).toContainText('#2');
  await row.getByRole('link', { name: model, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/models/${model}$`));
  await ready(page, js);

  // The model's versions with stage, metric, author and run.
  const versions = page.getByRole('table', { name: 'Versions' });
  await expect(versions.getByRole('columnheader', { name: 'accuracy' })).toBeVisible();
  const v1 = versions.getByRole('row').filter({ has: page.getByRole('link', { name: '#1', exact: true }) });
  await expect(v1.getByText('Production', { exact: true })).toHaveClass(/badge-ok/);
  await expect(v1).toContainText('0.91');
  await expect(v1.getByRole('link', { name: `${pipeline}-1` })).toBeVisible();

  // Two versions side by side, with a chart of the accuracy.
  await page.getByRole('checkbox', { name: 'Compare version 1' }).check();
  await page.getByRole('checkbox', { name: 'Compare version 2' }).check();
  await page.getByRole('button', { name: 'Compare selected' }).click();
  await expect(page).toHaveURL(new RegExp(`/models/${model}/compare\\?version=2&version=1$`));
  await ready(page, js);
  await expect(page.getByRole('heading', { level: 1, name: 'Compare versions' })).toBeVisible();
  await expect(page.getByRole('img', { name: 'accuracy across the compared versions' })).toBeVisible();
  const accuracyRow = page.getByRole('table', { name: 'Metadata side by side' }).getByRole('row').filter({ hasText: 'accuracy' });
  await expect(accuracyRow).toHaveClass(/differs/);
  await expect(accuracyRow).toContainText('0.96');

  // Version 2: promote it, behind a confirmation that says what happens to version 1.
  await page.goto(`/models/${model}/versions/2`);
  await ready(page, js);
  await expect(page.getByRole('heading', { level: 1, name: `${model} #2` })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Artifacts' })).toContainText(`${pipeline}.train.model v2`);
  await expect(page.getByRole('table', { name: 'Artifacts' }).getByText('model', { exact: true })).toHaveClass(/badge-ok/);
  await page.getByRole('link', { name: 'Promote to production' }).click();
  await ready(page, js);
  await expect(page.getByRole('heading', { name: `Promote #2 of ${model} to production?` })).toBeVisible();
  await expect(page.getByRole('note')).toHaveText('#1 is in production now; it will be archived.');
  await page.getByLabel('Reason (kept in the stage history)').fill('better accuracy');
  await page.getByRole('button', { name: 'Yes, promote to production' }).click();
  await expect(page).toHaveURL(new RegExp(`/models/${model}/versions/2$`));
  await ready(page, js);
  await expect(page.getByRole('status')).toHaveText('Version #2 is now in production. Version #1 was in production and is archived.');
  const history = page.getByRole('table', { name: 'Stage history' });
  await expect(history).toContainText('better accuracy');
  await expect(history).toContainText(ADMIN);

  // Version 1 is archived, and its history says by whom and why.
  await page.getByRole('link', { name: `All versions of ${model}` }).click();
  await ready(page, js);
  const archived = page.getByRole('table', { name: 'Versions' }).getByRole('row').filter({ has: page.getByRole('link', { name: '#1', exact: true }) });
  await expect(archived.getByText('Archived', { exact: true })).toBeVisible();
  await archived.getByRole('link', { name: '#1', exact: true }).click();
  await ready(page, js);
  const first = page.getByRole('table', { name: 'Stage history' });
  await expect(first.getByRole('row').nth(1)).toContainText('replaced by #2');
  await expect(first.getByRole('row').nth(2)).toContainText('first good one');

  // The run that made version 2 names it on its page.
  await page.goto(`/runs/${pipeline}-2`);
  await ready(page, js);
  await page.getByRole('link', { name: `${model} #2` }).click();
  await expect(page).toHaveURL(new RegExp(`/models/${model}/versions/2$`));
  expect(errors).toEqual([]);
});

test('models: comparing a single version explains what to do', async ({ page, javaScriptEnabled: js }) => {
  const { model } = await seed(suffix(js));
  await signIn(page, js, `/models/${model}/compare?version=1`);
  await expect(page.getByRole('heading', { name: 'Choose versions to compare' })).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('choose two different versions or more');
});
