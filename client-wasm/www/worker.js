// Web Worker that runs the Starling client compiled to WebAssembly. The page
// posts one start message; the client posts its status back as JSON text.
import init, { run_worker } from './pkg/starling_client_wasm.js';

self.onmessage = async ({ data }) => {
  try {
    await init();
    await run_worker(
      JSON.stringify(data.options),
      data.dataKind ?? '',
      data.images ?? new Uint8Array(),
      data.labels ?? new Uint8Array(),
    );
  } catch (error) {
    self.postMessage(JSON.stringify({ state: 'failed', message: `The client could not start: ${error}` }));
  }
};
