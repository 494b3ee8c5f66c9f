// The WebGPU path: runs wherever Chromium offers a WebGPU adapter (with
// --enable-unsafe-webgpu headless Chromium offers SwiftShader, a CPU
// emulation of a GPU) and is skipped, saying why, where it offers none.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launchBrowser, startServer, strictPage, waitForStatus } from '../lib/harness.mjs';

const CONFIG = `
rounds = 1
expected_clients = 1
round_timeout_secs = 300.0
eval_every = 1
[train]
model = "mlp"
local_epochs = 1
batch_size = 32
learning_rate = 0.05
[data]
partitions = 40
`;

let browser;
before(async () => { browser = await launchBrowser({ webgpu: true }); });
after(async () => { await browser?.close(); });

// What the page's own probe found.
async function probeOf(page) {
  await page.waitForFunction(() => window.starlingBackendChoice, null, { timeout: 30_000 });
  return page.evaluate(() => window.starlingBackendChoice.probe);
}

test('a fallback adapter is not picked automatically', async (t) => {
  const server = await startServer(CONFIG);
  const page = await strictPage(browser);
  try {
    await page.goto(server.url);
    const probe = await probeOf(page);
    if (!probe.adapter) return t.skip(`no WebGPU adapter here: ${probe.reason}`);
    if (!probe.fallback) return t.skip(`the adapter (${probe.description}) is a real GPU, so auto picks it`);
    const status = await waitForStatus(page, () => window.starlingStatus?.state === 'finished');
    assert.equal(status.backend, 'flex-cpu');
    const choice = await page.evaluate(() => window.starlingBackendChoice);
    assert.match(choice.note, /software fallback/);
    assert.deepEqual(page.problems, []);
  } finally {
    await page.context().close();
    await server.stop();
  }
});

test('training on WebGPU produces an update the server accepts', async (t) => {
  const server = await startServer(CONFIG);
  const page = await strictPage(browser);
  try {
    await page.goto(`${server.url}?backend=webgpu`);
    const probe = await probeOf(page);
    if (!probe.adapter) return t.skip(`no WebGPU adapter here: ${probe.reason}`);
    const status = await waitForStatus(page, () => window.starlingStatus?.state === 'finished',
      null, 240_000);
    assert.equal(status.backend, 'wgpu-webgpu', JSON.stringify(status));
    assert.equal(status.roundsCompleted, 1);
    assert.ok(Number.isFinite(status.loss));
    assert.ok(status.loss > 0);
    const registered = server.lines.find((line) => /client registered/.test(line));
    assert.match(registered, /backend="wgpu-webgpu"/);
    const [round] = server.metrics();
    assert.equal(round.completed, 1);
    assert.ok(round.test_accuracy > 0.2, `accuracy after one WebGPU round: ${round.test_accuracy}`);
    assert.deepEqual(page.problems, []);
  } finally {
    await page.context().close();
    await server.stop();
  }
});
