// The proof-of-delivery screen: parcels (scan or type), recipient, signature, photos, age check /
// safe place, notes. The Complete button stays disabled, with the reasons shown, until the stop's
// requirements are met (requirements.js); the server checks them again when the action syncs.
import {compressImage, discard, keep} from "./media.js";
import {canonicalBarcode, normaliseBarcode, parcelCheck, unmetRequirements} from "./requirements.js";
import {startScanner} from "./scanner.js";
import {$, esc} from "./views.js";

export class CompletionScreen {
  constructor({onSubmit}) {
    this.onSubmit = onSubmit;
    this.form = $("#complete-form");
    this.stop = null;
    this.scanned = [];
    this.photos = [];   // {id, sha256, url}
    this.pad = null;
    this.scanner = null;
    this.busy = false;
    this._wire();
  }

  _wire() {
    const add = () => {
      const input = $("#barcode-input");
      const code = normaliseBarcode(input.value);
      if (code) this.addBarcode(code);
      input.value = "";
      input.focus();
    };
    $("#barcode-add").addEventListener("click", add);
    $("#barcode-input").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); add(); } });
    $("#scan-button").addEventListener("click", () => this.openScanner());
    $("#scanner-close").addEventListener("click", () => this.closeScanner());
    $("#signature-clear").addEventListener("click", () => { if (this.pad) this.pad.clear(); this.refresh(); });
    $("#photo-input").addEventListener("change", (e) => this.addPhotos(e.target));
    this.form.addEventListener("input", () => this.refresh());
    this.form.addEventListener("change", () => this.refresh());
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(); });
    $("#parcel-list").addEventListener("click", (e) => {
      const li = e.target.closest("li[data-barcode]");
      if (li && e.target.closest("button")) this.toggleBarcode(li.dataset.barcode);
    });
  }

  async open(stop) {
    await this.reset();
    this.stop = stop;
    $("#complete-stop").textContent = `· ${stop.sequence} ${stop.customer_name}`;
    const req = stop.requirements || {};
    $("#age-row").hidden = !req.age_check;
    $("#safe-row").hidden = !req.safe_place_allowed;
    this.refresh();
  }

  /** Call when the screen is visible (the signature canvas needs its real size). */
  shown() {
    const canvas = $("#signature");
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    if (!this.pad) {
      this.pad = new window.SignaturePad(canvas, {backgroundColor: "rgb(255,255,255)", minWidth: 0.8, maxWidth: 2.5});
      this.pad.addEventListener("endStroke", () => this.refresh());
    }
    this.pad.clear();
    this.refresh();
  }

  async reset() {
    this.closeScanner();
    for (const p of this.photos) { URL.revokeObjectURL(p.url); await discard(p.id); }
    this.photos = [];
    this.scanned = [];
    this.form.reset();
    if (this.pad) this.pad.clear();
    $("#photo-thumbs").innerHTML = "";
    $("#complete-error").hidden = true;
  }

  capture() {
    const f = this.form.elements;
    return {
      signed: Boolean(this.pad && !this.pad.isEmpty()), photos: this.photos.length,
      recipient_name: f.recipient_name.value, scanned: this.scanned,
      age_verified: f.age_verified.checked, safe_place: f.safe_place.checked,
    };
  }

  addBarcode(raw) {
    const code = canonicalBarcode(this.stop ? this.stop.parcels : [], raw);
    if (!code) return;
    if (!this.scanned.includes(code)) this.scanned.push(code);
    this.refresh();
  }

  toggleBarcode(code) {
    if (this.scanned.includes(code)) this.scanned = this.scanned.filter((c) => c !== code);
    else this.scanned.push(code);
    this.refresh();
  }

  async addPhotos(input) {
    const files = [...(input.files || [])];
    input.value = "";
    for (const file of files) {
      try {
        const {blob} = await compressImage(file);
        const kept = await keep(blob, "image/jpeg");
        const url = URL.createObjectURL(blob);
        this.photos.push({id: kept.id, sha256: kept.sha256, url, size: blob.size});
      } catch (err) {
        this.error(err.message);
      }
    }
    this.renderPhotos();
    this.refresh();
  }

  renderPhotos() {
    const box = $("#photo-thumbs");
    box.innerHTML = this.photos.map((p, i) => `<figure data-sha256="${esc(p.sha256)}" data-size="${p.size}">
      <img src="${p.url}" alt="photo ${i + 1}"><button type="button" class="link" data-remove="${i}">remove</button>
      </figure>`).join("");
    box.querySelectorAll("button[data-remove]").forEach((b) => b.addEventListener("click", async () => {
      const [gone] = this.photos.splice(Number(b.dataset.remove), 1);
      URL.revokeObjectURL(gone.url);
      await discard(gone.id);
      this.renderPhotos();
      this.refresh();
    }));
  }

  async openScanner() {
    $("#scanner").hidden = false;
    try {
      this.scanner = await startScanner($("#scanner-video"), (code) => this.addBarcode(normaliseBarcode(code)),
        (text) => { $("#scanner-status").textContent = text; });
    } catch (err) {
      $("#scanner-status").textContent = `Camera not available (${err.message}). Type the barcode instead.`;
      $("#barcode-input").focus();
    }
  }

  closeScanner() {
    if (this.scanner) this.scanner.stop();
    this.scanner = null;
    $("#scanner").hidden = true;
  }

  /** Re-render parcels and requirement state; enable Complete only when nothing is missing. */
  refresh() {
    if (!this.stop) return [];
    const capture = this.capture();
    const {missing, extra} = parcelCheck(this.stop.parcels, this.scanned);
    $("#parcel-list").innerHTML = (this.stop.parcels || []).map((p) => {
      const code = normaliseBarcode(p.barcode);
      const ok = !missing.includes(code);
      return `<li data-barcode="${esc(code)}" class="${ok ? "scanned" : "missing"}">
        <span class="mark">${ok ? "✓" : "•"}</span> <code>${esc(p.barcode)}</code> ${esc(p.description || "")}
        <button type="button" class="link">${ok ? "undo" : "mark"}</button></li>`;
    }).join("");
    $("#extra-list").innerHTML = extra.map((c) =>
      `<li class="extra" data-barcode="${esc(c)}">⚠ <code>${esc(c)}</code> is not on this order</li>`).join("");
    const reasons = unmetRequirements(this.stop, capture);
    const req = this.stop.requirements || {};
    const items = [
      ["recipient", !reasons.some((r) => r.startsWith("recipient")), "recipient"],
      ...(req.signature ? [["signature", !reasons.includes("signature required"), "signature"]] : []),
      ...((req.photo || req.min_photos > 0) ? [["photo", !reasons.some((r) => r.includes("photo")), "photo"]] : []),
      ...(req.age_check ? [["age", !reasons.includes("age check required"), "age check"]] : []),
      ...(req.scan_all_parcels ? [["parcels", missing.length === 0, "all parcels scanned"]] : []),
    ];
    $("#requirement-list").innerHTML = items.map(([key, ok, label]) =>
      `<li data-req="${key}" class="${ok ? "met" : "unmet"}">${ok ? "✓" : "✗"} ${esc(label)}</li>`).join("");
    const button = $("#complete-submit");
    button.disabled = reasons.length > 0 || this.busy;
    $("#complete-reason").textContent = reasons.length ? `Cannot complete yet: ${reasons.join("; ")}` : "";
    return reasons;
  }

  error(message) {
    const p = $("#complete-error");
    p.textContent = message;
    p.hidden = !message;
  }

  async submit() {
    if (this.refresh().length || this.busy) return;
    this.busy = true;
    try {
      const capture = this.capture();
      const mediaIds = [];
      let signatureSha = null;
      if (capture.signed && !capture.safe_place) {
        const blob = await new Promise((r) => $("#signature").toBlob(r, "image/png"));
        const kept = await keep(blob, "image/png");
        mediaIds.push(kept.id);
        signatureSha = kept.sha256;
      }
      for (const p of this.photos) mediaIds.push(p.id);
      const f = this.form.elements;
      const {missing, extra} = parcelCheck(this.stop.parcels, this.scanned);
      const payload = {
        recipient_name: capture.safe_place && !capture.recipient_name.trim() ? "" : capture.recipient_name.trim(),
        recipient_relation: capture.safe_place ? "safe_place" : f.recipient_relation.value,
        photo_sha256s: this.photos.map((p) => p.sha256),
        scanned_barcodes: [...this.scanned],
        notes: f.notes.value.trim() || null,
      };
      if (signatureSha) payload.signature_sha256 = signatureSha;
      if ((this.stop.requirements || {}).age_check) payload.age_verified = capture.age_verified;
      if (capture.safe_place) payload.safe_place = true;
      await this.onSubmit(this.stop, payload, mediaIds, {missing, extra});
      for (const p of this.photos) URL.revokeObjectURL(p.url);
      this.photos = []; // now owned by the outbox
      this.stop = null;
    } catch (err) {
      this.error(err.message);
    } finally {
      this.busy = false;
    }
  }
}
