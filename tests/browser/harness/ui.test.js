'use strict';
// The web UI in real Chromium against the crate's test harness (crates/web/examples/harness.rs):
// the real routing/rendering/CSRF code and the real page script, with a simulated supervisor.
// Needs: scripts/setup-browser, and `cargo build -p supervisor-web --example harness`.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, launch, freePort, startProcess, stopProcess, basicAuth } = require('../lib/browser');

const HARNESS = path.join(ROOT, 'target', 'debug', 'examples', 'harness');
// Diagnostic screenshots only (the simulated processes include hostile names); the
// documentation's come from e2e/gaps.test.js.
const SHOTS = path.join(__dirname, '..', 'out', 'harness');
const USER = 'user';
const PASSWORD = 'pw';

let server, base, chromium, context, dialogs;
const cspViolations = [];

test.before(async () => {
  const port = await freePort();
  server = await startProcess(HARNESS, ['--port', String(port), '--procs', '100', '--user', USER, '--password', PASSWORD], {
    ready: (out) => out.includes('listening on'),
  });
  base = `http://127.0.0.1:${port}/`;
  chromium = await launch();
  context = await chromium.browser.newContext({
    httpCredentials: { username: USER, password: PASSWORD },
    viewport: { width: 1280, height: 900 },
  });
  dialogs = [];
  context.on('page', (p) => {
    p.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    p.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text()); });
  });
  fs.mkdirSync(SHOTS, { recursive: true });
});

test.after(async () => {
  if (chromium) await chromium.close();
  if (server) await stopProcess(server.child);
});

async function status(page) {
  const r = await page.request.get(base + 'api/status.json');
  assert.strictEqual(r.status(), 200);
  return r.json();
}

function stateOf(snap, ns) {
  const p = snap.processes.find((x) => x.namespec === ns);
  assert.ok(p, `${ns} not in snapshot`);
  return p.statename;
}

test('authentication is required', async () => {
  const r = await fetch(base);
  assert.strictEqual(r.status, 401);
  const ok = await fetch(base, { headers: { Authorization: basicAuth(USER, PASSWORD) } });
  assert.strictEqual(ok.status, 200);
  assert.match(ok.headers.get('content-security-policy'), /script-src 'self'/);
});

test('status page lists every process and goes live', async () => {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  assert.strictEqual(await page.locator('#tbody tr').count(), 100);
  await page.waitForSelector('#pagerlabel');
  assert.match(await page.textContent('#pagerlabel'), /1–100 of 100/);
  await page.screenshot({ path: path.join(SHOTS, 'status.png'), fullPage: false });
  await page.close();
});

test('stop and start a process: the row changes without a reload', async () => {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  await page.evaluate(() => { window.__noReload = true; });
  const row = page.locator('tr[data-ns="ticker"]');
  await row.locator('button[data-action="stop"]').click();
  await page.waitForSelector('tr[data-ns="ticker"][data-state="0"]', { timeout: 10000 });
  assert.strictEqual(await row.locator('.status span').textContent(), 'stopped');
  await page.waitForFunction(() => document.getElementById('statusmessage').textContent === 'Process ticker stopped', null, { timeout: 10000 });
  await row.locator('button[data-action="start"]').click();
  await page.waitForSelector('tr[data-ns="ticker"][data-state="20"]', { timeout: 10000 });
  await page.waitForFunction(() => /^pid \d+, uptime 0:00:0\d$/.test(
    document.querySelector('tr[data-ns="ticker"] td.desc').textContent), null, { timeout: 5000 });
  assert.strictEqual(await page.evaluate(() => window.__noReload), true, 'the page reloaded');
  await page.close();
});

test('a change made elsewhere arrives through the event stream', async () => {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  const target = (await status(page)).processes.find((p) => p.statename === 'RUNNING' && p.group === 'web').namespec;
  // Stop it from another client (a plain form POST with a token, as curl would).
  const token = (await status(page)).csrf_token;
  const r = await page.request.post(base + 'api/action', { form: { action: 'stop', processname: target, csrf_token: token } });
  assert.strictEqual(r.status(), 200);
  assert.deepStrictEqual(await r.json(), { message: `Process ${target} stopped`, error: false });
  await page.waitForSelector(`tr[data-ns="${target}"][data-state="0"]`, { timeout: 10000 });
  await page.close();
});

test('a GET to an action URL changes nothing', async () => {
  const page = await context.newPage();
  const before = await status(page);
  const running = before.processes.find((p) => p.statename === 'RUNNING' && p.namespec !== 'ticker').namespec;
  const resp = await page.goto(base + `index.html?processname=${encodeURIComponent(running)}&action=stop`);
  assert.strictEqual(resp.status(), 200);
  assert.match(await page.textContent('#confirm'), /Nothing was changed/);
  await page.goto(base + 'index.html?action=stopall');
  await page.waitForTimeout(500);
  const after = await status(page);
  assert.strictEqual(stateOf(after, running), 'RUNNING');
  assert.strictEqual(after.processes.filter((p) => p.statename === 'RUNNING').length,
    before.processes.filter((p) => p.statename === 'RUNNING').length);
  await page.close();
});

test('a POST without a valid token is refused', async () => {
  const page = await context.newPage();
  await page.goto(base);
  const codes = await page.evaluate(async () => {
    const a = await fetch('index.html', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'action=stopall' });
    const b = await fetch('api/action', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'action=stopall&csrf_token=1.00' });
    return [a.status, b.status];
  });
  assert.deepStrictEqual(codes, [403, 403]);
  assert.ok((await status(page)).processes.some((p) => p.statename === 'RUNNING'));
  await page.close();
});

test('stop all asks for confirmation first', async () => {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  await page.click('button[value="stopall"]');
  await page.waitForSelector('dialog#confirmdialog[open]');
  await page.keyboard.press('Escape');
  await page.waitForTimeout(300);
  assert.ok((await status(page)).processes.some((p) => p.statename === 'RUNNING'));
  await page.close();
});

test('group filter, search and group actions', async () => {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#groupfilter option[value="web"]', { state: 'attached' });
  await page.selectOption('#groupfilter', 'web');
  const names = await page.$$eval('#tbody tr', (rows) => rows.map((r) => r.dataset.ns));
  assert.ok(names.length > 5 && names.every((n) => n.startsWith('web:')), names.join(','));
  await page.fill('#search', 'web_01');
  const found = await page.$$eval('#tbody tr', (rows) => rows.map((r) => r.dataset.ns));
  assert.ok(found.length >= 1 && found.every((n) => n.startsWith('web:web_01')), found.join(','));
  await page.fill('#search', '');
  await page.click('.groupactions button[data-action="startgroup"]');
  await page.waitForFunction(() => /^Group web started$/.test(document.getElementById('statusmessage').textContent), null, { timeout: 10000 });
  const snap = await status(page);
  assert.ok(snap.processes.filter((p) => p.group === 'web').every((p) => ['RUNNING', 'BACKOFF'].includes(p.statename)));
  await page.close();
});

test('keyboard: slash focuses the search box', async () => {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#search');
  await page.keyboard.press('/');
  assert.strictEqual(await page.evaluate(() => document.activeElement.id), 'search');
  await page.close();
});

test('tail page streams lines written after it opened', async () => {
  const page = await context.newPage();
  await page.goto(base + 'tail.html?processname=ticker');
  const initial = await page.textContent('#tailbody');
  const last = Math.max(-1, ...[...initial.matchAll(/tick (\d+)/g)].map((m) => Number(m[1])));
  await page.waitForFunction((n) => {
    const m = [...document.getElementById('tailbody').textContent.matchAll(/tick (\d+)/g)];
    return m.some((x) => Number(x[1]) > n + 1);
  }, last, { timeout: 10000 });
  const text = await page.textContent('#tailbody');
  // No line is shown twice where the stream's first kilobyte overlaps the page's text.
  const ticks = [...text.matchAll(/tick (\d+)\n/g)].map((m) => m[1]);
  assert.strictEqual(new Set(ticks).size, ticks.length, 'duplicated lines');
  await page.screenshot({ path: path.join(SHOTS, 'tail.png') });
  // Pause holds new output back; resume shows it.
  await page.click('#pause');
  const frozen = await page.textContent('#tailbody');
  await page.waitForTimeout(1200);
  assert.strictEqual(await page.textContent('#tailbody'), frozen);
  await page.click('#pause');
  assert.ok((await page.textContent('#tailbody')).length > frozen.length);
  await page.close();
});

test('a process named or printing <script> cannot run script', async () => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  const ns = 'evil:<script>alert(1)</script>';
  const link = page.locator('td.name a', { hasText: '<script>' });
  assert.strictEqual(await link.textContent(), ns);
  assert.strictEqual(await page.locator('#tbody script').count(), 0);
  await page.goto(base + 'tail.html?processname=' + encodeURIComponent(ns));
  await page.waitForTimeout(800);
  assert.match(await page.textContent('#tailbody'), /<script>alert\('from the log'\)<\/script>/);
  assert.strictEqual(await page.locator('#tailbody script, #tailbody img').count(), 0);
  assert.deepStrictEqual(dialogs, []);
  assert.deepStrictEqual(errors, []);
  // Nothing the pages do needs an exception to the Content-Security-Policy.
  assert.deepStrictEqual(cspViolations, []);
  await page.close();
});

test('without JavaScript the plain forms still work (POST, token, 301 with message)', async () => {
  const plain = await chromium.browser.newContext({
    httpCredentials: { username: USER, password: PASSWORD }, javaScriptEnabled: false,
  });
  const page = await plain.newPage();
  await page.goto(base);
  const ns = (await status(page)).processes.find((p) => p.statename === 'RUNNING' && p.group === 'queue').namespec;
  await page.click(`tr[data-ns="${ns}"] button[data-action="stop"]`);
  await page.waitForURL(/\?message=/);
  assert.strictEqual(await page.textContent('#statusmessage'), `Process ${ns} stopped`);
  assert.strictEqual(stateOf(await status(page), ns), 'STOPPED');
  // A GET action URL shows a confirmation form; confirming it (a POST) acts.
  await page.goto(base + `index.html?processname=${encodeURIComponent(ns)}&action=start`);
  assert.strictEqual(stateOf(await status(page), ns), 'STOPPED');
  await page.click('#confirm button[type="submit"]');
  await page.waitForURL(/\?message=/);
  assert.strictEqual(await page.textContent('#statusmessage'), `Process ${ns} started`);
  assert.strictEqual(stateOf(await status(page), ns), 'RUNNING');
  await plain.close();
});

test('1,000 processes: paginated, filtered and re-rendered quickly', async () => {
  const port = await freePort();
  const big = await startProcess(HARNESS, ['--port', String(port), '--procs', '1000'], {
    ready: (out) => out.includes('listening on'),
  });
  try {
    const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('#pagerlabel');
    assert.match(await page.textContent('#pagerlabel'), /^1–100 of 1000$/);
    assert.strictEqual(await page.locator('#tbody tr').count(), 100);
    await page.click('#pager button[aria-label="Next page"]');
    assert.match(await page.textContent('#pagerlabel'), /^101–200 of 1000$/);
    await page.fill('#search', 'mail_99');
    assert.match(await page.textContent('#pagerlabel'), /^1–1 of 1 \(1000 in all\)$/);
    await page.fill('#search', '');
    await page.selectOption('#pagesize', '0');
    assert.strictEqual(await page.locator('#tbody tr').count(), 1000);
    // One full re-render of 1,000 rows (what a live update costs with 'all' shown).
    const ms = await page.evaluate(() => {
      const s = document.getElementById('search');
      const t = performance.now();
      s.dispatchEvent(new Event('input'));
      return performance.now() - t;
    });
    assert.ok(ms < 1500, `re-rendering 1,000 rows took ${ms} ms`);
    await page.selectOption('#pagesize', '100');
    await page.close();
  } finally {
    await stopProcess(big.child);
  }
});

test('screenshots: dark theme and phone', async () => {
  const dark = await chromium.browser.newContext({
    httpCredentials: { username: USER, password: PASSWORD },
    colorScheme: 'dark', viewport: { width: 1280, height: 900 },
  });
  const page = await dark.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  await page.screenshot({ path: path.join(SHOTS, 'status-dark.png') });
  await dark.close();
  const phone = await chromium.browser.newContext({
    httpCredentials: { username: USER, password: PASSWORD },
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const p2 = await phone.newPage();
  await p2.goto(base);
  await p2.waitForSelector('#live.on', { timeout: 10000 });
  await p2.screenshot({ path: path.join(SHOTS, 'status-phone.png') });
  const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `page is ${overflow}px wider than the phone screen`);
  await phone.close();
});
