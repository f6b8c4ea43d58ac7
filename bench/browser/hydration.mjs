// The run page of a large run in headless Chromium: time from navigation to the
// server's HTML (responseEnd) and to the hydration marker (`.app[data-hydrated=true]`),
// p50 and p99 over --samples loads. Uses the Playwright of end2end/ (npm ci there).
//
//   node bench/browser/hydration.mjs --url http://127.0.0.1:8080 --run seed-big-run-50x100 \
//     --user admin --password '…' [--samples 10]
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../end2end/package.json'));
const { chromium } = require('playwright');

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
for (const needed of ['url', 'run', 'user', 'password']) {
  if (!args[needed]) {
    console.error(`--${needed} is required`);
    process.exit(2);
  }
}
const samples = Number(args.samples ?? 10);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
await page.goto(`${args.url}/sign-in`);
await page.getByLabel('User name').fill(args.user);
await page.getByLabel('Password').fill(args.password);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByRole('button', { name: 'Sign out' }).waitFor();

const html = [];
const hydrated = [];
for (let i = 0; i < samples + 1; i++) {
  const start = Date.now();
  await page.goto(`${args.url}/runs/${args.run}`, { waitUntil: 'commit' });
  await page.locator('.app[data-hydrated="true"]').waitFor({ timeout: 60_000 });
  const total = Date.now() - start;
  const served = await page.evaluate(() => performance.getEntriesByType('navigation')[0].responseEnd);
  if (i > 0) {
    hydrated.push(total);
    html.push(served);
  }
}
const nodes = await page.locator('a.dag-link[data-step]').count();
const pct = (xs, q) => [...xs].sort((a, b) => a - b)[Math.round((xs.length - 1) * q)];
console.log(`run page of ${nodes} drawn steps, ${samples} loads:`);
console.log(`  HTML received:  p50 ${pct(html, 0.5).toFixed(0)} ms, p99 ${pct(html, 0.99).toFixed(0)} ms`);
console.log(`  hydrated:       p50 ${pct(hydrated, 0.5)} ms, p99 ${pct(hydrated, 0.99)} ms`);
await browser.close();
