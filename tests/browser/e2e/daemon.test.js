'use strict';
// The web UI of our supervisord, end to end in Debian's headless Chromium: the daemon from
// target/debug (or $SUPERVISOR_RS_BIN_DIR) on a temp config with 100 processes in mixed
// states, an inet server on a free 127.0.0.1 port with Basic auth. The daemon is stopped by
// its pid. Its screenshots (a page with hostile test names) go to tests/browser/out/e2e/, never
// to docs/images/: the documentation's come from gaps.test.js and its realistic config.
//
// A missing binary or a daemon that does not serve the page (GET / answers 404) fails the
// suite: scripts/test builds the binary first.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ROOT, launch, freePort, stopProcess, basicAuth } = require('../lib/browser');

const BIN_DIR = process.env.SUPERVISOR_RS_BIN_DIR || path.join(ROOT, 'target', 'debug');
const SHOTS = path.join(ROOT, 'tests', 'browser', 'out', 'e2e');
const USER = 'admin';
const PASSWORD = 'e2e-secret';
// Names may not contain spaces, '/' or ':' (the reference's rule), so the closing tag uses '\\'.
const EVIL_NAME = '"\'><script>alert(1)<\\script>';

let daemon, dir, base, chromium, context, dialogs, pageErrors, skipReason = null;

function config(port) {
  return `[supervisord]
logfile=${dir}/supervisord.log
pidfile=${dir}/supervisord.pid
childlogdir=${dir}
nodaemon=true
identifier=e2e
loglevel=info

[inet_http_server]
port=127.0.0.1:${port}
username=${USER}
password=${PASSWORD}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[program:ticker]
command=/bin/sh -c 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.3; done'
startsecs=1
stdout_logfile=${dir}/ticker.log

[program:sleeper]
command=/bin/sleep 1000
startsecs=1
stopwaitsecs=3

[program:printer]
command=/bin/sh -c 'echo "<script>window.__pwned = 1; alert(1)</script>"; echo "<img src=x onerror=alert(2)>"; exec /bin/sleep 1000'
startsecs=1

[program:${EVIL_NAME}]
command=/bin/sleep 1000
startsecs=1

[group:fleet]
programs=api,worker,batch,broken,flaky

[program:api]
process_name=n%(process_num)02d-%(program_name)s
numprocs=40
command=/bin/sleep 1000
startsecs=0

[program:worker]
process_name=n%(process_num)02d-%(program_name)s
numprocs=25
command=/bin/sleep 1000
autostart=false

[program:batch]
process_name=n%(process_num)02d-%(program_name)s
numprocs=15
command=/bin/true
startsecs=0
autorestart=false

[program:broken]
process_name=n%(process_num)02d-%(program_name)s
numprocs=10
command=/bin/false
startretries=1

[program:flaky]
process_name=n%(process_num)02d-%(program_name)s
numprocs=6
command=/bin/sh -c 'sleep 0.4; exit 3'
startsecs=2
startretries=1000
`;
}

test.before(async () => {
  const bin = path.join(BIN_DIR, 'supervisord');
  assert.ok(fs.existsSync(bin), `no ${bin}; build it first (cargo build -p supervisord)`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sv-web-e2e-'));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'supervisord.conf'), config(port));
  base = `http://127.0.0.1:${port}/`;
  const out = fs.openSync(path.join(dir, 'daemon.out'), 'w');
  const child = spawn(bin, ['-c', path.join(dir, 'supervisord.conf'), '-n'], { cwd: dir, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  daemon = { child };
  const auth = { Authorization: basicAuth(USER, PASSWORD) };
  const deadline = Date.now() + 20000;
  let status = 0;
  while (Date.now() < deadline) {
    try { status = (await fetch(base + 'ok.html', { headers: auth })).status; if (status) break; } catch (e) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!status) {
    const log = fs.readFileSync(path.join(dir, 'daemon.out'), 'utf8');
    assert.fail(`the daemon did not answer on its inet port within 20 s; its output:\n${log}`);
  }
  const root = await fetch(base, { headers: auth });
  assert.strictEqual(root.status, 200, 'the daemon must serve the web UI at /');
  chromium = await launch();
  context = await chromium.browser.newContext({
    httpCredentials: { username: USER, password: PASSWORD },
    viewport: { width: 1280, height: 900 },
  });
  dialogs = [];
  pageErrors = [];
  context.on('page', (p) => {
    p.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    p.on('pageerror', (e) => pageErrors.push(String(e)));
  });
  fs.mkdirSync(SHOTS, { recursive: true });
});

test.after(async () => {
  if (chromium) await chromium.close();
  if (daemon) await stopProcess(daemon.child, 15000);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function maybeSkip(t) {
  if (skipReason) { t.skip(skipReason); return true; }
  return false;
}

async function rpcState(ns) {
  const r = await fetch(base + 'api/status.json', { headers: { Authorization: basicAuth(USER, PASSWORD) } });
  assert.strictEqual(r.status, 200);
  const snap = await r.json();
  const p = snap.processes.find((x) => x.namespec === ns);
  assert.ok(p, `${ns} missing`);
  return p.statename;
}

async function waitState(ns, state, ms = 15000) {
  const deadline = Date.now() + ms;
  let s;
  while (Date.now() < deadline) {
    s = await rpcState(ns);
    if (s === state) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${ns} is ${s}, not ${state}, after ${ms} ms`);
}

test('without credentials the page is refused', async (t) => {
  if (maybeSkip(t)) return;
  assert.strictEqual((await fetch(base)).status, 401);
});

test('the page lists every process; screenshot with 100 processes', async (t) => {
  if (maybeSkip(t)) return;
  await waitState('ticker', 'RUNNING');
  await waitState('sleeper', 'RUNNING');
  await waitState('fleet:n09-broken', 'FATAL', 20000);
  const page = await context.newPage();
  const resp = await page.goto(base);
  assert.strictEqual(resp.status(), 200);
  assert.match(resp.headers()['content-security-policy'] || '', /script-src 'self'/);
  await page.waitForSelector('#pagerlabel');
  assert.match(await page.textContent('#pagerlabel'), /of 100$/);
  const names = await page.$$eval('#tbody tr', (rows) => rows.map((r) => r.dataset.ns));
  assert.strictEqual(names.length, 100);
  for (const ns of ['ticker', 'sleeper', 'printer', EVIL_NAME, 'fleet:n00-api', 'fleet:n24-worker', 'fleet:n14-batch', 'fleet:n09-broken', 'fleet:n05-flaky']) {
    assert.ok(names.includes(ns), `${ns} not listed`);
  }
  await page.screenshot({ path: path.join(SHOTS, 'status.png') });
  await page.close();
});

test('stop a process and watch its row change without a reload, then start it', async (t) => {
  if (maybeSkip(t)) return;
  await waitState('sleeper', 'RUNNING');
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('tr[data-ns="sleeper"][data-state="20"]');
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.click('tr[data-ns="sleeper"] button[data-action="stop"]');
  await page.waitForSelector('tr[data-ns="sleeper"][data-state="0"]', { timeout: 15000 });
  await page.waitForFunction((m) => document.getElementById('statusmessage').textContent === m, 'Process sleeper stopped', { timeout: 15000 });
  assert.strictEqual(await rpcState('sleeper'), 'STOPPED');
  await page.click('tr[data-ns="sleeper"] button[data-action="start"]');
  await page.waitForSelector('tr[data-ns="sleeper"][data-state="20"]', { timeout: 15000 });
  await page.waitForFunction((m) => document.getElementById('statusmessage').textContent === m, 'Process sleeper started', { timeout: 15000 });
  assert.strictEqual(await page.evaluate(() => window.__sameDocument), true, 'the page reloaded');
  await page.close();
});

test('the tail page shows a line written after it was opened', async (t) => {
  if (maybeSkip(t)) return;
  const page = await context.newPage();
  await page.goto(base + 'tail.html?processname=ticker');
  const initial = await page.textContent('#tailbody');
  const seen = [...initial.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
  const last = seen.length ? Math.max(...seen) : -1;
  await page.waitForFunction((n) => [...document.getElementById('tailbody').textContent.matchAll(/tick (\d+)/g)]
    .some((m) => Number(m[1]) > n + 2), last, { timeout: 15000 });
  // Where the stream's first kilobyte overlaps what the page showed, nothing is doubled.
  const ticks = [...(await page.textContent('#tailbody')).matchAll(/tick (\d+)\n/g)].map((m) => m[1]);
  assert.strictEqual(new Set(ticks).size, ticks.length, 'a line is shown twice');
  await page.screenshot({ path: path.join(SHOTS, 'tail.png') });
  await page.close();
});

test('a GET to an action URL changes nothing', async (t) => {
  if (maybeSkip(t)) return;
  await waitState('sleeper', 'RUNNING');
  const auth = { Authorization: basicAuth(USER, PASSWORD) };
  for (const q of ['processname=sleeper&action=stop', 'action=stopall', 'processname=sleeper&action=restart']) {
    const r = await fetch(base + 'index.html?' + q, { headers: auth, redirect: 'manual' });
    assert.strictEqual(r.status, 200, q);
  }
  await new Promise((r) => setTimeout(r, 500));
  assert.strictEqual(await rpcState('sleeper'), 'RUNNING');
  assert.strictEqual(await rpcState('fleet:n00-api'), 'RUNNING');
  // And a POST without the token is refused.
  const r = await fetch(base + 'index.html', {
    method: 'POST', headers: { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'processname=sleeper&action=stop', redirect: 'manual',
  });
  assert.strictEqual(r.status, 403);
  assert.strictEqual(await rpcState('sleeper'), 'RUNNING');
});

test('a process named or printing <script> cannot run script', async (t) => {
  if (maybeSkip(t)) return;
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#pagerlabel');
  const link = page.locator('td.name a', { hasText: '<script>' });
  assert.strictEqual(await link.textContent(), EVIL_NAME);
  await page.goto(base + 'tail.html?processname=printer');
  await page.waitForTimeout(1000);
  assert.match(await page.textContent('#tailbody'), /<script>window.__pwned = 1; alert\(1\)<\/script>/);
  assert.strictEqual(await page.evaluate(() => window.__pwned), undefined);
  assert.strictEqual(await page.locator('#tailbody script, #tailbody img').count(), 0);
  await page.goto(base + 'tail.html?processname=' + encodeURIComponent(EVIL_NAME));
  await page.waitForTimeout(500);
  assert.deepStrictEqual(dialogs, []);
  assert.deepStrictEqual(pageErrors, []);
  await page.close();
});

test('screenshots: dark theme and phone width', async (t) => {
  if (maybeSkip(t)) return;
  const dark = await chromium.browser.newContext({
    httpCredentials: { username: USER, password: PASSWORD },
    colorScheme: 'dark', viewport: { width: 1280, height: 900 },
  });
  const page = await dark.newPage();
  await page.goto(base);
  await page.waitForSelector('#pagerlabel');
  await page.screenshot({ path: path.join(SHOTS, 'status-dark.png') });
  await dark.close();
  const phone = await chromium.browser.newContext({
    httpCredentials: { username: USER, password: PASSWORD },
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const p2 = await phone.newPage();
  await p2.goto(base);
  await p2.waitForSelector('#pagerlabel');
  const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone screen`);
  await p2.screenshot({ path: path.join(SHOTS, 'status-phone.png') });
  await phone.close();
});
