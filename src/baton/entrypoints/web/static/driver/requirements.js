// Completion requirements, evaluated on the phone (the server re-checks them on sync).
//
// requirements (from GET /api/v1/driver/route, per stop):
//   {signature, photo, min_photos, age_check, safe_place_allowed, scan_all_parcels}
// capture (what the completion screen holds):
//   {signed: bool, photos: int, recipient_name: str, scanned: [barcode], age_verified: bool, safe_place: bool}

/** Parcels check: which expected barcodes were not scanned, which scanned ones are not on the order. */
export function parcelCheck(parcels, scanned) {
  const expected = (parcels || []).map((p) => normaliseBarcode(p.barcode));
  const seen = new Set((scanned || []).map(normaliseBarcode));
  return {
    missing: expected.filter((b) => !seen.has(b)),
    extra: [...seen].filter((b) => !expected.includes(b)),
  };
}

export function normaliseBarcode(code) {
  return String(code ?? "").trim();
}

/** A typed or scanned code as the order spells it (case-insensitive match), else as given. */
export function canonicalBarcode(parcels, code) {
  const value = normaliseBarcode(code);
  const hit = (parcels || []).find((p) => normaliseBarcode(p.barcode).toLowerCase() === value.toLowerCase());
  return hit ? normaliseBarcode(hit.barcode) : value;
}

/** What is still missing before the stop may be completed: a list of human-readable reasons (empty = ok). */
export function unmetRequirements(stop, capture) {
  const req = stop.requirements || {};
  const reasons = [];
  const safe = Boolean(capture.safe_place);
  if (safe && !req.safe_place_allowed) reasons.push("safe place not authorised by the customer");
  if (safe && req.age_check) reasons.push("age check: hand over in person (no safe place)");
  if (!safe && !String(capture.recipient_name || "").trim()) reasons.push("recipient name required");
  if (req.signature && !safe && !capture.signed) reasons.push("signature required");
  let minPhotos = Math.max(Number(req.min_photos || 0), req.photo ? 1 : 0);
  if (safe) minPhotos = Math.max(minPhotos, 1);
  if ((capture.photos || 0) < minPhotos) {
    reasons.push(minPhotos === 1 ? "photo required" : `${minPhotos} photos required (have ${capture.photos || 0})`);
  }
  if (req.age_check && !safe && !capture.age_verified) reasons.push("age check required");
  if (req.scan_all_parcels) {
    const {missing} = parcelCheck(stop.parcels, capture.scanned);
    if (missing.length) reasons.push(`scan every parcel (missing: ${missing.join(", ")})`);
  }
  return reasons;
}
