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
      o: { uri: 'file:///tmp/o', content_hash: `sha256:o-${id}`, size: 3, data_type: 'file', materializer: 'file' },
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

test('runs: the list with status badges, the status filter, and a run with its steps and log', async ({ page, javaScriptEnabled: js }) => {
  const { pipeline, good, bad, author } = await seed(suffix(js));
  const errors = watchErrors(page);

  // The admin sees everyone's pipelines; the name leads to the pipeline's runs.
  await signIn(page, js, '/pipelines');
  await page.getByRole('table', { name: 'Pipelines' }).getByRole('link', { name: pipeline, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/runs\\?pipeline=${pipeline}$`));
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

  // The status filter is a plain form: the address carries it.
  await expect(page.getByLabel('Pipeline')).toHaveValue(pipeline);
  await page.getByLabel('Status').selectOption('failed');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/[?&]status=failed(&|$)/);
  await expect(page).toHaveURL(new RegExp(`[?&]pipeline=${pipeline}(&|$)`));
  await ready(page, js);
  await expect(runs.getByRole('row')).toHaveCount(2);
  await expect(badRow).toBeVisible();
  await expect(goodRow).toHaveCount(0);

  // The failed run: why it failed, per step.
  await badRow.getByRole('link', { name: bad }).click();
  await expect(page.getByRole('heading', { level: 1, name: bad })).toBeVisible();
  await ready(page, js);
  await expect(page.getByRole('status')).toHaveText('step a failed');
  const steps = page.getByRole('table', { name: 'Steps' });
  const stepA = steps.getByRole('row').filter({ has: page.getByRole('cell', { name: 'a', exact: true }) });
  const stepB = steps.getByRole('row').filter({ has: page.getByRole('cell', { name: 'b', exact: true }) });
  await expect(stepA).toContainText('Failed');
  await expect(stepA).toContainText('exit code 3');
  await expect(stepA).toContainText('1 of 1');
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
  const goodA = steps.getByRole('row').filter({ has: page.getByRole('cell', { name: 'a', exact: true }) });
  await expect(goodA).toContainText('Completed');
  await expect(goodA.getByRole('list', { name: 'Outputs' })).toContainText(`${pipeline}.a.o v1`);
  const logs = page.getByRole('region', { name: 'Logs' });
  await expect(logs.getByText('<b>not bold</b>')).toBeVisible();
  await expect(logs.locator('b')).toHaveCount(0);
  await expect(logs).toContainText(`weir run logs ${good}`);
  await expect(page.getByRole('table', { name: 'Metadata' })).toContainText('accuracy');

  // Its output is listed among the artifacts.
  await page.goto(`/artifacts?pipeline=${pipeline}`);
  await expect(page.getByRole('table', { name: 'Artifacts' })).toContainText(`${pipeline}.a.o`);

  // A run that does not exist says so.
  await page.goto(`/runs/no-such-run-${pipeline}`);
  await expect(page.getByRole('heading', { name: 'No such run' })).toBeVisible();
  expect(errors).toEqual([]);
});
