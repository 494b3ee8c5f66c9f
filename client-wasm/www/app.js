// Page glue for the Starling browser client: reads the URL options, probes
// WebGPU, starts the worker that runs the client, shows its status, and
// turns files the user picks into examples the worker trains on.
//
// URL options: server=ws://host:port/ws (default: this page's server),
// client=<id> (default: a random id kept for this tab across reloads),
// backend=auto|cpu|webgpu (default auto), hold_ms=<n> (wait n ms, up to an
// hour, before each upload, to act as a slow device).

const params = new URLSearchParams(location.search);
const ID_KEY = 'starling-client-id';

function defaultServerUrl() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/ws`;
}

function tabClientId() {
  const given = params.get('client');
  if (given !== null) return given;
  let id = sessionStorage.getItem(ID_KEY);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(6));
    id = 'tab-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    sessionStorage.setItem(ID_KEY, id);
  }
  return id;
}

// Probes WebGPU and returns { adapter: bool, fallback: bool, description, reason }.
async function probeWebGpu() {
  if (!('gpu' in navigator)) return { adapter: false, reason: 'this browser has no WebGPU' };
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { adapter: false, reason: 'WebGPU offers no adapter' };
    const info = adapter.info ?? {};
    const description = [info.vendor, info.architecture, info.device, info.description]
      .filter((part) => part).join(' ') || 'unnamed adapter';
    const fallback = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
    return { adapter: true, fallback, description };
  } catch (error) {
    return { adapter: false, reason: `WebGPU failed: ${error}` };
  }
}

// Picks the backend: WebGPU only on a real (non-fallback) adapter unless
// the URL requests it. The page shows the reason.
function chooseBackend(requested, probe) {
  if (requested === 'cpu') return { backend: 'cpu', device: 'cpu', note: 'CPU backend requested.' };
  if (!probe.adapter) {
    const note = requested === 'webgpu'
      ? `WebGPU requested but ${probe.reason}; training on the CPU.`
      : `Training on the CPU: ${probe.reason}.`;
    return { backend: 'cpu', device: 'cpu', note };
  }
  if (requested === 'webgpu') {
    return { backend: 'webgpu', device: probe.description, note: 'WebGPU requested.' };
  }
  if (probe.fallback) {
    return {
      backend: 'cpu',
      device: 'cpu',
      note: `Training on the CPU: the WebGPU adapter (${probe.description}) is a software fallback. Add ?backend=webgpu to use it anyway.`,
    };
  }
  return { backend: 'webgpu', device: probe.description, note: `Training on WebGPU (${probe.description}).` };
}

const STATE_TEXT = {
  connecting: 'Connecting…',
  waiting: 'Connected, waiting for a round',
  training: 'Training',
  uploading: 'Sending the update',
  reconnecting: 'Not connected',
  finished: 'The run has ended',
  rejected: 'Rejected by the server',
  replaced: 'Stopped: this client id joined elsewhere',
  failed: 'Stopped on an error',
};

const el = (id) => document.getElementById(id);
let backendNote = '';

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

function render(status) {
  window.starlingStatus = status;
  document.body.dataset.state = status.state;
  el('state').textContent = STATE_TEXT[status.state] ?? status.state;
  el('message').textContent = status.message || backendNote;
  el('client-id').textContent = status.clientId ?? options?.clientId ?? '–';
  el('run-id').textContent = status.runId ?? '–';
  el('backend').textContent = status.backend ?? '–';
  el('device').textContent = status.device ?? '–';
  el('examples').textContent = status.examples ? String(status.examples) : '–';
  el('round').textContent = status.round ?? '–';
  el('rounds-completed').textContent = String(status.roundsCompleted ?? 0);
  el('loss').textContent = status.loss == null ? '–' : status.loss.toFixed(4);
  el('accuracy').textContent = status.accuracy == null ? '–' : `${(status.accuracy * 100).toFixed(1)}%`;
  el('train-time').textContent = status.trainMs == null ? '–' : `${Math.round(status.trainMs)} ms`;
  el('bytes-sent').textContent = formatBytes(status.bytesSent ?? 0);
  el('bytes-received').textContent = formatBytes(status.bytesReceived ?? 0);
  el('global-accuracy').textContent = status.finalAccuracy == null
    ? 'when the run ends'
    : `${(status.finalAccuracy * 100).toFixed(1)}%`;
}

let worker = null;
let options = null;
// The data the running worker trains on (null: the server's partition) and
// the note that describes it.
let current = { data: null, note: '' };

// Starts a worker on `data`. With `candidate`, the data is new: once the
// worker accepts it the note becomes `note`, and if the worker rejects it
// the tab goes back to the data it trained on before.
function startWorker(data, candidate = null) {
  if (worker) worker.terminate();
  worker = new Worker('worker.js', { type: 'module' });
  let first = true;
  worker.onmessage = ({ data: json }) => {
    const status = JSON.parse(json);
    if (first && candidate) {
      first = false;
      if (status.state === 'failed') {
        el('data-note').textContent = `${status.message.replace(/\.?$/, '.')} Still training on the previous data.`;
        startWorker(current.data);
        return;
      }
      current = { data, note: candidate.note };
      el('data-note').textContent = candidate.note;
    }
    first = false;
    render(status);
  };
  worker.onerror = (event) => render({
    ...(window.starlingStatus ?? {}),
    state: 'failed',
    message: `The client worker failed: ${event.message}`,
  });
  // Buffers are copied, not transferred, so the data can be sent again to
  // a later worker.
  const message = { options, dataKind: data?.kind ?? '', images: data?.images, labels: data?.labels };
  worker.postMessage(message);
}

// ---- the user's own data ----

function labelOf(file) {
  const path = file.webkitRelativePath || file.name;
  const parts = path.split('/');
  const folder = parts.length > 1 ? parts[parts.length - 2] : '';
  if (/^[0-9]$/.test(folder)) return Number(folder);
  const match = /^([0-9])(?:[^0-9]|$)/.exec(parts[parts.length - 1]);
  return match ? Number(match[1]) : null;
}

async function decodeImages(files) {
  const side = 28;
  const canvas = new OffscreenCanvas(side, side);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const pixels = [];
  const labels = [];
  let skipped = 0;
  for (const file of files) {
    const label = labelOf(file);
    if (label === null || !/\.(png|jpe?g|gif|bmp|webp)$/i.test(file.name)) {
      skipped += 1;
      continue;
    }
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch {
      skipped += 1;
      continue;
    }
    context.fillStyle = 'black';
    context.fillRect(0, 0, side, side);
    context.drawImage(bitmap, 0, 0, side, side);
    const rgba = context.getImageData(0, 0, side, side).data;
    const grey = new Uint8Array(side * side);
    let sum = 0;
    for (let i = 0; i < grey.length; i += 1) {
      grey[i] = Math.round((rgba[4 * i] + rgba[4 * i + 1] + rgba[4 * i + 2]) / 3);
      sum += grey[i];
    }
    // The models expect light digits on a dark background, as in MNIST.
    if (sum / grey.length > 127) grey.forEach((value, i) => { grey[i] = 255 - value; });
    pixels.push(grey);
    labels.push(label);
  }
  const images = new Uint8Array(pixels.length * side * side);
  pixels.forEach((grey, i) => images.set(grey, i * side * side));
  return { kind: 'pixels', images, labels: Uint8Array.from(labels), skipped };
}

async function loadOwnData(fileList) {
  const files = Array.from(fileList);
  const note = el('data-note');
  const imagesFile = files.find((f) => /idx3|images/i.test(f.name) && !/\.(png|jpe?g|gif|bmp|webp)$/i.test(f.name));
  const labelsFile = files.find((f) => /idx1|labels/i.test(f.name));
  let data;
  let noteText;
  if (imagesFile && labelsFile) {
    data = {
      kind: 'idx',
      images: new Uint8Array(await imagesFile.arrayBuffer()),
      labels: new Uint8Array(await labelsFile.arrayBuffer()),
    };
    noteText = `Training on ${imagesFile.name} and ${labelsFile.name}.`;
  } else if (imagesFile || labelsFile) {
    const missing = imagesFile ? 'labels (idx1)' : 'images (idx3)';
    note.textContent = `The ${missing} file of the IDX pair is missing: pick both files together.`;
    return;
  } else {
    note.textContent = 'Reading your images…';
    data = await decodeImages(files);
    if (data.labels.length === 0) {
      note.textContent = 'No usable files: pick an IDX images/labels pair or digit images named by their label.';
      return;
    }
    const skipped = data.skipped ? ` (${data.skipped} files skipped: not an image, or no digit label in the name)` : '';
    noteText = `Training on ${data.labels.length} of your images${skipped}.`;
  }
  note.textContent = 'Checking your files…';
  startWorker(data, { note: noteText });
}

function wireOwnData() {
  const zone = el('drop-zone');
  for (const id of ['file-input', 'folder-input']) {
    el(id).addEventListener('change', (event) => loadOwnData(event.target.files));
  }
  zone.addEventListener('dragover', (event) => { event.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    const files = [];
    const entries = Array.from(event.dataTransfer.items, (item) => item.webkitGetAsEntry?.()).filter(Boolean);
    const walk = async (entry) => {
      if (entry.isFile) {
        const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
        Object.defineProperty(file, 'webkitRelativePath', { value: entry.fullPath.replace(/^\//, '') });
        files.push(file);
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        for (;;) {
          const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
          if (batch.length === 0) break;
          for (const child of batch) await walk(child);
        }
      }
    };
    for (const entry of entries) await walk(entry);
    loadOwnData(files.length ? files : event.dataTransfer.files);
  });
}

const BACKENDS = ['auto', 'cpu', 'webgpu'];
const MAX_HOLD_MS = 3_600_000;

// Reads hold_ms: a whole number of milliseconds up to an hour, else 0.
function holdMs(warnings) {
  const text = params.get('hold_ms');
  if (text === null) return 0;
  const value = Number(text);
  if (Number.isInteger(value) && value >= 0 && value <= MAX_HOLD_MS) return value;
  warnings.push(`hold_ms=${text} is not a whole number of milliseconds from 0 to ${MAX_HOLD_MS}; using 0.`);
  return 0;
}

async function main() {
  const warnings = [];
  let requested = params.get('backend') ?? 'auto';
  if (!BACKENDS.includes(requested)) {
    warnings.push(`Unknown backend=${requested}; use auto, cpu or webgpu. Using auto.`);
    requested = 'auto';
  }
  const probe = await probeWebGpu();
  const choice = chooseBackend(requested, probe);
  options = {
    serverUrl: params.get('server') ?? defaultServerUrl(),
    clientId: tabClientId(),
    backend: choice.backend,
    device: choice.device,
    holdMs: holdMs(warnings),
  };
  backendNote = [...warnings, choice.note].join(' ');
  window.starlingBackendChoice = { ...choice, probe, warnings };
  el('client-id').textContent = options.clientId;
  el('message').textContent = backendNote;
  wireOwnData();
  startWorker(null);
}

main();
