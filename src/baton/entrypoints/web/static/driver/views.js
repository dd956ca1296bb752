// Rendering: the stop list, the map, one stop's details. Pure DOM building, no state of its own.

export const DONE = new Set(["delivered", "failed_attempt", "cancelled", "returned_to_depot", "reattempt"]);

function stopsSignature(route) {
  const out = {};
  for (const s of route.stops) {
    // the status is left out: the driver's own actions change it
    out[s.order_id] = JSON.stringify([s.sequence, s.window_start, s.window_end, s.instructions, s.parcels,
      s.requirements, s.lat, s.lng, s.address]);
  }
  return out;
}

/** Stops added or changed between two versions of the same route (a cancellation counts: the driver did not do it). */
export function diff(before, after) {
  if (!before || before.route_id !== after.route_id) return [];
  const a = stopsSignature(before);
  const b = stopsSignature(after);
  const was = Object.fromEntries(before.stops.map((s) => [s.order_id, s.status]));
  return after.stops.filter((s) => a[s.order_id] !== b[s.order_id]
    || (s.status === "cancelled" && was[s.order_id] !== "cancelled")).map((s) => s.order_id);
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
    "'": "&#39;"}[c]));
}

export function hhmm(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "–";
  return d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
}

/** Stops in driving order, the next one to do first; done stops last. */
export function ordered(stops, statusOf) {
  const list = [...stops].sort((a, b) => a.sequence - b.sequence);
  return [...list.filter((s) => !DONE.has(statusOf(s))), ...list.filter((s) => DONE.has(statusOf(s)))];
}

export function navLinks(stop) {
  const ll = `${stop.lat},${stop.lng}`;
  const label = encodeURIComponent(stop.customer_name || stop.address || "stop");
  return {
    geo: `geo:${ll}?q=${ll}(${label})`,
    maps: `https://www.google.com/maps/dir/?api=1&destination=${ll}&travelmode=driving`,
  };
}

export const CONTACT_TEMPLATES = [
  ["arriving_soon", "Arriving soon"], ["cannot_find_address", "Can't find the address"], ["at_door", "At the door"]];

export function telHref(masked) {
  if (!masked) return null;
  const value = String(masked).trim();
  return /^[+\d\s().-]+$/.test(value) ? `tel:${value.replace(/[^\d+]/g, "")}` : null;
}

export function renderStops(route, statusOf, pendingOf, changed) {
  const ol = $("#stops");
  const stops = ordered(route.stops, statusOf);
  const next = stops.find((s) => !DONE.has(statusOf(s)));
  ol.innerHTML = stops.map((s) => {
    const status = statusOf(s);
    const classes = ["stop", `status-${status}`];
    if (next && s.order_id === next.order_id) classes.push("next");
    const flagged = changed.has(s.order_id) && (!DONE.has(status) || status === "cancelled");
    if (flagged) classes.push("changed");
    if (DONE.has(status)) classes.push("done");
    return `<li class="${classes.join(" ")}" data-order="${esc(s.order_id)}" data-status="${esc(status)}"
        tabindex="0" role="button">
      <span class="seq">${esc(s.sequence)}</span>
      <span class="who"><strong>${esc(s.customer_name)}</strong><br><span class="muted">${esc(s.address)}</span></span>
      <span class="when">${hhmm(s.eta)}<br><span class="muted">${hhmm(s.window_start)}–${hhmm(s.window_end)}</span></span>
      <span class="state">${esc(status.replaceAll("_", " "))}${pendingOf(s) ? ' <span class="pending" title="waiting to sync">⟳</span>' : ""}${
        flagged ? ' <span class="badge changed-badge">updated</span>' : ""}</span>
    </li>`;
  }).join("");
  return next;
}

export function renderStopDetail(stop, status, pending, changed) {
  const nav = navLinks(stop);
  const contact = stop.contact || {};
  // a masked call through the proxy number when the server configured one, else a dialable number if sent
  const callUrl = contact.call_url || telHref(stop.phone_masked);
  const req = stop.requirements || {};
  const needs = [
    req.signature && "signature", (req.photo || req.min_photos > 0) && `photo${req.min_photos > 1 ? ` ×${req.min_photos}` : ""}`,
    req.age_check && "age check", req.scan_all_parcels && "scan every parcel",
    req.safe_place_allowed && "safe place allowed",
  ].filter(Boolean);
  $("#stop-detail").innerHTML = `
    <h2><span class="seq">${esc(stop.sequence)}</span> ${esc(stop.customer_name)}
      <span class="state" data-status="${esc(status)}">${esc(status.replaceAll("_", " "))}${pending ? " ⟳" : ""}</span></h2>
    ${changed ? '<p class="changed-note">This stop changed since you last looked.</p>' : ""}
    <p class="address">${esc(stop.address)}</p>
    <dl class="facts">
      <dt>Window</dt><dd>${hhmm(stop.window_start)}–${hhmm(stop.window_end)}</dd>
      <dt>ETA</dt><dd>${hhmm(stop.eta)}</dd>
      <dt>Service</dt><dd>${Math.round((stop.service_time_s || 0) / 60)} min</dd>
      <dt>Order</dt><dd>${esc(stop.order_id)}</dd>
    </dl>
    ${stop.instructions ? `<p class="instructions"><strong>Instructions:</strong> ${esc(stop.instructions)}</p>` : ""}
    <h3>Parcels (${(stop.parcels || []).length})</h3>
    <ul class="parcels">${(stop.parcels || []).map((p) =>
      `<li><code>${esc(p.barcode)}</code> ${esc(p.description || "")}</li>`).join("")}</ul>
    ${needs.length ? `<p class="needs">Needs: ${needs.map(esc).join(", ")}</p>` : ""}
    <div class="row links">
      <a class="button" id="nav-geo" href="${esc(nav.geo)}">Navigate</a>
      <a class="button" id="nav-maps" href="${esc(nav.maps)}" target="_blank" rel="noopener">Maps</a>
      <button type="button" class="button" id="contact-button">Contact ${stop.phone_masked ? esc(stop.phone_masked) : ""}</button>
    </div>
    <div id="contact-sheet" class="card sheet" hidden>
      <h3>Contact the customer</h3>
      <p class="hint">A message goes to the customer's preferred channel (SMS or e-mail); the number stays hidden.</p>
      <div class="row templates">${CONTACT_TEMPLATES.map(([key, label]) =>
        `<button type="button" class="button" data-template="${esc(key)}">${esc(label)}</button>`).join("")}</div>
      <label>Add a note (optional) <input id="contact-text" maxlength="300" autocomplete="off"></label>
      ${callUrl ? `<a class="button" id="call" href="${esc(callUrl)}">Call (masked)</a>` : ""}
      <p id="contact-result" role="status"></p>
      <button type="button" class="button" id="contact-close">Close</button>
    </div>`;
}

export class RouteMap {
  constructor(element, tilesUrl) {
    this.element = element;
    this.tilesUrl = tilesUrl;
    this.map = null;
    this.layer = null;
    this.me = null;
  }

  ensure() {
    if (this.map || !window.L) return;
    this.map = L.map(this.element, {zoomControl: true, attributionControl: Boolean(this.tilesUrl)});
    if (this.tilesUrl) L.tileLayer(this.tilesUrl, {maxZoom: 19, attribution: "map tiles"}).addTo(this.map);
    this.layer = L.layerGroup().addTo(this.map);
  }

  draw(route, statusOf, nextId, onPick) {
    this.ensure();
    if (!this.map) return;
    this.map.invalidateSize();
    this.layer.clearLayers();
    const stops = [...route.stops].sort((a, b) => a.sequence - b.sequence);
    const points = [];
    if (route.depot) {
      points.push([route.depot.lat, route.depot.lng]);
      L.marker([route.depot.lat, route.depot.lng], {icon: L.divIcon({className: "pin depot", html: "D",
        iconSize: [26, 26]}), title: route.depot.name || "depot"}).addTo(this.layer);
    }
    for (const s of stops) {
      points.push([s.lat, s.lng]);
      const status = statusOf(s);
      const cls = ["pin", `status-${status}`, s.order_id === nextId ? "next" : ""].join(" ");
      L.marker([s.lat, s.lng], {icon: L.divIcon({className: cls, html: String(s.sequence), iconSize: [26, 26]}),
        title: s.customer_name}).on("click", () => onPick(s.order_id)).addTo(this.layer);
    }
    if (points.length > 1) L.polyline(points, {color: "#0b5cad", weight: 3, opacity: 0.7}).addTo(this.layer);
    if (points.length) this.map.fitBounds(L.latLngBounds(points).pad(0.15));
  }

  position(fix) {
    if (!this.map || !fix) return;
    if (!this.me) this.me = L.circleMarker([fix.lat, fix.lng], {radius: 7, color: "#fff", fillColor: "#1a73e8",
      fillOpacity: 1, weight: 2}).addTo(this.map);
    else this.me.setLatLng([fix.lat, fix.lng]);
  }
}
