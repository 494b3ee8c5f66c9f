// End-to-end tests of the dashboard: a real `starling serve`, real edge
// clients over WebSockets and the Leptos dashboard in real Chromium, checked
// against the run's own metrics.jsonl.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  launchBrowser, screenshot, startEdgeClients, startServer, strictPage,
} from '../lib/harness.mjs';

const ROUNDS = 8;
const CLIENTS = 3;
// Rounds of the run that a dashboard joins mid-way, enough for the run to
// still be going when the page is up.
const LONG_ROUNDS = 20;

// The MLP with two local epochs, evaluated every second round so that the
// accuracy chart has fewer points than there are rounds.
function config(rounds = ROUNDS) {
  return `rounds = ${rounds}
fraction = 1.0
eval_every = 2
expected_clients = ${CLIENTS}
min_available_clients = ${CLIENTS}
wait_for_clients_secs = 120.0
[train]
model = "mlp"
local_epochs = 2
batch_size = 32
learning_rate = 0.05
`;
}

let browser;
const runsDir = mkdtempSync(join(tmpdir(), 'starling-dashboard-runs-'));
const finishedRuns = [];
before(async () => { browser = await launchBrowser(); });
after(async () => {
  await browser?.close();
  rmSync(runsDir, { recursive: true, force: true });
});

// Reads the value text of a headline figure.
const kpi = (page, id) => page.locator(`#${id} .kpi-value`).innerText();

// Waits for `fn(arg)` in the page, with the page's state in the error.
async function waitInPage(page, fn, arg = null, timeout = 90_000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (error) {
    const state = await page.evaluate(() => ({
      feed: document.querySelector('#feed-state')?.textContent,
      round: document.querySelector('#kpi-round .kpi-value')?.textContent,
      error: document.querySelector('#error')?.textContent,
    })).catch(() => null);
    throw new Error(`${error.message}\ndashboard: ${JSON.stringify(state)}`);
  }
}

// Checks the dashboard's charts and round table against metrics.jsonl.
async function checkAgainstMetrics(page, metrics) {
  const rows = await page.$$eval('#rounds tbody tr', (trs) => trs.map((tr) => ({
    round: Number(tr.dataset.round),
    up: Number(tr.dataset.bytesUp),
    down: Number(tr.dataset.bytesDown),
    upText: tr.querySelector('.bytes-up').textContent,
  })));
  const rounds = rows.map((row) => row.round).sort((a, b) => a - b);
  assert.deepEqual(rounds, metrics.map((m) => m.round), 'one table row per round, no gaps, no repeats');
  for (const m of metrics) {
    const row = rows.find((r) => r.round === m.round);
    assert.equal(row.up, m.bytes_up, `uplink bytes of round ${m.round}`);
    assert.equal(row.down, m.bytes_down, `downlink bytes of round ${m.round}`);
    assert.match(row.upText, /^\d+(\.\d+)? (B|KiB|MiB)$/);
  }
  const uplink = await page.$$eval('#chart-bytes-round g.series[data-series="uplink"] circle.point',
    (points) => points.map((p) => [Number(p.dataset.x), Number(p.dataset.y)]));
  assert.deepEqual(uplink, metrics.map((m) => [m.round, m.bytes_up]), 'bytes chart = server metrics');

  const evaluated = metrics.filter((m) => m.test_accuracy !== null);
  const accuracy = await page.$$eval('#chart-accuracy-round circle.point',
    (points) => points.map((p) => [Number(p.dataset.x), Number(p.dataset.y)]));
  assert.deepEqual(accuracy, evaluated.map((m) => [m.round, m.test_accuracy]),
    'one accuracy point per evaluated round');
  const byTime = await page.locator('#chart-accuracy-time circle.point').count();
  assert.equal(byTime, evaluated.length);
}

test('the dashboard follows a run live and matches the server metrics', async () => {
  const server = await startServer(config(), [], { runsDir });
  const page = await strictPage(browser);
  let edge;
  try {
    const response = await page.goto(`${server.url}dashboard`);
    assert.equal(new URL(response.url()).pathname, '/dashboard/', 'redirected into the folder');
    await waitInPage(page, () => document.querySelector('#feed-state')?.dataset.state === 'live');
    assert.equal(await kpi(page, 'kpi-round'), `0 / ${ROUNDS}`);
    assert.equal(await kpi(page, 'kpi-privacy'), 'off');
    assert.match(await page.locator('#privacy-status').innerText(), /differential privacy is off/);
    assert.match(await page.locator('#figure-privacy').innerHTML(), /differential privacy is off for this run/);

    // Record every value the round counter takes.
    await page.evaluate(() => {
      window.roundsSeen = [];
      const record = () => {
        const text = document.querySelector('#kpi-round .kpi-value')?.textContent;
        if (text && window.roundsSeen.at(-1) !== text) window.roundsSeen.push(text);
      };
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
      record();
    });
    edge = startEdgeClients(server, CLIENTS);
    await waitInPage(page, (n) => document.querySelectorAll('#clients tbody tr').length === n, CLIENTS);
    await waitInPage(page, (n) => document.querySelector('#kpi-round .kpi-value')?.textContent === `${n} / ${n}`, ROUNDS);
    await waitInPage(page, () => document.querySelector('#feed-state')?.dataset.state === 'ended');

    const seen = await page.evaluate(() => window.roundsSeen);
    const counts = seen.map((text) => Number(text.split(' / ')[0]));
    assert.ok(counts.length >= 3, `the counter advanced step by step: ${seen}`);
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), `never went back: ${seen}`);

    assert.equal(await edge.exited, 0);
    const metrics = server.metrics();
    assert.equal(metrics.length, ROUNDS);
    await checkAgainstMetrics(page, metrics);
    const last = metrics.at(-1);
    assert.equal(await kpi(page, 'kpi-accuracy'), `${(last.test_accuracy * 100).toFixed(2)}%`);
    assert.equal(await page.locator('#per-class tbody tr').count(), 10);
    assert.equal(await page.locator('#per-client tbody tr').count(), CLIENTS);
    const header = await page.locator('#run-header').innerText();
    assert.match(header, /fedavg/);
    assert.match(header, /mlp/);
    assert.match(header, /finished/);

    // The per-client table lists the worst-served client first, and a click
    // on the accuracy header reverses the order.
    const worstFirst = await page.$$eval('#per-client tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.accuracy)));
    assert.deepEqual(worstFirst, [...worstFirst].sort((a, b) => a - b));
    await page.click('#per-client button[data-column="accuracy"]');
    const bestFirst = await page.$$eval('#per-client tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.accuracy)));
    assert.deepEqual(bestFirst, [...worstFirst].reverse());

    await screenshot(page, 'dashboard-1280x800');
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page fits a phone-sized viewport (overflow ${overflow}px)`);
    await screenshot(page, 'dashboard-phone');
    assert.deepEqual(page.problems, []);
    finishedRuns.push(basename(server.runDir));
  } finally {
    edge?.stop();
    await page.context().close();
    await server.stop();
  }
});

test('a dashboard opened mid-run loads the history, then follows live without gaps', async () => {
  const rounds = LONG_ROUNDS;
  const server = await startServer(config(rounds), [], { runsDir });
  const edge = startEdgeClients(server, CLIENTS);
  const page = await strictPage(browser);
  // Record every value the round counter takes, from the first render on.
  await page.addInitScript(() => {
    window.roundsSeen = [];
    new MutationObserver(() => {
      const text = document.querySelector('#kpi-round .kpi-value')?.textContent;
      if (text && window.roundsSeen.at(-1) !== text) window.roundsSeen.push(text);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  try {
    await server.waitForLine(/round completed.*round=3 /);
    await page.goto(`${server.url}dashboard/`);
    await waitInPage(page, () => document.querySelector('#feed-state')?.dataset.state === 'ended', null, 120_000);
    assert.equal(await edge.exited, 0);
    await checkAgainstMetrics(page, server.metrics());
    const seen = await page.evaluate(() => window.roundsSeen);
    const counts = seen.map((text) => Number(text.split(' / ')[0]));
    assert.ok(counts.some((n) => n >= 3 && n < rounds), `history first, then live: ${seen}`);
    assert.equal(counts.at(-1), rounds);
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), `never went back: ${seen}`);
    assert.deepEqual(page.problems, []);
    finishedRuns.push(basename(server.runDir));
  } finally {
    edge.stop();
    await page.context().close();
    await server.stop();
  }
});

test('past runs open from the runs list and compare on the same axes', async () => {
  assert.equal(finishedRuns.length, 2, 'the two runs above finished');
  const [first, second] = finishedRuns;
  // A server whose own run waits for clients that never come.
  const server = await startServer(config(), [], { runsDir });
  const page = await strictPage(browser);
  try {
    await page.goto(`${server.url}dashboard/`);
    await waitInPage(page, () => document.querySelectorAll('#runs tbody tr').length === 3);
    assert.equal(await page.locator('#feed-state').innerText(), 'live');
    assert.equal(await kpi(page, 'kpi-round'), `0 / ${ROUNDS}`);

    await page.click(`#runs tr[data-run="${first}"] a:not(.compare)`);
    await page.waitForURL((url) => url.search === `?run=${first}`);
    await waitInPage(page, () => document.querySelector('#feed-state')?.dataset.state === 'history');
    assert.equal(await kpi(page, 'kpi-round'), `${ROUNDS} / ${ROUNDS}`);
    assert.match(await page.locator('#run-header').innerText(), new RegExp(first));

    await page.click(`#runs tr[data-run="${second}"] a.compare`);
    await waitInPage(page, (id) => document.querySelector(`#chart-accuracy-round g.series[data-series="${id}"]`) !== null, second);
    assert.equal(new URL(page.url()).search, `?run=${first}&compare=${second}`);
    const series = await page.$$eval('#chart-accuracy-round g.series', (gs) => gs.map((g) => g.dataset.series));
    assert.deepEqual(series, [first, second]);
    assert.equal(await page.locator(`#chart-accuracy-round g.series[data-series="${second}"] circle.point`).count(), LONG_ROUNDS / 2);
    await screenshot(page, 'dashboard-compare');
    assert.deepEqual(page.problems, []);
  } finally {
    await page.context().close();
    await server.stop();
  }
});
