import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, expect, request, type APIRequestContext, type APIResponse } from '@playwright/test';
import { ADMIN, PASSWORD, ready, signIn, watchErrors } from './helpers';

const BASE = process.env.WEIR_E2E_URL ?? 'http://127.0.0.1:8080';

function suffix(js: boolean): string {
  return `${js ? 'js' : 'nojs'}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

async function ok<T>(response: Promise<APIResponse>): Promise<T> {
  const r = await response;
  expect(r.ok(), `${r.url()} answered ${r.status()}: ${await r.text()}`).toBeTruthy();
  return (await r.json()) as T;
}

// A REST API session; changes carry this server's Origin, as the dashboard's own
// requests do.
async function session(name: string, password: string): Promise<APIRequestContext> {
  const api = await request.newContext({
    baseURL: BASE,
    extraHTTPHeaders: { Origin: new URL(BASE).origin },
  });
  await ok(api.post('/api/v1/sessions', { data: { name, password } }));
  return api;
}

type Created = { run: { id: string; name: string }; token: string };

// Plays the driver and the step runtime of one run with its run token.
class Driver {
  constructor(
    private api: APIRequestContext,
    private run: Created,
  ) {}

  private post(path: string, data: unknown) {
    return ok(
      this.api.post(`/api/v1/runs/${this.run.run.id}${path}`, {
        data,
        headers: { Authorization: `Bearer ${this.run.token}` },
      }),
    );
  }

  start(step: string) {
    return this.post(`/steps/${step}/start`, { attempt: 1, max_attempts: 1, code_hash: 'sha256:x' });
  }

  finish(step: string, body: Record<string, unknown>) {
    return this.post(`/steps/${step}/finish`, { attempt: 1, ...body });
  }

  end(body: Record<string, unknown>) {
    return this.post('/finish', body);
  }
}

// A two-step pipeline, one run that completes and one that fails at its first step,
// all by a fresh user (so other tests never meet these runs under the admin's name).
async function seed(id: string) {
  const pipeline = `e2e-pipe-${id}`;
  const good = `e2e-ok-${id}`;
  const bad = `e2e-bad-${id}`;
  const author = `runner-${id}`;
  const admin = await session(ADMIN, PASSWORD);
  await ok(admin.post('/api/v1/users', { data: { name: author, password: `${author} password` } }));
  // The first run's output and its views are real files in the default artifact store
  // (this machine's data directory), so the version page can read them.
  const store = await ok<{ config: { path: string } }>(admin.get('/api/v1/components/default-artifact-store'));
  const dir = path.join(store.config.path, `e2e-${id}`);
  fs.mkdirSync(path.join(dir, 'o.views'), { recursive: true });
  const file = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return { uri: `file://${path.join(dir, name)}`, size: Buffer.byteLength(text) };
  };
  const artifact = file('o', 'abc');
  const views = [
    { kind: 'json', ...file('o.views/0.json', JSON.stringify({ accuracy: 0.93, classes: ['setosa', 'versicolor'], matrix: [[5, 0], [1, 4]] }, null, 2)) },
    { kind: 'csv', ...file('o.views/1.csv', 'class,precision\nsetosa,1.0\nversicolor,0.8\n') },
  ];
  await admin.dispose();
  const api = await session(author, `${author} password`);
  // Run tokens go without the user's cookie.
  const driverApi = await request.newContext({ baseURL: BASE });
  await ok(
    api.post('/api/v1/pipelines', {
      data: {
        spec: {
          name: pipeline,
          steps: [
            { name: 'a', command: ['true'], outputs: { o: {} } },
            { name: 'b', command: ['true'], inputs: { i: { from: 'a.o' } } },
          ],
        },
        entrypoint: { working_dir: '/tmp' },
      },
    }),
  );
  const at = new Date().toISOString();

  const first = new Driver(driverApi, await ok<Created>(api.post('/api/v1/runs', { data: { pipeline, name: good, tags: ['e2e'] } })));
  await first.start('a');
  await first.finish('a', {
    status: 'completed',
    outputs: {
      o: { ...artifact, content_hash: `sha256:o-${id}`, data_type: 'file', materializer: 'file', visualizations: views },
    },
    metadata: { accuracy: 0.93 },
    logs: [{ stream: 'stdout', at, line: '<b>not bold</b>' }],
  });
  await first.start('b');
  await first.finish('b', { status: 'completed' });

  const second = new Driver(driverApi, await ok<Created>(api.post('/api/v1/runs', { data: { pipeline, name: bad } })));
  await second.start('a');
  await second.finish('a', {
    status: 'failed',
    reason: 'exit code 3',
    exit_code: 3,
    logs: [{ stream: 'stderr', at, line: 'Traceback: it broke' }],
  });
  await second.end({
    status: 'failed',
    reason: 'step a failed',
    skipped: [{ step: 'b', reason: 'upstream step a failed' }],
  });

  await api.dispose();
  await driverApi.dispose();
  return { pipeline, good, bad, author };
}

test('runs: the list with status badges, its filters in the address, and a run with its steps and log', async ({ page, javaScriptEnabled: js }) => {
  const { pipeline, good, bad, author } = await seed(suffix(js));
  const errors = watchErrors(page);

  // The admin sees everyone's pipelines; a pipeline's page lists its runs and versions.
  await signIn(page, js, '/pipelines');
  const pipelineRow = page.getByRole('table', { name: 'Pipelines' }).getByRole('row').filter({ hasText: pipeline });
  await expect(pipelineRow).toContainText('2 runs');
  await expect(pipelineRow.getByText('Failed', { exact: true })).toHaveClass(/badge-failed/);
  await pipelineRow.getByRole('link', { name: pipeline, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/pipelines/${pipeline}$`));
  await ready(page, js);
  await expect(page.getByRole('table', { name: 'Recent runs' })).toContainText(good);
  await expect(page.getByRole('table', { name: 'Steps of version 1' })).toContainText('i ← a.o');

  await page.goto(`/runs?pipeline=${pipeline}`);
  await ready(page, js);
  const runs = page.getByRole('table', { name: 'Runs' });
  const goodRow = runs.getByRole('row').filter({ hasText: good });
  const badRow = runs.getByRole('row').filter({ hasText: bad });
  await expect(goodRow.getByText('Completed', { exact: true })).toHaveClass(/badge-ok/);
  await expect(goodRow).toContainText('2/2');
  await expect(badRow.getByText('Failed', { exact: true })).toHaveClass(/badge-failed/);
  await expect(badRow).toContainText(author);
  for (const text of ['0/2', '1 failed', '1 skipped']) await expect(badRow).toContainText(text);
  await expect(runs.getByRole('row')).toHaveCount(3);

  // The filters are a plain form: the address carries them, so a view can be shared.
  await expect(page.getByLabel('Pipeline')).toHaveValue(pipeline);
  await page.getByLabel('Status').selectOption('failed');
  await page.getByLabel('Author').fill(author);
  await page.getByLabel('Name contains').fill('bad');
  await page.getByRole('button', { name: 'Apply' }).click();
  for (const part of ['status=failed', `pipeline=${pipeline}`, `author=${author}`, 'search=bad']) {
    await expect(page).toHaveURL(new RegExp(`[?&]${part}(&|$)`));
  }
  await ready(page, js);
  await expect(runs.getByRole('row')).toHaveCount(2);
  await expect(badRow).toBeVisible();
  await expect(goodRow).toHaveCount(0);
  // The same address, opened afresh, shows the same view.
  await page.goto(page.url());
  await ready(page, js);
  await expect(page.getByLabel('Author')).toHaveValue(author);
  await expect(runs.getByRole('row')).toHaveCount(2);
  await page.goto(`/runs?pipeline=${pipeline}&search=no-such-run`);
  await expect(page.getByRole('heading', { name: 'No runs match these filters' })).toBeVisible();

  // The failed run: the first failure apart from what was skipped because of it.
  await page.goto(`/runs?pipeline=${pipeline}&status=failed`);
  await ready(page, js);
  await runs.getByRole('link', { name: bad }).click();
  await expect(page.getByRole('heading', { level: 1, name: bad })).toBeVisible();
  await ready(page, js);
  const failure = page.getByRole('region', { name: 'What failed' });
  await expect(failure).toContainText('First failure: a — exit code 3');
  await expect(failure.getByRole('list', { name: 'Skipped steps' })).toHaveText('b');
  // The graph: steps coloured by status, the step panel with the step's log.
  await expect(page.locator('a.dag-link[data-step="a"] g')).toHaveClass(/tone-failed/);
  await expect(page.locator('a.dag-link[data-step="b"] g')).toHaveClass(/tone-skipped/);
  await page.locator('a.dag-link[data-step="a"]').click();
  await expect(page).toHaveURL(/[?&]step=a(&|$)/);
  const panel = page.getByRole('region', { name: 'Step a' });
  await expect(panel).toContainText('exit code 3');
  await expect(panel.getByRole('region', { name: 'Step log lines' })).toContainText('Traceback: it broke');
  // Its log, searched.
  await panel.getByLabel('Search').fill('nothing like this');
  await panel.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/[?&]q=nothing/);
  await expect(page.getByRole('region', { name: 'Step a' })).toContainText('No line matches.');
  // The steps table view.
  await page.getByRole('link', { name: 'Steps', exact: true }).click();
  const steps = page.getByRole('table', { name: 'Steps' });
  const stepB = steps.getByRole('row').filter({ has: page.getByRole('cell', { name: 'b', exact: true }) });
  await expect(stepB).toContainText('Skipped');
  await expect(stepB).toContainText('upstream step a failed');
  await expect(page.getByRole('region', { name: 'Logs' })).toContainText('Traceback: it broke');

  // The completed run: outputs by artifact and version, and the log as literal text.
  await page.goto(`/runs?pipeline=${pipeline}&status=completed`);
  await ready(page, js);
  await runs.getByRole('link', { name: good }).click();
  await expect(page.getByRole('heading', { level: 1, name: good })).toBeVisible();
  await ready(page, js);
  const about = page.getByRole('region', { name: 'About' });
  await expect(about).toContainText(pipeline);
  await expect(about).toContainText(author);
  await expect(about.getByRole('list', { name: 'Tags' })).toHaveText('e2e');
  await expect(page.locator('a.dag-link[data-step="a"] g')).toHaveClass(/tone-ok/);
  await page.goto(`${page.url()}?view=steps`);
  const goodA = steps.getByRole('row').filter({ has: page.getByRole('cell', { name: 'a', exact: true }) });
  await expect(goodA).toContainText('Completed');
  await expect(goodA.getByRole('list', { name: 'Outputs' })).toContainText(`${pipeline}.a.o v1`);
  const logs = page.getByRole('region', { name: 'Logs' });
  await expect(logs.getByText('<b>not bold</b>')).toBeVisible();
  await expect(logs.locator('b')).toHaveCount(0);
  await expect(logs).toContainText(`weir run logs ${good}`);
  await expect(page.getByRole('table', { name: 'Metadata' })).toContainText('accuracy');
  // The timeline.
  await page.getByRole('link', { name: 'Timeline', exact: true }).click();
  await expect(page.getByRole('region', { name: 'Timeline' })).toBeVisible();

  // Its output's version page: lineage and metadata, and a download link.
  await page.goto(`${page.url().split('?')[0]}?step=a`);
  await ready(page, js);
  await page.getByRole('region', { name: 'Step a' }).getByRole('link', { name: `${pipeline}.a.o v1` }).click();
  await expect(page.getByRole('heading', { level: 1, name: `${pipeline}.a.o v1` })).toBeVisible();
  await ready(page, js);
  const lineage = page.getByRole('region', { name: 'Lineage' });
  await expect(lineage).toContainText(`${good} · step a`);
  await expect(lineage.getByRole('list', { name: 'Consumers' })).toContainText(`${good} · step b`);
  await expect(page.getByRole('link', { name: 'Download' }).first()).toHaveAttribute('href', /\/api\/v1\/artifact-versions\/.+\/content$/);
  // Its views, read from the artifact store: JSON as a tree whose plain lists stay on
  // one line, CSV as a table.
  const json = page.getByRole('group', { name: 'JSON visualization' });
  await expect(json).toContainText('accuracy');
  await expect(json.locator('.json-inline').filter({ hasText: '[5, 0]' })).toBeVisible();
  await expect(json.locator('.json-inline').filter({ hasText: '["setosa", "versicolor"]' })).toBeVisible();
  const table = page.getByRole('table', { name: 'Table visualization' });
  await expect(table.getByRole('columnheader', { name: 'precision' })).toBeVisible();
  await expect(table.getByRole('row').filter({ hasText: 'versicolor' })).toContainText('0.8');

  // Its output is listed among the artifacts.
  await page.goto(`/artifacts?pipeline=${pipeline}`);
  await expect(page.getByRole('table', { name: 'Artifacts' })).toContainText(`${pipeline}.a.o`);
  // Its versions, each leading to its page.
  await page.getByRole('table', { name: 'Artifacts' }).getByRole('link', { name: `${pipeline}.a.o` }).click();
  await expect(page.getByRole('heading', { level: 1, name: `${pipeline}.a.o` })).toBeVisible();
  await ready(page, js);
  const versions = page.getByRole('table', { name: 'Versions' });
  await expect(versions).toContainText(`${good} · step a`);
  await versions.getByRole('link', { name: 'v1', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: `${pipeline}.a.o v1` })).toBeVisible();

  // A run that does not exist says so.
  await page.goto(`/runs/no-such-run-${pipeline}`);
  await expect(page.getByRole('heading', { name: 'No such run' })).toBeVisible();
  expect(errors).toEqual([]);
});

test('run page: a step finishing while the page is open changes colour without a reload', async ({ page, javaScriptEnabled: js }) => {
  test.skip(!js, 'live updates need JavaScript; without it the page shows the state it was rendered with');
  const id = suffix(js);
  const pipeline = `e2e-live-${id}`;
  const api = await session(ADMIN, PASSWORD);
  const driverApi = await request.newContext({ baseURL: BASE });
  await ok(api.post('/api/v1/pipelines', {
    data: {
      spec: { name: pipeline, steps: [{ name: 'slow', command: ['true'] }, { name: 'later', command: ['true'] }] },
      entrypoint: { working_dir: '/tmp' },
    },
  }));
  const created = await ok<Created>(api.post('/api/v1/runs', { data: { pipeline, name: `live-${id}` } }));
  const driver = new Driver(driverApi, created);
  await driver.start('slow');
  const errors = watchErrors(page);

  // Hold the page's event stream until the step has finished: a change that falls
  // between reading the run and listening to its stream must still reach the page.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let asked = false;
  await page.route('**/api/v1/runs/*/events', async (route) => {
    asked = true;
    await held;
    await route.continue();
  });

  await signIn(page, js, `/runs/${created.run.id}`);
  const slow = page.locator('a.dag-link[data-step="slow"] g');
  await expect(slow).toHaveClass(/tone-running/);
  // Mark the document: a reload would lose the mark.
  await page.evaluate(() => ((window as unknown as { __mark: number }).__mark = 42));
  await expect.poll(() => asked).toBe(true);

  await driver.finish('slow', { status: 'completed', logs: [{ stream: 'stdout', at: new Date().toISOString(), line: 'slow is done' }] });
  release();
  await expect(slow).toHaveClass(/tone-ok/);
  await expect(page.getByRole('region', { name: 'Logs' })).toContainText('slow is done');
  await driver.start('later');
  await driver.finish('later', { status: 'completed' });
  await expect(page.locator('.run-subtitle').getByText('Completed', { exact: true })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __mark?: number }).__mark)).toBe(42);
  // A finished run has no Stop button.
  await expect(page.getByRole('button', { name: /Stop run/ })).toHaveCount(0);
  await api.dispose();
  await driverApi.dispose();
  expect(errors).toEqual([]);
});

test('run page: the Stop button asks a running run to stop', async ({ page, javaScriptEnabled: js }) => {
  const id = suffix(js);
  const pipeline = `e2e-stop-${id}`;
  const api = await session(ADMIN, PASSWORD);
  await ok(api.post('/api/v1/pipelines', {
    data: { spec: { name: pipeline, steps: [{ name: 'x', command: ['true'] }] }, entrypoint: { working_dir: '/tmp' } },
  }));
  const created = await ok<Created>(api.post('/api/v1/runs', { data: { pipeline, name: `stop-${id}` } }));
  await signIn(page, js, `/runs/${created.run.id}`);
  await page.getByRole('button', { name: `Stop run stop-${id}` }).click();
  await expect(page.getByText(`Stopping run stop-${id}`)).toBeVisible();
  const run = await ok<{ status: string }>(api.get(`/api/v1/runs/${created.run.id}`));
  expect(['stopping', 'stopped']).toContain(run.status);
  await api.dispose();
});

test('user content never runs as script: log lines and metadata with <script> and onerror', async ({ page, javaScriptEnabled: js }) => {
  const id = suffix(js);
  const pipeline = `e2e-xss-${id}`;
  const api = await session(ADMIN, PASSWORD);
  const driverApi = await request.newContext({ baseURL: BASE });
  await ok(api.post('/api/v1/pipelines', {
    data: { spec: { name: pipeline, steps: [{ name: 'x', command: ['true'] }] }, entrypoint: { working_dir: '/tmp' } },
  }));
  const probe = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';
  const runName = `${probe} ${id}`;
  const created = await ok<Created>(api.post('/api/v1/runs', { data: { pipeline, name: runName } }));
  const driver = new Driver(driverApi, created);
  await driver.start('x');
  await driver.finish('x', {
    status: 'completed',
    metadata: { probe },
    logs: [{ stream: 'stdout', at: new Date().toISOString(), line: probe }],
  });
  const errors = watchErrors(page);
  await signIn(page, js, `/runs?pipeline=${pipeline}`);
  await expect(page.getByRole('table', { name: 'Runs' })).toContainText(runName);
  await page.goto(`/runs/${created.run.id}?step=x`);
  await ready(page, js);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(runName);
  await expect(page.getByRole('region', { name: 'Logs' })).toContainText(probe);
  await expect(page.getByRole('table', { name: 'Metadata' })).toContainText(probe);
  await expect(page.getByRole('region', { name: 'Step x' })).toContainText(probe);
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  if (js) expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  await api.dispose();
  await driverApi.dispose();
  expect(errors).toEqual([]);
});
