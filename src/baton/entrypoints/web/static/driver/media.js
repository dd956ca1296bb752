// Captured images: photos are re-encoded on the phone to JPEG, longest side at most MAX_SIDE px
// (a 12 MP camera photo of ~4 MB becomes ~200-400 kB), the signature is the canvas as PNG. Each
// is stored in IndexedDB with its SHA-256 (hex, computed here: the server stores media by content
// hash, so the action can name its media before they are uploaded, and re-uploads are no-ops).
import {media, uuid} from "./store.js";

export const MAX_SIDE = 1600;
export const JPEG_QUALITY = 0.8;

export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function loadImage(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => { URL.revokeObjectURL(url); resolve(img); };
    img.onerror = () => { URL.revokeObjectURL(url); reject(new Error(`photo: ${file.name || "file"} is not an image`)); };
    img.src = url;
  });
}

/** Re-encode an image file to a JPEG blob no larger than MAX_SIDE px on its longest side. */
export async function compressImage(file, maxSide = MAX_SIDE, quality = JPEG_QUALITY) {
  let source;
  let width;
  let height;
  if (window.createImageBitmap) {
    try {
      source = await createImageBitmap(file, {imageOrientation: "from-image"});
    } catch { source = null; }
  }
  if (!source) source = await loadImage(file);
  width = source.width; height = source.height;
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(source, 0, 0, w, h);
  if (source.close) source.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  if (!blob) throw new Error("photo: could not encode the image");
  return {blob, width: w, height: h};
}

/** Keep a blob in IndexedDB until it is uploaded; returns {id, sha256, content_type, size}. */
export async function keep(blob, contentType) {
  const record = {id: uuid(), blob, content_type: contentType, sha256: await sha256Hex(blob), uploaded: false,
    size: blob.size};
  await media.add(record);
  return {id: record.id, sha256: record.sha256, content_type: contentType, size: blob.size};
}

export async function discard(id) {
  await media.remove(id);
}
