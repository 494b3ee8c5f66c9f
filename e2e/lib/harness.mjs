// Test harness: starts a real `starling serve` on 127.0.0.1 and a headless
// Chromium, and checks every page strictly (no page errors, no failed
// requests, no traffic to any host but the loopback interface).

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = process.env;
export const STARLING_BIN = env.STARLING_BIN ?? '../target/debug/starling';
export const WEB_DIR = env.STARLING_WEB_DIR ?? '../target/web/client';
export const CHROMIUM = env.STARLING_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = env.STARLING_E2E_ARTIFACTS ?? '../target/e2e-artifacts';

mkdirSync(ARTIFACTS, { recursive: true });

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// Appends each complete line of `stream` to `lines`, keeping a line that
// arrives in two chunks whole.
export function collectLines(stream, lines) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop();
    lines.push(...parts);
  });
}

// Waits until a line of `lines` matches `pattern` and returns it.
export async function waitForLine(lines, pattern, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = lines.find((text) => pattern.test(text));
    if (line) return line;
    await sleep(50);
  }
  throw new Error(`the process never printed ${pattern}; output:\n${lines.join('\n')}`);
}

// Starts `starling serve` with a TOML config and extra flags (`--bind`
// among them replaces the ephemeral port); resolves once it prints its
// address. Runs go to a fresh folder unless `runsDir` names one.
export async function startServer(toml, flags = [], { runsDir } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'starling-e2e-'));
  const configPath = join(dir, 'run.toml');
  writeFileSync(configPath, toml);
  const bind = flags.includes('--bind') ? [] : ['--bind', '127.0.0.1:0'];
  const args = ['serve', ...bind, '--web-dir', WEB_DIR,
    '--config', configPath, '--runs-dir', runsDir ?? join(dir, 'runs'), ...flags];
  const child = spawn(STARLING_BIN, args, {
    env: { ...env, RUST_LOG: 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  collectLines(child.stdout, lines);
  collectLines(child.stderr, lines);
  const exited = new Promise((resolve) => { child.on('exit', (code, signal) => resolve({ code, signal })); });

  const server = {
    lines,
    exited,
    waitForLine(pattern, timeoutMs = 60_000) {
      return waitForLine(lines, pattern, timeoutMs);
    },
    metrics() {
      const text = readFileSync(join(server.runDir, 'metrics.jsonl'), 'utf8');
      return text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
    },
    // Ends the process at once, as a crash or a network cut would.
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timeout = sleep(15_000).then(() => 'timeout');
      if (await Promise.race([exited, timeout]) === 'timeout') child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const listening = await server.waitForLine(/listening on http:\/\/127\.0\.0\.1:\d+\//);
  const port = /127\.0\.0\.1:(\d+)/.exec(listening)[1];
  server.url = `http://127.0.0.1:${port}/`;
  server.ws = `ws://127.0.0.1:${port}/ws`;
  const writes = await server.waitForLine(/^run \S+ writes to /);
  server.runDir = writes.replace(/^run \S+ writes to /, '').trim();
  return server;
}

// A closed port on the loopback interface: bind, read the port, close.
export async function closedPort() {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

export async function launchBrowser({ webgpu = false } = {}) {
  const args = ['--headless=new', '--no-sandbox', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-quic', '--disable-dev-shm-usage'];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  return chromium.launch({ executablePath: CHROMIUM, args, headless: true });
}

// Opens a page that records everything a strict test refuses. `allow` lists
// patterns of console errors the test expects.
export async function strictPage(browser, { allow = [] } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (!allow.some((pattern) => pattern.test(text))) problems.push(`console error: ${text}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
  });
  page.on('request', (request) => {
    const url = new URL(request.url());
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (!local && !['data:', 'blob:'].includes(url.protocol)) problems.push(`non-loopback request: ${request.url()}`);
  });
  page.problems = problems;
  return page;
}

// Waits until `predicate(arg)`, run in the page, is true (it reads
// `window.starlingStatus`) and returns the client's status.
export async function waitForStatus(page, predicate, arg = null, timeoutMs = 90_000) {
  try {
    await page.waitForFunction(predicate, arg, { timeout: timeoutMs, polling: 100 });
  } catch (error) {
    const status = await page.evaluate(() => window.starlingStatus ?? null).catch(() => null);
    throw new Error(`${error.message}\nlast status: ${JSON.stringify(status)}`);
  }
  return page.evaluate(() => window.starlingStatus);
}

// Starts `starling edge` with `clients` clients against `server`; the
// process ends when the run does.
export function startEdgeClients(server, clients, prefix = 'edge') {
  const child = spawn(STARLING_BIN, ['edge', '--server', server.ws, '--clients', String(clients),
    '--id-prefix', prefix], { env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  collectLines(child.stdout, lines);
  collectLines(child.stderr, lines);
  const exited = new Promise((resolve) => { child.on('exit', (code) => resolve(code)); });
  return {
    lines,
    exited,
    stop() { if (child.exitCode === null) child.kill('SIGKILL'); },
  };
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
