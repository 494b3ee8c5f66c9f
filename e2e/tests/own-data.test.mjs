// A tab trains on the user's own files (an IDX pair, or digit images) in
// place of the server's partition.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { launchBrowser, startServer, strictPage, waitForStatus } from '../lib/harness.mjs';

const SIDE = 28;

// An IDX image file and label file of `count` striped 28x28 images.
function idxPair(count) {
  const images = Buffer.alloc(16 + count * SIDE * SIDE);
  images.writeUInt32BE(0x803, 0);
  images.writeUInt32BE(count, 4);
  images.writeUInt32BE(SIDE, 8);
  images.writeUInt32BE(SIDE, 12);
  const labels = Buffer.alloc(8 + count);
  labels.writeUInt32BE(0x801, 0);
  labels.writeUInt32BE(count, 4);
  for (let i = 0; i < count; i += 1) {
    const label = i % 10;
    labels[8 + i] = label;
    for (let p = 0; p < SIDE * SIDE; p += 1) {
      images[16 + i * SIDE * SIDE + p] = (p % SIDE) % 10 === label ? 255 : 0;
    }
  }
  return { images, labels };
}

// Draws each digit on a white 28x28 canvas in the page and returns PNGs.
async function digitPngs(page, count) {
  const encoded = await page.evaluate(async (total) => {
    const out = [];
    for (let i = 0; i < total; i += 1) {
      const canvas = new OffscreenCanvas(28, 28);
      const context = canvas.getContext('2d');
      context.fillStyle = 'white';
      context.fillRect(0, 0, 28, 28);
      context.fillStyle = 'black';
      context.font = '22px sans-serif';
      context.fillText(String(i % 10), 8, 22);
      const blob = await canvas.convertToBlob({ type: 'image/png' });
      const bytes = new Uint8Array(await blob.arrayBuffer());
      out.push(btoa(String.fromCharCode(...bytes)));
    }
    return out;
  }, count);
  return encoded.map((base64, i) => ({
    name: `${i % 10}_drawn${i}.png`,
    mimeType: 'image/png',
    buffer: Buffer.from(base64, 'base64'),
  }));
}

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('tabs train on an IDX pair and on digit images of their own', async () => {
  // Round 1 needs three clients: the two tabs with their own files, then a
  // third on the server's partition, opened once the first two switched.
  const server = await startServer(`
rounds = 1
expected_clients = 3
min_available_clients = 3
round_timeout_secs = 60.0
[train]
model = "mlp"
local_epochs = 1
batch_size = 8
`);
  const pages = [];
  try {
    const idx = await strictPage(browser);
    const images = await strictPage(browser);
    const assigned = await strictPage(browser);
    pages.push(idx, images, assigned);
    for (const page of [idx, images]) {
      await page.goto(server.url);
      await waitForStatus(page, () => window.starlingStatus?.state === 'waiting');
    }

    const pair = idxPair(64);
    await idx.locator('#file-input').setInputFiles([
      { name: 'mine-images-idx3-ubyte.gz', mimeType: 'application/gzip', buffer: gzipSync(pair.images) },
      { name: 'mine-labels-idx1-ubyte', mimeType: 'application/octet-stream', buffer: pair.labels },
    ]);
    await waitForStatus(idx, () => window.starlingStatus?.state === 'waiting'
      && window.starlingStatus?.examples === 64);
    assert.match(await idx.getByTestId('data-note').textContent(), /Training on mine-images-idx3-ubyte\.gz and mine-labels-idx1-ubyte/);

    const pngs = await digitPngs(images, 20);
    pngs.push({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
    pngs.push({ name: '3_fake.png', mimeType: 'image/png', buffer: Buffer.from('not a PNG either') });
    await images.locator('#file-input').setInputFiles(pngs);
    await waitForStatus(images, () => window.starlingStatus?.state === 'waiting'
      && window.starlingStatus?.examples === 20);
    const note = await images.getByTestId('data-note').textContent();
    assert.match(note, /Training on 20 of your images/);
    assert.match(note, /2 files skipped/);

    await assigned.goto(server.url);
    const fromIdx = await waitForStatus(idx, () => window.starlingStatus?.state === 'finished');
    const fromImages = await waitForStatus(images, () => window.starlingStatus?.state === 'finished');
    const fromServer = await waitForStatus(assigned, () => window.starlingStatus?.state === 'finished');
    assert.equal(fromIdx.roundsCompleted, 1);
    assert.equal(fromImages.roundsCompleted, 1);
    assert.ok(fromImages.accuracy >= 0);
    assert.ok(fromImages.accuracy <= 1);
    const [round] = server.metrics();
    assert.equal(round.completed, 3);
    assert.equal(round.examples, 64 + 20 + fromServer.examples,
      'the round weighs the tabs by their own example counts');
    for (const page of pages) assert.deepEqual(page.problems, []);
  } finally {
    await Promise.all(pages.map((page) => page.context().close()));
    await server.stop();
  }
});

test('files that do not fit the model are named on the page', async () => {
  const server = await startServer(`
rounds = 1
expected_clients = 2
min_available_clients = 2
`);
  const page = await strictPage(browser);
  try {
    await page.goto(server.url);
    await waitForStatus(page, () => window.starlingStatus?.state === 'waiting');
    const small = idxPair(4);
    small.images.writeUInt32BE(14, 8);
    await page.locator('#file-input').setInputFiles([
      { name: 'small-images-idx3-ubyte', mimeType: 'application/octet-stream', buffer: small.images.subarray(0, 16 + 4 * 14 * SIDE) },
      { name: 'small-labels-idx1-ubyte', mimeType: 'application/octet-stream', buffer: small.labels },
    ]);
    await page.waitForFunction(() => /Still training on the previous data/.test(document.getElementById('data-note').textContent));
    assert.equal(
      await page.getByTestId('data-note').textContent(),
      'Your data cannot be used: images are 14x28 pixels but the model takes 28x28. Still training on the previous data.',
    );
    // The tab is back on the server's partition, waiting for a round.
    const status = await waitForStatus(page, () => window.starlingStatus?.state === 'waiting');
    assert.ok(status.examples > 0);
    assert.deepEqual(page.problems, []);
  } finally {
    await page.context().close();
    await server.stop();
  }
});
