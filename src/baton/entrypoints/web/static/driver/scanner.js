// Camera barcode scanning. Uses the browser's BarcodeDetector when it has one (Chrome on Android),
// otherwise zxing-wasm (vendored under /static/zxing-wasm/, loaded on first use; its ~1 MB
// WebAssembly is fetched from this server, never from a CDN). Manual entry is always available.
const FORMATS_NATIVE = ["code_128", "code_39", "ean_13", "ean_8", "itf", "qr_code", "data_matrix", "upc_a"];
const FORMATS_ZXING = ["Code128", "Code39", "EAN-13", "EAN-8", "ITF", "QRCode", "DataMatrix", "UPC-A"];
const ZXING_JS = "/static/zxing-wasm/zxing-reader.iife.js";
const ZXING_DIR = "/static/zxing-wasm/";

let zxingReady = null;

function loadZxing() {
  if (!zxingReady) {
    zxingReady = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = ZXING_JS;
      script.onload = () => {
        window.ZXingWASM.prepareZXingModule({
          overrides: {locateFile: (path, prefix) => (path.endsWith(".wasm") ? ZXING_DIR + path : prefix + path)},
          fireImmediately: true,
        }).then(() => resolve(window.ZXingWASM), reject);
      };
      script.onerror = () => reject(new Error("barcode reader could not be loaded"));
      document.head.appendChild(script);
    });
  }
  return zxingReady;
}

async function makeDetector() {
  if ("BarcodeDetector" in window) {
    try {
      const supported = await window.BarcodeDetector.getSupportedFormats();
      const formats = FORMATS_NATIVE.filter((f) => supported.includes(f));
      if (formats.length) {
        const native = new window.BarcodeDetector({formats});
        return async (canvas) => (await native.detect(canvas)).map((b) => b.rawValue);
      }
    } catch { /* fall through to zxing */ }
  }
  const zxing = await loadZxing();
  return async (canvas) => {
    const image = canvas.getContext("2d", {willReadFrequently: true}).getImageData(0, 0, canvas.width, canvas.height);
    const found = await zxing.readBarcodes(image, {formats: FORMATS_ZXING, tryHarder: true, maxNumberOfSymbols: 4});
    return found.filter((b) => b.isValid).map((b) => b.text);
  };
}

/**
 * Scan with the rear camera into `video` until stop() is called; onCode(text) for each new code.
 * Returns {stop}. Throws when there is no camera or no permission (the caller shows manual entry).
 */
export async function startScanner(video, onCode, onStatus = () => {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error("no camera on this device");
  onStatus("starting camera…");
  const stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false});
  video.srcObject = stream;
  await video.play();
  const detect = await makeDetector();
  const canvas = document.createElement("canvas");
  const seen = new Set();
  let stopped = false;
  onStatus("point the camera at a barcode");
  const loop = async () => {
    while (!stopped) {
      if (video.videoWidth) {
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        canvas.getContext("2d", {willReadFrequently: true}).drawImage(video, 0, 0);
        try {
          for (const text of await detect(canvas)) {
            if (text && !seen.has(text)) { seen.add(text); onCode(text); }
          }
        } catch (err) { onStatus(`scanner: ${err.message}`); }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  loop();
  return {
    stop() {
      stopped = true;
      for (const track of stream.getTracks()) track.stop();
      video.srcObject = null;
    },
  };
}
