// Browser tabs as federated clients, end to end: real Chromium, the real
// wasm client, a real `starling serve` on 127.0.0.1.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  STARLING_BIN, WEB_DIR, closedPort, collectLines, launchBrowser, screenshot, startServer,
  strictPage, waitForLine, waitForStatus,
} from '../lib/harness.mjs';

// Small rounds: the MLP, one epoch, batch 32. `top` contains top-level
// keys, `tables` whole TOML tables.
function config(top, tables = '') {
  return `fraction = 1.0
eval_every = 1
wait_for_clients_secs = 120.0
${top}
[train]
model = "mlp"
local_epochs = 1
batch_size = 32
learning_rate = 0.05
${tables}`;
}

// The browser reports a refused WebSocket as a console error.
const SOCKET_REFUSED = [/WebSocket connection to .* failed/];

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('four tabs train three rounds and the global accuracy rises', async () => {
  const server = await startServer(config(`
rounds = 3
expected_clients = 4
min_available_clients = 4
round_timeout_secs = 120.0
`));
  const pages = [];
  try {
    for (let i = 0; i < 4; i += 1) {
      const page = await strictPage(browser);
      await page.goto(server.url);
      pages.push(page);
    }
    await screenshot(pages[0], 'join-page-loading');
    const statuses = [];
    for (const page of pages) {
      statuses.push(await waitForStatus(page, () => window.starlingStatus?.state === 'finished'));
    }
    await screenshot(pages[0], 'join-page-finished');
    for (const status of statuses) {
      assert.equal(status.roundsCompleted, 3, JSON.stringify(status));
      assert.equal(status.backend, 'flex-cpu');
      assert.ok(status.examples > 0);
      assert.ok(status.bytesSent > 0);
      assert.ok(status.bytesReceived > 0);
      assert.ok(Number.isFinite(status.loss));
      assert.ok(status.loss > 0);
    }
    const ids = new Set(statuses.map((status) => status.clientId));
    assert.equal(ids.size, 4, 'every tab has its own client id');
    const shown = await pages[0].getByTestId('rounds-completed').textContent();
    assert.equal(shown, '3');

    const metrics = server.metrics();
    assert.deepEqual(metrics.map((row) => row.completed), [4, 4, 4]);
    const accuracy = metrics.map((row) => row.test_accuracy);
    assert.ok(accuracy[0] > 0.5, `round 1 accuracy ${accuracy[0]}`);
    assert.ok(accuracy[2] > accuracy[0], `accuracy ${accuracy.join(' -> ')}`);
    const joined = server.lines.filter((line) => /client registered/.test(line) && /platform="browser"/.test(line));
    assert.equal(joined.length, 4, joined.join('\n'));
    for (const page of pages) assert.deepEqual(page.problems, []);
  } finally {
    await Promise.all(pages.map((page) => page.context().close()));
    await server.stop();
  }
});

test('two tabs train SCAFFOLD rounds with control variates', async () => {
  const server = await startServer(config(`
rounds = 2
expected_clients = 2
min_available_clients = 2
round_timeout_secs = 120.0
strategy = "scaffold"
`));
  const pages = [];
  try {
    for (let i = 0; i < 2; i += 1) {
      const page = await strictPage(browser);
      await page.goto(server.url);
      pages.push(page);
    }
    for (const page of pages) {
      const status = await waitForStatus(page, () => window.starlingStatus?.state === 'finished');
      assert.equal(status.roundsCompleted, 2, JSON.stringify(status));
    }
    const metrics = server.metrics();
    assert.deepEqual(metrics.map((row) => row.completed), [2, 2]);
    assert.deepEqual(metrics.map((row) => row.rejected), [0, 0]);
    // The MLP has 199,210 parameters: an update plus its control delta is
    // at least two of them as f32 per client, so over 3 MiB for two tabs.
    for (const row of metrics) {
      assert.ok(row.bytes_up > 2 * 2 * 199210 * 4, `bytes up ${row.bytes_up}`);
      assert.ok(row.bytes_down > 2 * 2 * 199210 * 4, `bytes down ${row.bytes_down}`);
    }
    assert.ok(metrics[1].test_accuracy > 0.5, `accuracy ${metrics[1].test_accuracy}`);
    for (const page of pages) assert.deepEqual(page.problems, []);
  } finally {
    await Promise.all(pages.map((page) => page.context().close()));
    await server.stop();
  }
});

test('three tabs mask their updates with SecAgg and the server applies only the sum', async () => {
  const server = await startServer(config(`
rounds = 2
expected_clients = 3
min_available_clients = 3
round_timeout_secs = 120.0
secure_aggregation = "secagg"
`));
  const pages = [];
  try {
    for (let i = 0; i < 3; i += 1) {
      const page = await strictPage(browser);
      await page.goto(server.url);
      pages.push(page);
    }
    for (const page of pages) {
      const status = await waitForStatus(page, () => window.starlingStatus?.state === 'finished');
      assert.equal(status.roundsCompleted, 2, JSON.stringify(status));
    }
    const metrics = server.metrics();
    assert.deepEqual(metrics.map((row) => row.completed), [3, 3]);
    assert.deepEqual(metrics.map((row) => row.rejected), [0, 0]);
    for (const row of metrics) {
      const secure = row.secure_aggregation;
      assert.equal(secure.protocol, 'secagg');
      assert.equal(secure.survivors, 3);
      assert.equal(secure.aborted, false);
      assert.ok(secure.protocol_bytes > 0, JSON.stringify(secure));
      // 199,210 values, a weight and a count in a 48-bit ring: 6 bytes
      // each, from three tabs.
      assert.ok(secure.masked_bytes > 3 * 199212 * 6, JSON.stringify(secure));
    }
    assert.ok(metrics[1].test_accuracy > 0.5, `accuracy ${metrics[1].test_accuracy}`);
    for (const page of pages) assert.deepEqual(page.problems, []);
  } finally {
    await Promise.all(pages.map((page) => page.context().close()));
    await server.stop();
  }
});

test('a tab closed mid-round is dropped at the deadline and the round completes', async () => {
  const server = await startServer(config(`
rounds = 2
expected_clients = 3
min_available_clients = 2
lobby_secs = 60.0
round_timeout_secs = 8.0
`));
  const pages = [];
  try {
    for (const query of ['', '', '?hold_ms=600000']) {
      const page = await strictPage(browser);
      await page.goto(server.url + query);
      pages.push(page);
    }
    const slow = pages[2];
    // The slow tab has trained round 1 and keeps its update back.
    const held = await waitForStatus(slow, () => window.starlingStatus?.state === 'uploading'
      && window.starlingStatus?.round === 1);
    await slow.context().close();

    for (const page of pages.slice(0, 2)) {
      const status = await waitForStatus(page, () => window.starlingStatus?.state === 'finished');
      assert.equal(status.roundsCompleted, 2);
    }
    const metrics = server.metrics();
    assert.equal(metrics[0].sampled, 3);
    assert.equal(metrics[0].completed, 2);
    assert.equal(metrics[0].dropped, 1);
    assert.ok(metrics[0].duration_s >= 7, `round 1 closed after ${metrics[0].duration_s} s, before its deadline`);
    assert.equal(metrics[1].completed, 2);
    const dropLine = server.lines.find((line) => /closed without updates/.test(line));
    assert.ok(dropLine?.includes(held.clientId), dropLine);
    for (const page of pages.slice(0, 2)) assert.deepEqual(page.problems, []);
  } finally {
    await Promise.all(pages.slice(0, 2).map((page) => page.context().close()));
    await server.stop();
  }
});

test('a reloaded tab rejoins the next round', async () => {
  const server = await startServer(config(`
rounds = 4
expected_clients = 2
min_available_clients = 2
round_timeout_secs = 60.0
`));
  const pages = [];
  try {
    for (let i = 0; i < 2; i += 1) {
      const page = await strictPage(browser);
      // A short hold spaces the rounds out so the reload lands mid-run.
      await page.goto(`${server.url}?hold_ms=700`);
      pages.push(page);
    }
    const [steady, reloaded] = pages;
    const before = await waitForStatus(reloaded, () => window.starlingStatus?.roundsCompleted >= 1);
    await reloaded.reload();
    const after = await waitForStatus(reloaded, (round) => window.starlingStatus?.roundsCompleted >= 1
      && window.starlingStatus?.round > round, before.round);
    assert.equal(after.clientId, before.clientId, 'the tab keeps its client id across the reload');
    await waitForStatus(steady, () => window.starlingStatus?.state === 'finished');
    await waitForStatus(reloaded, () => window.starlingStatus?.state === 'finished');
    const metrics = server.metrics();
    assert.equal(metrics.length, 4);
    const last = metrics[metrics.length - 1];
    assert.equal(last.completed, 2, JSON.stringify(metrics));
    const registrations = server.lines.filter((line) => /client registered/.test(line)
      && line.includes(before.clientId));
    assert.ok(registrations.length >= 2, registrations.join('\n'));
    for (const page of pages) assert.deepEqual(page.problems, []);
  } finally {
    await Promise.all(pages.map((page) => page.context().close()));
    await server.stop();
  }
});

test('a tab that loses the server reconnects and rejoins under its id', async () => {
  // The first server waits for a second client that never comes.
  const first = await startServer(config(`
rounds = 1
expected_clients = 2
min_available_clients = 2
`));
  const port = new URL(first.url).port;
  const page = await strictPage(browser, { allow: SOCKET_REFUSED });
  let second;
  try {
    await page.goto(first.url);
    const joined = await waitForStatus(page, () => window.starlingStatus?.state === 'waiting');
    await first.kill();
    const lost = await waitForStatus(page, () => window.starlingStatus?.state === 'reconnecting');
    assert.match(lost.message, /Lost the connection|Cannot reach the server/);

    second = await startServer(config(`
rounds = 1
expected_clients = 1
round_timeout_secs = 60.0
`), ['--bind', `127.0.0.1:${port}`]);
    const done = await waitForStatus(page, () => window.starlingStatus?.state === 'finished');
    assert.equal(done.clientId, joined.clientId);
    assert.equal(done.roundsCompleted, 1);
    assert.notEqual(done.runId, joined.runId, 'the tab joined the new run');
    const registered = second.lines.find((line) => /client registered/.test(line));
    assert.ok(registered?.includes(joined.clientId), registered);
    assert.deepEqual(page.problems, []);
  } finally {
    await page.context().close();
    await first.stop();
    await second?.stop();
  }
});

test('the page says clearly when the server is unreachable or rejects the client', async () => {
  const server = await startServer(config(`
rounds = 1
expected_clients = 1
round_timeout_secs = 60.0
`));
  const pages = [];
  try {
    const port = await closedPort();
    const unreachable = await strictPage(browser, { allow: SOCKET_REFUSED });
    pages.push(unreachable);
    await unreachable.goto(`${server.url}?server=ws://127.0.0.1:${port}/ws`);
    const down = await waitForStatus(unreachable, () => window.starlingStatus?.state === 'reconnecting');
    assert.match(down.message, new RegExp(`Cannot reach the server at ws://127\\.0\\.0\\.1:${port}/ws`));
    assert.match(await unreachable.getByTestId('message').textContent(), /Retrying in \d/);
    await screenshot(unreachable, 'join-page-unreachable');
    // It keeps retrying with a growing delay.
    await waitForStatus(unreachable, () => window.starlingStatus?.retryAttempt >= 2);

    const invalid = await strictPage(browser);
    pages.push(invalid);
    await invalid.goto(`${server.url}?server=${encodeURIComponent('ws://[::1')}&hold_ms=-5&backend=gpu`);
    const broken = await waitForStatus(invalid, () => window.starlingStatus?.state === 'failed');
    assert.match(broken.message, /^The server URL ws:\/\/\[::1 is invalid: /);
    assert.doesNotMatch(broken.message, /JsValue|\n/);
    assert.match(await invalid.getByTestId('message').textContent(), /is invalid/);
    const { warnings } = await invalid.evaluate(() => window.starlingBackendChoice);
    assert.equal(warnings.length, 2, warnings.join(' | '));
    assert.match(warnings[0], /Unknown backend=gpu; use auto, cpu or webgpu/);
    assert.match(warnings[1], /hold_ms=-5 is not a whole number of milliseconds/);

    const rejected = await strictPage(browser);
    pages.push(rejected);
    await rejected.goto(`${server.url}?client=${'x'.repeat(65)}`);
    const refused = await waitForStatus(rejected, () => window.starlingStatus?.state === 'rejected');
    assert.match(refused.message, /The server rejected this client: client id must be 1 to 64 characters, got 65/);
    assert.equal(await rejected.getByTestId('state').textContent(), 'Rejected by the server');
    await screenshot(rejected, 'join-page-rejected');
    // No client joined, so the run is still waiting: the runs API reports
    // it as running.
    const runs = await (await fetch(`${server.url}api/runs`)).json();
    assert.equal(runs[0].run_id, basename(server.runDir));
    assert.equal(runs[0].status, 'running');
    for (const page of pages) assert.deepEqual(page.problems, []);
  } finally {
    await Promise.all(pages.map((page) => page.context().close()));
    await server.stop();
  }
});

test('without WebGPU the CPU backend is chosen and reported', async () => {
  const server = await startServer(config(`
rounds = 1
expected_clients = 1
round_timeout_secs = 60.0
`, `
[data]
partitions = 40
`));
  const page = await strictPage(browser);
  try {
    await page.goto(server.url);
    const status = await waitForStatus(page, () => window.starlingStatus?.state === 'finished');
    assert.equal(status.backend, 'flex-cpu');
    assert.equal(status.device, 'cpu');
    const choice = await page.evaluate(() => window.starlingBackendChoice);
    assert.equal(choice.backend, 'cpu');
    assert.match(choice.note, /Training on the CPU/);
    const registered = server.lines.find((line) => /client registered/.test(line));
    assert.match(registered, /backend="flex-cpu"/);
    assert.deepEqual(page.problems, []);
  } finally {
    await page.context().close();
    await server.stop();
  }
});

test('a tab opened at the demo URL trains next to the edge clients, shown on the dashboard', async () => {
  const runs = mkdtempSync(join(tmpdir(), 'starling-demo-'));
  const demo = spawn(STARLING_BIN, ['demo', '--bind', '127.0.0.1:0', '--edge-clients', '2',
    '--rounds', '2', '--local-epochs', '1', '--web-dir', WEB_DIR, '--runs-dir', runs],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  collectLines(demo.stdout, lines);
  const exited = new Promise((resolve) => { demo.on('exit', resolve); });
  const page = await strictPage(browser);
  const dashboard = await strictPage(browser);
  try {
    const join = await waitForLine(lines, /join: +http:\/\/127\.0\.0\.1:\d+\//);
    const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(join)[0];
    const dashboardLine = await waitForLine(lines, /dashboard: +http:\/\/127\.0\.0\.1:\d+\/dashboard\//);
    await dashboard.goto(/http:\S+/.exec(dashboardLine)[0]);
    await dashboard.waitForFunction(() => document.querySelector('#feed-state')?.dataset.state === 'live');
    await page.goto(url);
    // The dashboard lists the tab next to the edge clients.
    await dashboard.waitForFunction(() => [...document.querySelectorAll('#clients tbody tr td:nth-child(3)')]
      .some((td) => td.textContent === 'browser'));
    const status = await waitForStatus(page, () => window.starlingStatus?.state === 'finished');
    await dashboard.waitForFunction(() => document.querySelector('#feed-state')?.dataset.state === 'ended');
    assert.equal(await dashboard.locator('#kpi-round .kpi-value').innerText(), '2 / 2');
    assert.equal(status.roundsCompleted, 2);
    await waitForLine(lines, new RegExp(`browser client joined: ${status.clientId} \\(backend flex-cpu, device cpu\\)`));
    const rounds = lines.filter((line) => /^round +\d/.test(line));
    assert.equal(rounds.length, 2, rounds.join('\n'));
    for (const line of rounds) assert.match(line, /clients 3\/3/);
    assert.equal(await exited, 0);
    assert.deepEqual(page.problems, []);
    assert.deepEqual(dashboard.problems, []);
  } finally {
    await page.context().close();
    await dashboard.context().close();
    if (demo.exitCode === null) demo.kill('SIGKILL');
    rmSync(runs, { recursive: true, force: true });
  }
});
