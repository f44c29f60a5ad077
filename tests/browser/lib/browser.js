'use strict';
// Shared helpers for the browser tests: launch Debian's chromium through playwright-core
// (never a downloaded browser), start/stop servers by pid, bounded waits, free ports.
const { chromium } = require('playwright-core');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function launch() {
  // playwright-core refuses --user-data-dir with launch(); it gives every launch a fresh
  // temporary profile of its own, removed on close, which is what we want.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    timeout: 30000,
  });
  const close = async () => {
    await browser.close().catch(() => {});
  };
  return { browser, close };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Start a child; resolve when `ready(stdoutSoFar)` is true (bounded by timeoutMs).
function startProcess(cmd, args, { ready, timeoutMs = 20000, cwd = ROOT, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env || process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      stopProcess(child);
      reject(new Error(`${cmd} not ready after ${timeoutMs} ms; output:\n${out}`));
    }, timeoutMs);
    const check = (d) => {
      out += d.toString();
      if (!done && ready(out)) {
        done = true;
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', (d) => { out += d.toString(); });
    child.on('exit', (code) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(new Error(`${cmd} exited (${code}) before ready; output:\n${out}`));
      }
    });
  });
}

// Stop a child by its pid: SIGTERM, then SIGKILL after a bounded wait.
function stopProcess(child, timeoutMs = 10000) {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch (e) { /* gone */ } }, timeoutMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    try { process.kill(child.pid, 'SIGTERM'); } catch (e) { clearTimeout(timer); resolve(); }
  });
}

function basicAuth(user, password) {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

module.exports = { ROOT, launch, freePort, startProcess, stopProcess, basicAuth };
