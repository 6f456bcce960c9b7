// The console in a real browser: playwright-core driving Debian's Chromium, headless,
// against a real `tickstock serve` that tests/all/console.rs started (its address, token,
// plugin folder and CSV folder come in the environment). Each step waits for what an
// operator would see; a step that does not happen within its time fails the run with the
// step's name. Screenshots of each page go to CONSOLE_OUT; the last stdout line is JSON
// with the page weight and first-render figures.

import { chromium } from 'playwright-core';
import { copyFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('CONSOLE_URL');
const token = env('CONSOLE_TOKEN');
const pluginDir = env('CONSOLE_PLUGIN_DIR');
const csvDir = env('CONSOLE_CSV_DIR');
const pendingCsv = env('CONSOLE_PENDING_CSV');
const fixture = env('CONSOLE_CALENDAR_FIXTURE');
const out = env('CONSOLE_OUT');
const executablePath = process.env.CONSOLE_CHROMIUM || '/usr/bin/chromium';

const STEP_MS = 30_000;
let step = 'starting';
const say = (text) => { step = text; console.log(`step: ${text}`); };

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // As root in CI, without a network: no sandbox, and nothing that phones home.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A Content-Security-Policy refusal or a script error shows up here.
    // (A 401 the test provokes on purpose logs "Failed to load resource"; that is not one.)
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`console error: ${message.text()}`);
    }
  });

  say('open the console and measure it');
  // The page's own weight (HTML, script, style) and the API answers its first render read.
  const weight = { page: 0, api: 0 };
  page.on('response', async (response) => {
    const path = new URL(response.url()).pathname;
    if (!response.url().startsWith(base) || path === '/events') return;
    try {
      const length = (await response.body()).length;
      if (path === '/' || path.startsWith('/console/')) weight.page += length;
      else weight.api += length;
    } catch { /* gone with a navigation */ }
  });
  await page.goto(`${base}/`, { waitUntil: 'load' });
  const navigation = await page.evaluate(() => {
    const entry = performance.getEntriesByType('navigation')[0];
    return { domContentLoaded: entry.domContentLoadedEventEnd, load: entry.loadEventEnd };
  });

  say('Markets shows XNYS with its state');
  const xnys = page.locator('#market-XNYS');
  await xnys.locator('.badge.state').waitFor();
  // Milliseconds from navigation to every market drawn (the page's useful first render),
  // and the browser's first contentful paint.
  const marketsDrawn = await page.evaluate(() => performance.now());
  const firstPaint = await page.evaluate(() => new Promise((resolve) => {
    new PerformanceObserver((list) => {
      const entry = list.getEntries().find((paint) => paint.name === 'first-contentful-paint');
      if (entry) resolve(entry.startTime);
    }).observe({ type: 'paint', buffered: true });
    setTimeout(() => resolve(null), 3000);
  }));
  const state = (await xnys.locator('.badge.state').textContent()).trim();
  if (!['open', 'closed', 'break'].includes(state)) throw new Error(`XNYS state ${state}`);
  const apiState = await page.evaluate(async () => (await (await fetch('/calendars/XNYS/status')).json()).state);
  if (apiState !== state) throw new Error(`the page says ${state}, the API ${apiState}`);
  await page.waitForFunction(() => /in \d/.test(document.querySelector('#market-XNYS .countdown')?.textContent || ''));

  say('the XNYS countdown moves');
  const before = await xnys.locator('.countdown').textContent();
  await page.waitForFunction(
    (first) => document.querySelector('#market-XNYS .countdown').textContent !== first, before, { timeout: 5000 });
  const firstRender = { ...weight };

  say('a special day explains itself on click');
  const special = xnys.locator('.specials button').first();
  if (await special.count() > 0) {
    await special.click();
    await page.locator('#explain:not([hidden]) table').waitFor();
  } else {
    console.log('no XNYS special day in the next 30 days to click');
  }
  await page.screenshot({ path: join(out, 'markets.png'), fullPage: true });

  say('start a load from the form without the token: refused');
  await page.click('nav a[data-page="loads"]');
  await page.locator('#page-loads:not([hidden])').waitFor();
  await page.fill('#load-form input[name="symbols"]', 'AAA BBB CCC');
  await page.selectOption('#load-form select[name="exchange"]', 'XNYS');
  await page.fill('#load-form input[name="from"]', '2024-01-02');
  await page.fill('#load-form input[name="to"]', '2024-01-04');
  await page.click('#load-form button[type="submit"]');
  await page.locator('#notice.error', { hasText: 'token' }).waitFor();

  say('enter the token and start the load');
  await page.fill('#token-input', token);
  await page.click('#token-save');
  await page.locator('#token-state', { hasText: 'set for this tab' }).waitFor();
  const stored = await page.evaluate(() => [sessionStorage.getItem('tickstock-token'), localStorage.length]);
  if (stored[0] !== token || stored[1] !== 0) throw new Error('the token is kept in sessionStorage only');
  await page.click('#load-form button[type="submit"]');
  await page.locator('#notice:not(.error)', { hasText: 'accepted' }).waitFor();

  say('the load ends with a dead letter for the symbol without a CSV');
  const row = page.locator('#loads-table tr.load').first();
  await page.locator('#loads-table tr.load[data-state="failed"]').first().waitFor();
  await page.locator('#dead-letters li.dead .reason', { hasText: 'CCC' }).waitFor();
  await row.click();
  await page.locator('#load-detail:not([hidden]) .reason', { hasText: 'no CSV file for symbol CCC' }).waitFor();
  await page.screenshot({ path: join(out, 'loads-dead-letter.png'), fullPage: true });

  say('fix the missing file, retry with the token, and watch the load reach 100 %');
  copyFileSync(pendingCsv, join(csvDir, 'CCC.csv'));
  await page.click('#retry-dead');
  await page.locator('#notice', { hasText: 'queued again' }).waitFor();
  await page.locator('#loads-table tr.load[data-state="done"] .progress .label', { hasText: '100%' }).waitFor();
  await page.locator('#dead-letters li.empty').waitFor();
  await page.screenshot({ path: join(out, 'loads.png'), fullPage: true });

  say('Plugins shows the built-in XNYS');
  await page.click('nav a[data-page="plugins"]');
  const xnysPlugin = page.locator('#plugins-table tr[data-plugin="calendar/XNYS"]');
  await xnysPlugin.locator('.source', { hasText: 'built-in' }).waitFor();
  const generationBefore = Number(await xnysPlugin.locator('.generation').textContent());

  say('a new XNYS version dropped in the folder appears, with its diff, without a reload');
  await page.evaluate(() => { window.sameDocument = true; });
  copyFileSync(fixture, join(pluginDir, 'xnys.wasm.part'));
  renameSync(join(pluginDir, 'xnys.wasm.part'), join(pluginDir, 'xnys.wasm'));
  await page.waitForFunction((before) =>
    Number(document.querySelector('#plugins-table tr[data-plugin="calendar/XNYS"] .generation')?.textContent) > before,
  generationBefore);
  await xnysPlugin.locator('.version', { hasText: 'extra-closure' }).waitFor();
  const swap = page.locator('#swaps li.swap[data-plugin="calendar/XNYS"][data-action="loaded"]').first();
  await swap.locator('.changes li.added', { hasText: '2027-03-17' }).waitFor();
  await swap.locator('.diff-summary', { hasText: '1 special day change' }).waitFor();
  if (!(await page.evaluate(() => window.sameDocument === true))) throw new Error('the page reloaded');
  await page.screenshot({ path: join(out, 'plugins.png'), fullPage: true });

  say('roll back to the built-in with the token');
  await xnysPlugin.locator('button.rollback').click();
  await xnysPlugin.locator('.source', { hasText: 'built-in' }).waitFor();
  await page.locator('#swaps li.swap[data-action="rolled-back"]').first().waitFor();

  say('Datasets shows coverage and the gaps of one symbol');
  await page.click('nav a[data-page="datasets"]');
  await page.fill('#coverage-form input[name="months"]', '36');
  await page.click('#coverage-form button[type="submit"]');
  await page.locator('#coverage tr[data-symbol="AAA"]').waitFor();
  const cell = page.locator('#coverage tr[data-symbol="AAA"] td.cell[title*="2024-01"]');
  const title = await cell.getAttribute('title');
  if (!title.includes('3 of 21')) throw new Error(`AAA 2024-01 coverage: ${title}`);
  await page.click('#coverage tr[data-symbol="AAA"] td.symbol');
  await page.locator('#gaps:not([hidden]) li.gap').first().waitFor();
  await page.screenshot({ path: join(out, 'datasets.png'), fullPage: true });

  if (problems.length > 0) throw new Error(problems.join('\n'));
  console.log(JSON.stringify({
    first_contentful_paint_ms: firstPaint, dom_content_loaded_ms: navigation.domContentLoaded,
    load_ms: navigation.load, markets_drawn_ms: marketsDrawn, page_bytes: firstRender.page, first_render_api_bytes: firstRender.api,
  }));
} catch (error) {
  console.error(`failed at step "${step}": ${error.stack || error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
