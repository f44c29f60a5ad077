'use strict';
// The web UI gaps of issue 12, end to end: our supervisord (target/debug, or
// $SUPERVISOR_RS_BIN_DIR) with a realistic configuration on a free 127.0.0.1 port with Basic
// auth, driven in Debian's headless Chromium. Covers: the page opened through
// http://user:pass@host/, Stop on STARTING/BACKOFF rows, Start All, the Clear Log
// confirmation, the tail links opening the page's own log viewer, a log history of 10,000
// lines loaded by scrolling up and searched, no cut first line, exit status and times on
// EXITED/FATAL rows, problems sorted first, the name column first, columns that do not move
// when filtering, and the footer naming supervisor-rs.
//
// It also takes the documentation screenshots (status.png, status-dark.png,
// status-phone.png, tail.png) of this realistic page into $SCREENSHOT_DIR (default
// tests/browser/out; `SCREENSHOT_DIR=docs/images tests/browser/run` refreshes the README's;
// the other suites never write there).
// The daemon is stopped by its pid.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ROOT, launch, freePort, stopProcess, basicAuth } = require('../lib/browser');

const BIN_DIR = process.env.SUPERVISOR_RS_BIN_DIR || path.join(ROOT, 'target', 'debug');
const SHOTS = process.env.SCREENSHOT_DIR
  ? path.resolve(ROOT, process.env.SCREENSHOT_DIR)
  : path.join(ROOT, 'tests', 'browser', 'out');
const USER = 'admin';
const PASSWORD = 's3cret-pw';
const LINES = 10000;
// Every line of the import log: "import: record 00042 of 10000 stored in orders.db (ok)".
const LINE_RE = /^import: record (\d{5}) of 10000 stored in orders\.db \(ok\)$/;
// The audit-export program's lines: more than the 4 Mi characters the viewer keeps.
const FLOOD = 90000;
const FLOOD_RE = /^audit (\d{7}) 0{40}$/;

let daemon, dir, port, base, chromium, context, pageErrors;

function config() {
  return `[supervisord]
logfile=${dir}/supervisord.log
pidfile=${dir}/supervisord.pid
childlogdir=${dir}
nodaemon=true
identifier=prod-eu-1
loglevel=info

[inet_http_server]
port=127.0.0.1:${port}
username=${USER}
password=${PASSWORD}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[group:web]
programs=nginx,api

[program:nginx]
command=/bin/sleep 100000
startsecs=1

[program:api]
process_name=api-%(process_num)02d
numprocs=4
command=/bin/sh -c 'i=0; while true; do echo "GET /v1/orders/$i 200 $((i %% 17 + 3))ms"; i=$((i+1)); sleep 0.5; done'
startsecs=1

[group:workers]
programs=celery,mailer

[program:celery]
process_name=celery-%(process_num)02d
numprocs=5
command=/bin/sleep 100000
startsecs=1

[program:mailer]
command=/bin/sleep 100000
startsecs=1

[program:redis]
command=/bin/sleep 100000
startsecs=1

[program:importer]
command=/bin/sh -c 'i=0; while [ $i -lt ${LINES} ]; do printf "import: record %%05d of ${LINES} stored in orders.db (ok)\\n" $i; i=$((i+1)); done; exec /bin/sleep 100000'
startsecs=1
stdout_logfile_maxbytes=50MB

[program:thumbnailer]
command=/bin/sh -c 'echo "error: cannot reach object storage at s3.internal:9000" >&2; exit 1'
startsecs=1
startretries=1000

[program:payments-sync]
command=/bin/false
startretries=1

[program:nightly-report]
command=/bin/sh -c 'echo "report: 3 regions missing"; exit 3'
startsecs=0
autorestart=false

[program:audit-export]
command=/bin/sh ${dir}/flood.sh ${dir}/go
startsecs=0

[group:maintenance]
programs=reindex,cleanup

[program:reindex]
command=/bin/sleep 100000
autostart=false
startsecs=0

[program:cleanup]
command=/bin/sleep 100000
autostart=false
startsecs=0
`;
}

const auth = () => ({ Authorization: basicAuth(USER, PASSWORD) });

async function snapshot() {
  const r = await fetch(base + 'api/status.json', { headers: auth() });
  assert.strictEqual(r.status, 200);
  return r.json();
}

async function stateOf(ns) {
  const p = (await snapshot()).processes.find((x) => x.namespec === ns);
  assert.ok(p, `${ns} missing`);
  return p.statename;
}

async function waitFor(what, fn, ms = 20000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last === true) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: not reached after ${ms} ms (last: ${JSON.stringify(last)})`);
}

const waitState = (ns, states, ms) => waitFor(`${ns} in ${states}`, async () => {
  const s = await stateOf(ns);
  return [].concat(states).includes(s) || s;
}, ms);

test.before(async () => {
  const bin = path.join(BIN_DIR, 'supervisord');
  assert.ok(fs.existsSync(bin), `no ${bin}; build it first (cargo build -p supervisord --bins)`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sv-web-gaps-'));
  port = await freePort();
  // Waits for the go file, then writes FLOOD lines of 55 bytes, 500 every 0.1 s.
  fs.writeFileSync(path.join(dir, 'flood.sh'), `echo "waiting for the go file"
while [ ! -e "$1" ]; do sleep 0.1; done
exec awk 'BEGIN { pad = sprintf("%040d", 0); for (i = 0; i < ${FLOOD}; i++) { printf "audit %07d %s\\n", i, pad; if (i % 500 == 499) { fflush(); system("sleep 0.1") } } fflush(); system("exec sleep 100000") }'
`);
  fs.writeFileSync(path.join(dir, 'supervisord.conf'), config());
  base = `http://127.0.0.1:${port}/`;
  const out = fs.openSync(path.join(dir, 'daemon.out'), 'w');
  const child = spawn(bin, ['-c', path.join(dir, 'supervisord.conf'), '-n'], { cwd: dir, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  daemon = { child };
  await waitFor('the daemon answers', async () => {
    try { return (await fetch(base + 'ok.html', { headers: auth() })).status === 200; } catch (e) { return String(e); }
  });
  chromium = await launch();
  context = await chromium.browser.newContext({
    httpCredentials: { username: USER, password: PASSWORD },
    viewport: { width: 1280, height: 900 },
  });
  pageErrors = [];
  context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(String(e))));
  fs.mkdirSync(SHOTS, { recursive: true });
  await waitState('importer', 'RUNNING');
  await waitState('payments-sync', 'FATAL');
  await waitState('nightly-report', 'EXITED');
});

test.after(async () => {
  if (chromium) await chromium.close();
  if (daemon) await stopProcess(daemon.child, 15000);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('screenshots of a realistic page (desktop, dark, phone, log viewer)', async () => {
  await waitState('thumbnailer', 'BACKOFF');
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  await page.waitForSelector('tr[data-ns="thumbnailer"][data-state="30"]', { timeout: 15000 });
  await page.screenshot({ path: path.join(SHOTS, 'status.png') });
  await page.goto(base + 'tail.html?processname=importer');
  await page.waitForSelector('#tailbody[data-loaded="1"]', { timeout: 10000 });
  await page.fill('#logsearch', 'record 0987');
  await page.waitForFunction(() => document.getElementById('searchcount').textContent === '1 / 10', null, { timeout: 5000 });
  await page.press('#logsearch', 'Enter');
  await page.screenshot({ path: path.join(SHOTS, 'tail.png') });
  await page.close();
  const dark = await chromium.browser.newContext({
    httpCredentials: { username: USER, password: PASSWORD },
    colorScheme: 'dark', viewport: { width: 1280, height: 900 },
  });
  const p2 = await dark.newPage();
  await p2.goto(base);
  await p2.waitForSelector('#live.on', { timeout: 10000 });
  await p2.screenshot({ path: path.join(SHOTS, 'status-dark.png') });
  await dark.close();
  const phone = await chromium.browser.newContext({
    httpCredentials: { username: USER, password: PASSWORD },
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const p3 = await phone.newPage();
  await p3.goto(base);
  await p3.waitForSelector('#live.on', { timeout: 10000 });
  const overflow = await p3.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone screen`);
  await p3.screenshot({ path: path.join(SHOTS, 'status-phone.png') });
  await p3.goto(base + 'tail.html?processname=importer');
  await p3.waitForSelector('#tailbody[data-loaded="1"]', { timeout: 10000 });
  const tailOverflow = await p3.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(tailOverflow <= 1, `the log viewer is ${tailOverflow}px wider than the phone screen`);
  await p3.screenshot({ path: path.join(ROOT, 'tests', 'browser', 'out', 'tail-phone.png') });
  await phone.close();
});

test('the footer says supervisor-rs X.Y.Z (compatible with Supervisor 4.3.0)', async () => {
  const page = await context.newPage();
  await page.goto(base);
  const text = (await page.textContent('#footer .left')).replace(/\s+/g, ' ').trim();
  assert.match(text, /^supervisor-rs \d+\.\d+\.\d+\S* \(compatible with Supervisor 4\.3\.0\)$/);
  await page.close();
});

test('opened through http://user:pass@host/, actions and the log viewer work', async () => {
  const plain = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  const page = await plain.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`http://${USER}:${PASSWORD}@127.0.0.1:${port}/`);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  await page.waitForSelector('tr[data-ns="redis"][data-state="20"]', { timeout: 10000 });
  await page.click('tr[data-ns="redis"] button[data-action="stop"]');
  await page.waitForFunction(() => document.getElementById('statusmessage').textContent === 'Process redis stopped', null, { timeout: 15000 });
  assert.strictEqual(await stateOf('redis'), 'STOPPED');
  await page.waitForSelector('tr[data-ns="redis"][data-state="0"]', { timeout: 10000 });
  await page.click('tr[data-ns="redis"] button[data-action="start"]');
  await page.waitForFunction(() => document.getElementById('statusmessage').textContent === 'Process redis started', null, { timeout: 15000 });
  assert.strictEqual(await stateOf('redis'), 'RUNNING');
  await page.goto(`http://${USER}:${PASSWORD}@127.0.0.1:${port}/tail.html?processname=web:api-01`);
  await page.waitForSelector('#tailbody[data-loaded="1"]', { timeout: 10000 });
  const first = await page.textContent('#tailbody');
  await page.waitForFunction((n) => document.getElementById('tailbody').textContent.length > n, first.length, { timeout: 10000 });
  assert.deepStrictEqual(errors.filter((e) => /credentials|TypeError/.test(e)), []);
  await plain.close();
});

test('Stop on a BACKOFF row stops the process', async () => {
  await waitState('thumbnailer', ['BACKOFF', 'STARTING']);
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  const row = 'tr[data-ns="thumbnailer"][data-state="30"]';
  await page.waitForSelector(row, { timeout: 15000 });
  assert.strictEqual(await page.locator(`${row} button[data-action="stop"]`).count(), 1, 'no Stop button on a BACKOFF row');
  await page.locator('tr[data-ns="thumbnailer"] button[data-action="stop"]').click();
  await page.waitForFunction(() => document.getElementById('statusmessage').textContent === 'Process thumbnailer stopped', null, { timeout: 15000 });
  await waitState('thumbnailer', 'STOPPED', 5000);
  await page.waitForSelector('tr[data-ns="thumbnailer"][data-state="0"]', { timeout: 10000 });
  await page.close();
});

test('Start All starts every stopped process', async () => {
  assert.strictEqual(await stateOf('maintenance:reindex'), 'STOPPED');
  assert.strictEqual(await stateOf('maintenance:cleanup'), 'STOPPED');
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  await page.click('button[value="startall"]');
  await page.waitForFunction(() => /^All started at /.test(document.getElementById('statusmessage').textContent), null, { timeout: 20000 });
  await waitState('maintenance:reindex', 'RUNNING', 5000);
  await waitState('maintenance:cleanup', 'RUNNING', 5000);
  await page.waitForSelector('tr[data-ns="maintenance:cleanup"][data-state="20"]', { timeout: 10000 });
  await page.close();
});

test('Clear Log asks first; Cancel keeps the log', async () => {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  await page.click('tr[data-ns="web:api-02"] button[data-action="clearlog"]');
  await page.waitForSelector('dialog#confirmdialog[open]', { timeout: 5000 });
  assert.match(await page.textContent('#confirmtext'), /web:api-02/);
  await page.click('#confirmno');
  await page.waitForTimeout(300);
  assert.strictEqual(await page.locator('#statusmessage.status_msg').count(), 0, 'something was done');
  await page.click('tr[data-ns="web:api-02"] button[data-action="clearlog"]');
  await page.click('#confirmyes');
  await page.waitForFunction(() => document.getElementById('statusmessage').textContent === 'Log for web:api-02 cleared', null, { timeout: 10000 });
  await page.close();
});

test('the Tail -f links open the log viewer; the raw stream is one click away', async () => {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  const hrefs = await page.$$eval('tr[data-ns="importer"] td.action a', (as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
  assert.deepStrictEqual(hrefs, [
    ['Tail -f Stdout', 'tail.html?processname=importer'],
    ['Tail -f Stderr', 'tail.html?processname=importer&channel=stderr'],
  ]);
  await page.goto(base + hrefs[1][1]);
  assert.strictEqual(await page.getAttribute('a#raw', 'href'), 'logtail/importer/stderr');
  await page.close();
});

// The first line of the viewer, and of what each scroll-up adds, must be a whole line.
function checkLines(text, { complete }) {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((l, i) => assert.match(l, LINE_RE, `line ${i} of the view is cut or wrong: ${JSON.stringify(l)}`));
  const nums = lines.map((l) => Number(LINE_RE.exec(l)[1]));
  nums.forEach((n, i) => { if (i) assert.strictEqual(n, nums[i - 1] + 1, `line after ${nums[i - 1]} is ${n}`); });
  assert.strictEqual(nums[nums.length - 1], LINES - 1, 'the view does not end with the last line');
  if (complete) assert.strictEqual(nums[0], 0, 'the history does not start at the first line');
  return nums;
}

test('the log viewer never shows a cut first line', async () => {
  const page = await context.newPage();
  await page.goto(base + 'tail.html?processname=importer');
  await page.waitForSelector('#tailbody[data-loaded="1"]', { timeout: 10000 });
  const nums = checkLines(await page.textContent('#tailbody'), { complete: false });
  // About the last 64 KiB: far more than the reference's 1 KiB.
  assert.ok(nums.length > 1000, `only ${nums.length} lines shown`);
  // Without scripts too (the server-rendered page).
  const plain = await chromium.browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, javaScriptEnabled: false });
  const p2 = await plain.newPage();
  await p2.goto(base + 'tail.html?processname=importer&limit=5000');
  checkLines(await p2.textContent('#tailbody'), { complete: false });
  await plain.close();
  await page.close();
});

test('log history of 10,000 lines: scroll up to the first line, then search', async () => {
  const page = await context.newPage();
  await page.goto(base + 'tail.html?processname=importer');
  await page.waitForSelector('#tailbody[data-loaded="1"]', { timeout: 10000 });
  const deadline = Date.now() + 30000;
  for (;;) {
    const text = await page.textContent('#tailbody');
    const nums = checkLines(text, { complete: false });
    if (nums[0] === 0) break;
    assert.ok(Date.now() < deadline, `history still starts at line ${nums[0]} after 30 s of scrolling up`);
    await page.evaluate(() => { const pre = document.getElementById('tailbody'); pre.scrollTop = 0; pre.dispatchEvent(new Event('scroll')); });
    await page.waitForFunction((n) => {
      const m = /record (\d{5})/.exec(document.getElementById('tailbody').textContent);
      return m && Number(m[1]) < n;
    }, nums[0], { timeout: 10000 });
  }
  const nums = checkLines(await page.textContent('#tailbody'), { complete: true });
  assert.strictEqual(nums.length, LINES);
  // Loading older text keeps what the reader looked at in place.
  assert.ok(await page.evaluate(() => document.getElementById('tailbody').scrollTop) > 0, 'the view jumped to the top');

  await page.fill('#logsearch', 'record 04242 ');
  await page.waitForFunction(() => document.getElementById('searchcount').textContent === '1 / 1', null, { timeout: 5000 });
  assert.strictEqual(await page.locator('#tailbody mark').count(), 1);
  assert.strictEqual(await page.textContent('#tailbody mark'), 'record 04242 ');
  assert.ok(await page.evaluate(() => {
    const m = document.querySelector('#tailbody mark.current');
    const pre = document.getElementById('tailbody');
    const a = m.getBoundingClientRect(), b = pre.getBoundingClientRect();
    return a.top >= b.top && a.bottom <= b.bottom;
  }), 'the match is not scrolled into view');
  await page.fill('#logsearch', 'RECORD 0424');
  await page.waitForFunction(() => document.getElementById('searchcount').textContent === '1 / 10', null, { timeout: 5000 });
  await page.press('#logsearch', 'Enter');
  assert.strictEqual(await page.textContent('#searchcount'), '2 / 10');
  // The second match, case-insensitive, is the one on the line of record 04241.
  assert.deepStrictEqual(await page.evaluate(() => {
    const cur = document.querySelector('#tailbody mark.current');
    return [cur.textContent, cur.nextSibling.textContent.slice(0, 1), [...document.querySelectorAll('#tailbody mark')].indexOf(cur)];
  }), ['record 0424', '1', 1]);
  // Highlighting does not change the text.
  checkLines(await page.textContent('#tailbody'), { complete: true });
  await page.fill('#logsearch', '');
  await page.waitForFunction(() => document.querySelectorAll('#tailbody mark').length === 0, null, { timeout: 5000 });
  assert.strictEqual(await page.textContent('#searchcount'), '');
  await page.close();
});

// The daemon, like the reference, keeps no exit status for a process that exited too quickly
// (BACKOFF, then FATAL; getProcessInfo says 0): the page takes it from the main log's
// "exited: payments-sync (exit status 1; not expected)".
test('EXITED and FATAL rows show the exit status and the last start/stop times', async () => {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  const exited = await page.textContent('tr[data-ns="nightly-report"] td.desc');
  assert.match(exited, /exit status 3/);
  assert.match(exited, /started \S.*stopped \S/);
  const fatal = await page.textContent('tr[data-ns="payments-sync"] td.desc');
  assert.match(fatal, /Exited too quickly/);
  assert.match(fatal, /exit status 1 · started \S.*stopped \S/);
  assert.doesNotMatch(fatal, /exit status 0/);
  // The server-rendered page says the same.
  const html = await (await fetch(base, { headers: auth() })).text();
  assert.match(html, /data-ns="nightly-report"[^]*?exit status 3[^]*?<\/tr>/);
  assert.match(html, /data-ns="payments-sync"[^<]*<td[^]*?exit status 1 [^]*?<\/tr>/);
  await page.close();
});

test('name column first; problems sort to the top; columns stay put when filtering', async () => {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('#live.on', { timeout: 10000 });
  const heads = await page.$$eval('#statustable thead th', (ths) => ths.map((t) => t.textContent.trim()));
  // CPU, Memory and Restarts: the per-process stats columns (issue 13), shown when the
  // daemon has the stats methods (ours always has).
  assert.deepStrictEqual(heads, ['Name', 'State', 'Description', 'CPU', 'Memory', 'Restarts', 'Action']);
  assert.strictEqual(await page.$eval('#tbody tr td', (td) => td.className), 'name');
  const edges = () => page.$$eval('#statustable thead th', (ths) => ths.map((t) => Math.round(t.getBoundingClientRect().left)));
  const before = await edges();
  await page.fill('#search', 'redis');
  assert.strictEqual(await page.locator('#tbody tr').count(), 1);
  assert.deepStrictEqual(await edges(), before, 'the columns moved when filtering');
  await page.fill('#search', 'zzz-no-such');
  assert.deepStrictEqual(await edges(), before, 'the columns moved when nothing matched');
  await page.fill('#search', '');
  await page.selectOption('#sortorder', 'problems');
  const states = await page.$$eval('#tbody tr', (rows) => rows.map((r) => Number(r.dataset.state)));
  const problem = (s) => [200, 30, 1000, 100].includes(s);
  const firstOk = states.findIndex((s) => !problem(s));
  assert.ok(firstOk > 0, `no problem row first: ${states.join(',')}`);
  assert.ok(states.slice(firstOk).every((s) => !problem(s)), `a problem row below a healthy one: ${states.join(',')}`);
  // The choice is remembered.
  await page.reload();
  await page.waitForSelector('#live.on', { timeout: 10000 });
  assert.strictEqual(await page.inputValue('#sortorder'), 'problems');
  assert.ok(problem(await page.$eval('#tbody tr', (r) => Number(r.dataset.state))));
  await page.selectOption('#sortorder', 'name');
  assert.deepStrictEqual(pageErrors, []);
  await page.close();
});

test('following a flood keeps at most 4 Mi characters, whole lines, and pages back exactly', async () => {
  const page = await context.newPage();
  await page.goto(base + 'tail.html?processname=audit-export');
  await page.waitForSelector('#tailbody[data-loaded="1"]', { timeout: 10000 });
  fs.writeFileSync(path.join(dir, 'go'), '');
  const last = `audit ${String(FLOOD - 1).padStart(7, '0')} `;
  await page.waitForFunction((l) => document.getElementById('tailbody').textContent.slice(-200).includes(l), last, { timeout: 120000 });
  const check = (text) => {
    const lines = text.split('\n');
    assert.strictEqual(lines.pop(), '');
    const nums = lines.map((l, i) => {
      const m = FLOOD_RE.exec(l);
      assert.ok(m, `line ${i} of the view is cut or wrong: ${JSON.stringify(l.slice(0, 80))}`);
      return Number(m[1]);
    });
    nums.forEach((n, i) => { if (i) assert.strictEqual(n, nums[i - 1] + 1, `line after ${nums[i - 1]} is ${n}`); });
    assert.strictEqual(nums[nums.length - 1], FLOOD - 1);
    return nums;
  };
  const text = await page.textContent('#tailbody');
  assert.ok(text.length <= 4 * 1024 * 1024, `the view holds ${text.length} characters`);
  const nums = check(text);
  assert.ok(nums[0] > 0, 'nothing was dropped from the top');
  // Scrolling up reads the lines that were dropped, joined exactly.
  await page.evaluate(() => { const pre = document.getElementById('tailbody'); pre.scrollTop = 0; pre.dispatchEvent(new Event('scroll')); });
  await page.waitForFunction((n) => {
    const m = /audit (\d{7})/.exec(document.getElementById('tailbody').textContent);
    return m && Number(m[1]) < n;
  }, nums[0], { timeout: 10000 });
  check(await page.textContent('#tailbody'));
  assert.deepStrictEqual(pageErrors, []);
  await page.close();
});
