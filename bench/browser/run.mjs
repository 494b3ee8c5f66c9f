// Browser training benchmark: Starling's WebAssembly client against
// TensorFlow.js (cpu and wasm backends, optionally webgpu) in one headless
// Chromium, on the same MLP and the same number of MNIST digits.
//
// Usage: node run.mjs [--examples N] [--epochs E] [--webgpu] [--cross-origin-isolation] [--tfjs-only]
// Prints a Markdown table and writes target/bench/browser.json.

import { createServer } from 'node:http';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const WEB_DIR = resolve(process.env.STARLING_WEB_DIR ?? join(ROOT, 'target', 'web', 'client'));
const CHROMIUM = process.env.STARLING_CHROMIUM ?? '/usr/bin/chromium';
const MNIST_DIR = join(ROOT, 'data', 'mnist-10k');
const RESULTS_PATH = join(ROOT, 'target', 'bench', 'browser.json');
const MODULES = join(HERE, 'node_modules', '@tensorflow');

const BATCH_SIZE = 32;
const IMAGE_SIZE = 28 * 28;
// bench_train draws its examples from the 8,000 training digits of
// starling_data::embedded_split, so larger requests would train on fewer.
const MAX_EXAMPLES = 8000;
// Seed of the permutation that picks the TF.js digits.
const SAMPLE_SEED = 1;
// bench_train trains on ComputeDevice::cpu(), burn's Flex backend compiled to
// wasm32, single-threaded.
const STARLING_BACKEND = 'wasm (burn Flex, CPU)';

const USAGE = `usage: node run.mjs [options]

  --examples N              training examples per epoch, 1 to ${MAX_EXAMPLES} (default 2000)
  --epochs E                timed epochs after one untimed warm-up epoch (default 3)
  --webgpu                  also measure TF.js on WebGPU, when Chromium finds an adapter
  --cross-origin-isolation  serve COOP/COEP headers so TF.js wasm may use threads
  --tfjs-only               skip Starling, for when target/web/client/pkg is not built
  --help                    print this text

environment: STARLING_WEB_DIR (default target/web/client), STARLING_CHROMIUM (default /usr/bin/chromium)`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      examples: { type: 'string', default: '2000' },
      epochs: { type: 'string', default: '3' },
      webgpu: { type: 'boolean', default: false },
      'cross-origin-isolation': { type: 'boolean', default: false },
      'tfjs-only': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const integer = (name, min, max) => {
    const text = values[name];
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      throw new Error(`--${name} ${text} is invalid: expected an integer from ${min} to ${max}`);
    }
    return value;
  };
  return {
    examples: integer('examples', 1, MAX_EXAMPLES),
    epochs: integer('epochs', 1, 1000),
    webgpu: values.webgpu,
    crossOriginIsolation: values['cross-origin-isolation'],
    tfjsOnly: values['tfjs-only'],
  };
}

// Reads a gzipped IDX file, checks its magic number and data length, and
// returns the dimensions and the data bytes after the header.
function readIdx(path, magic, dimensions) {
  const bytes = gunzipSync(readFileSync(path));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = view.getUint32(0);
  if (found !== magic) throw new Error(`${path}: IDX magic is ${found}, expected ${magic}`);
  const sizes = Array.from({ length: dimensions }, (_, i) => view.getUint32(4 + 4 * i));
  const data = bytes.subarray(4 + 4 * dimensions);
  const expected = sizes.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new Error(`${path}: ${data.length} data bytes, but dimensions ${sizes.join('x')} need ${expected}`);
  }
  return { sizes, data };
}

// Seeded xorshift32 in [0, 1).
function makeRandom(seed) {
  let state = (seed >>> 0) || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
}

// Picks `count` digits for TF.js. The IDX files are ordered by label (all
// 0s, then all 1s, ...), so their first 2000 digits are all 0s and 1s.
// A seeded permutation gives every class its usual share instead, like the
// stratified training split that Starling's bench_train draws from.
function loadDigits(count) {
  const images = readIdx(join(MNIST_DIR, 'images-idx3-ubyte.gz'), 2051, 3);
  const labels = readIdx(join(MNIST_DIR, 'labels-idx1-ubyte.gz'), 2049, 1);
  const [total, rows, cols] = images.sizes;
  if (rows * cols !== IMAGE_SIZE) throw new Error(`MNIST images are ${rows}x${cols}, expected 28x28`);
  if (labels.sizes[0] !== total) throw new Error(`MNIST count mismatch: ${total} images but ${labels.sizes[0]} labels`);

  const order = Array.from({ length: total }, (_, i) => i);
  const random = makeRandom(SAMPLE_SEED);
  for (let i = total - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const pixels = new Uint8Array(count * IMAGE_SIZE);
  const chosenLabels = new Uint8Array(count);
  const histogram = new Array(10).fill(0);
  for (let i = 0; i < count; i += 1) {
    const index = order[i];
    pixels.set(images.data.subarray(index * IMAGE_SIZE, (index + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    chosenLabels[i] = labels.data[index];
    histogram[labels.data[index]] += 1;
  }
  return { pixels, labels: chosenLabels, histogram };
}

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.u8': 'application/octet-stream',
};

// Maps a request path to a file on disk, or returns null for any path
// outside the fixed set below.
function resolveFile(path) {
  if (path === '/' || path === '/bench.html') return join(HERE, 'bench.html');
  const tfjsFiles = {
    '/tfjs/tf.min.js': join(MODULES, 'tfjs', 'dist', 'tf.min.js'),
    '/tfjs/tf-backend-wasm.min.js': join(MODULES, 'tfjs-backend-wasm', 'dist', 'tf-backend-wasm.min.js'),
    '/tfjs/tf-backend-webgpu.min.js': join(MODULES, 'tfjs-backend-webgpu', 'dist', 'tf-backend-webgpu.min.js'),
  };
  if (path in tfjsFiles) return tfjsFiles[path];
  const tfjsWasm = /^\/tfjs\/(tfjs-backend-wasm[\w-]*\.wasm)$/.exec(path);
  if (tfjsWasm) return join(MODULES, 'tfjs-backend-wasm', 'dist', tfjsWasm[1]);
  const pkg = /^\/pkg\/([\w-]+\.(?:js|wasm))$/.exec(path);
  if (pkg) return join(WEB_DIR, 'pkg', pkg[1]);
  return null;
}

// Starts a static server on 127.0.0.1 with an ephemeral port. It serves the
// digits from memory as /data/images.u8 and /data/labels.u8.
async function startServer(digits, crossOriginIsolation) {
  const memory = { '/data/images.u8': digits.pixels, '/data/labels.u8': digits.labels };
  const server = createServer((request, response) => {
    const path = new URL(request.url, 'http://127.0.0.1').pathname;
    const headers = { 'Cache-Control': 'no-store' };
    if (crossOriginIsolation) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    let body = memory[path];
    if (body === undefined) {
      const file = resolveFile(path);
      try {
        body = file === null ? undefined : readFileSync(file);
      } catch (error) {
        if (error.code !== 'ENOENT') {
          console.error(`failed to read ${file} for GET ${path}: ${error.message}`);
          response.writeHead(500, { ...headers, 'Content-Type': 'text/plain' });
          response.end(`GET ${path}: failed to read the file\n`);
          return;
        }
      }
    }
    if (request.method !== 'GET' || body === undefined) {
      response.writeHead(request.method === 'GET' ? 404 : 405, { ...headers, 'Content-Type': 'text/plain' });
      response.end(`${request.method} ${path}: not found\n`);
      return;
    }
    headers['Content-Type'] = CONTENT_TYPES[extname(path) || '.html'] ?? 'application/octet-stream';
    response.writeHead(200, headers);
    response.end(body);
  });
  await new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

// Opens bench.html in a fresh page, runs `task` in it and returns the
// result. Page errors, console errors, failed requests and HTTP errors are
// appended to `errors`, and requests to any host but the server are aborted.
async function inFreshPage(context, baseUrl, label, errors, task) {
  const page = await context.newPage();
  const origin = new URL(baseUrl).origin;
  const record = (message) => errors.push(`${label}: ${message}`);
  page.on('pageerror', (error) => record(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') record(`console error: ${message.text()}`);
  });
  page.on('requestfailed', (request) => record(`request failed: ${request.url()} (${request.failure()?.errorText})`));
  page.on('response', (response) => {
    if (response.status() >= 400) record(`HTTP ${response.status()} for ${response.url()}`);
  });
  await page.route('**/*', (route) => {
    if (new URL(route.request().url()).origin === origin) return route.continue();
    record(`blocked request to ${route.request().url()}`);
    return route.abort();
  });
  try {
    await page.goto(new URL('bench.html', baseUrl).href);
    await page.waitForFunction(() => window.starlingBenchReady === true);
    return await task(page);
  } finally {
    await page.close();
  }
}

function formatRate(value) {
  return value.toLocaleString('en-US', { maximumFractionDigits: 0 });
}

function describeNotes(notes) {
  if (!notes) return '';
  const parts = [];
  if ('simd' in notes) parts.push(`SIMD ${notes.simd ? 'on' : 'off'}`);
  if ('threadedBinary' in notes) parts.push(notes.threadedBinary ? 'threaded binary' : 'single-threaded binary');
  if ('threads' in notes) parts.push(notes.threads === 1 ? '1 thread' : `${notes.threads} threads`);
  if (notes.adapter) parts.push(`adapter: ${notes.adapter}`);
  if (!notes.crossOriginIsolated) parts.push('not cross-origin isolated');
  return parts.join(', ');
}

// Builds the Markdown table. The ratio divides by the faster of TF.js's two
// CPU backends (cpu and wasm).
function markdownTable(results) {
  const cpuRates = results
    .filter((row) => row.system === 'TF.js' && ['cpu', 'wasm'].includes(row.backend) && row.samplesPerSecond)
    .map((row) => row.samplesPerSecond);
  const baseline = cpuRates.length > 0 ? Math.max(...cpuRates) : null;
  const lines = [
    '| system | backend | samples/s | ratio to fastest TF.js CPU backend | notes |',
    '|---|---|---:|---:|---|',
  ];
  for (const row of results) {
    if (row.skipped || row.failed) {
      const status = row.skipped ? 'skipped' : 'failed';
      lines.push(`| ${row.system} | ${row.backend} | ${status} | | ${row.skipped ?? row.failed} |`);
      continue;
    }
    const ratio = baseline ? `${(row.samplesPerSecond / baseline).toFixed(2)}x` : 'n/a';
    lines.push(`| ${row.system} | ${row.backend} | ${formatRate(row.samplesPerSecond)} | ${ratio} | ${describeNotes(row.notes)} |`);
  }
  return lines.join('\n');
}

async function main() {
  const options = parseOptions();
  const pkgDir = join(WEB_DIR, 'pkg');
  const starlingBuilt = ['starling_client_wasm.js', 'starling_client_wasm_bg.wasm']
    .every((name) => { try { return statSync(join(pkgDir, name)).isFile(); } catch { return false; } });
  if (!starlingBuilt && !options.tfjsOnly) {
    throw new Error(`${pkgDir} does not contain starling_client_wasm.js and starling_client_wasm_bg.wasm: `
      + 'run `cargo xtask build-web` first (or pass --tfjs-only to measure TF.js alone)');
  }

  const digits = loadDigits(options.examples);
  const { server, url } = await startServer(digits, options.crossOriginIsolation);
  const args = ['--headless=new', '--no-sandbox', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'];
  if (options.webgpu) args.push('--enable-unsafe-webgpu');
  let browser;
  const errors = [];
  const results = [];
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
    const context = await browser.newContext();
    const { examples, epochs } = options;
    console.error(`Chromium ${browser.version()}; ${examples} examples, batch ${BATCH_SIZE}, 1 warm-up + ${epochs} timed epochs`);

    // Runs one measurement. A thrown error becomes a failed row and an entry in `errors`.
    const measure = async (system, backend, task) => {
      const label = `${system} ${backend}`;
      console.error(`${label}: training`);
      try {
        const result = await inFreshPage(context, url, label, errors, task);
        results.push({ system, backend, ...result });
      } catch (error) {
        errors.push(`${label}: ${error.message ?? error}`);
        results.push({ system, backend, failed: String(error.message ?? error).split('\n')[0] });
      }
    };

    if (options.tfjsOnly) {
      console.error('Starling: skipped (--tfjs-only)');
    } else {
      await measure('Starling', STARLING_BACKEND, (page) => page.evaluate(
        ([n, batch, e]) => window.starlingBench.trainStarling(n, batch, e), [examples, BATCH_SIZE, epochs]));
    }
    const backends = options.webgpu ? ['cpu', 'wasm', 'webgpu'] : ['cpu', 'wasm'];
    for (const backend of backends) {
      await measure('TF.js', backend, (page) => page.evaluate(
        ([name, batch, e]) => window.starlingBench.trainTfjs(name, batch, e), [backend, BATCH_SIZE, epochs]));
    }

    const table = markdownTable(results);
    console.log(table);
    console.log(`\nChromium ${browser.version()}, ${examples} examples, batch ${BATCH_SIZE}, `
      + `1 warm-up + ${epochs} timed epochs, CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} logical cores)`);

    if (errors.length > 0) return errors;
    mkdirSync(dirname(RESULTS_PATH), { recursive: true });
    writeFileSync(RESULTS_PATH, `${JSON.stringify({
      date: new Date().toISOString(),
      chromium: browser.version(),
      node: process.version,
      cpu: { model: cpus()[0]?.model ?? null, logicalCores: cpus().length },
      settings: {
        examples, epochs, batchSize: BATCH_SIZE, learningRate: 0.05, model: 'MLP 784-200-200-10, ReLU',
        crossOriginIsolation: options.crossOriginIsolation, webgpuRequested: options.webgpu,
      },
      tfjsData: { source: 'data/mnist-10k', selection: `seeded permutation (xorshift32, seed ${SAMPLE_SEED}), first ${examples}`, labelHistogram: digits.histogram },
      starlingData: `first ${examples} of starling_data::embedded_split(1).train`,
      results,
      markdown: table,
    }, null, 2)}\n`);
    console.error(`wrote ${RESULTS_PATH}`);
    return errors;
  } finally {
    await browser?.close();
    await new Promise((done) => { server.close(done); });
  }
}

try {
  const errors = await main();
  if (errors.length > 0) {
    console.error(`\n${errors.length} error(s) in the pages or measurements, so ${RESULTS_PATH} was not written:`);
    for (const error of errors) console.error(`  ${error}`);
    process.exitCode = 1;
  }
} catch (error) {
  console.error(`error: ${error.message ?? error}`);
  process.exitCode = 1;
}
