// The Baton driver app (PWA). Offline first: the route lives in IndexedDB, every action goes
// through the outbox (sync.js) with its device time and GPS fix, the service worker serves the
// shell. See docs/driver-app.md for the flows and the API it uses.
import {call, login, setToken, token} from "./api.js";
import {CompletionScreen} from "./complete.js";
import {Gps} from "./gps.js";
import {Live} from "./live.js";
import {compressImage, keep} from "./media.js";
import {kv, outbox, uuid} from "./store.js";
import {Sync} from "./sync.js";
import {$, DONE, RouteMap, diff, esc, renderStopDetail, renderStops} from "./views.js";

const REFRESH_MS = 60000;
let refreshTimer = null;

const state = {
  route: null,          // last GET /api/v1/driver/route body
  local: {},            // order_id -> status set on the phone, not yet confirmed by the server
  changed: new Set(),   // order ids changed by the dispatcher since the driver last looked
  current: null,        // order id of the open stop
  currentChanged: false, // the open stop had changed when the driver opened it
  onBreak: false,
  vehicleId: null,
  failPhotos: [],
  view: "login",
};

const gps = new Gps({onStatus: (text) => { $("#gps-status").textContent = text; }});
const map = new RouteMap($("#map"), document.querySelector('meta[name="tiles-url"]').content);
const sync = new Sync({onChange: showSync, onResult: settled, onAuthLost: () => banner("Signed out: sign in again to sync.", "error")});
const live = new Live({onEvent: liveEvent, onState: (on) => document.body.classList.toggle("live-on", on)});
const completion = new CompletionScreen({onSubmit: completeStop});

// ---------------------------------------------------------------- helpers

function statusOf(stop) {
  return state.local[stop.order_id] || stop.status;
}

function pendingOf(stop) {
  return Boolean(state.local[stop.order_id]);
}

function stopById(id) {
  return state.route ? state.route.stops.find((s) => s.order_id === id) : null;
}

let bannerTimer = null;
function banner(text, kind = "info", ms = 6000) {
  const b = $("#banner");
  b.textContent = text;
  b.dataset.kind = kind;
  b.hidden = false;
  clearTimeout(bannerTimer);
  if (ms) bannerTimer = setTimeout(() => { b.hidden = true; }, ms);
}

function show(view) {
  state.view = view;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  document.body.dataset.view = view;
  $("#logout-button").hidden = view === "login";
  window.scrollTo(0, 0);
}

async function showSync(s) {
  const chip = $("#sync-status");
  const n = s.queued;
  chip.dataset.state = s.syncing ? "syncing" : n ? (s.error ? "offline" : "queued") : "idle";
  chip.dataset.queued = String(n);
  $("#sync-text").textContent = n ? `${n} queued${s.error === "offline" ? " · offline" : ""}` : (s.syncing ? "syncing" : "synced");
  chip.title = s.error && s.error !== "offline" ? `last sync error: ${s.error}` : "Sync now";
}

async function saveLocal() {
  await kv.set("local_status", state.local);
  await kv.set("changed", [...state.changed]);
}

// ---------------------------------------------------------------- route

async function setRoute(route, {highlight = []} = {}) {
  const before = state.route;
  state.route = route;
  await kv.set("route", route);
  const changed = new Set([...highlight, ...diff(before, route)]);
  const pending = new Set((await outbox.all()).map((i) => i.action.order_id).filter(Boolean));
  for (const id of Object.keys(state.local)) {
    // the server's status is authoritative once nothing about the stop is waiting in the outbox
    if (!pending.has(id) || !stopById(id)) delete state.local[id];
  }
  for (const id of changed) if (stopById(id)) state.changed.add(id);
  const removed = before && before.route_id === route.route_id
    ? before.stops.filter((s) => !stopById(s.order_id)).map((s) => s.order_id) : [];
  if (before && (changed.size || removed.length) && before.version !== route.version) {
    const parts = [];
    if (changed.size) parts.push(`${changed.size} stop${changed.size > 1 ? "s" : ""} changed`);
    if (removed.length) parts.push(`${removed.length} removed (${removed.join(", ")})`);
    banner(`Route updated: ${parts.join(", ")}.`, "info", 10000);
  }
  await saveLocal();
  await ensureVehicle();
  render();
}

async function ensureVehicle() {
  const route = state.route;
  if (!route) return;
  let vehicle = route.vehicle_id || (await kv.get(`vehicle:${route.route_id}`));
  if (!vehicle) {
    try {
      const full = await call("GET", `/api/v1/routes/${encodeURIComponent(route.route_id)}`);
      vehicle = full.vehicle_id || (full.vehicle && full.vehicle.id) || null;
      if (vehicle) await kv.set(`vehicle:${route.route_id}`, vehicle);
    } catch { vehicle = null; }
  }
  state.vehicleId = vehicle;
  const active = route.stops.some((s) => !DONE.has(statusOf(s)));
  let device = await kv.get("device_id");
  if (!device) { device = `phone-${uuid().slice(0, 8)}`; await kv.set("device_id", device); }
  gps.shift(Boolean(vehicle) && active && !state.onBreak, vehicle, device);
}

async function fetchRoute({highlight = []} = {}) {
  try {
    const route = await call("GET", "/api/v1/driver/route");
    await setRoute(route, {highlight});
    return true;
  } catch (err) {
    if (err.status === 401) { await signOut("Your session expired: sign in again."); return false; }
    if (err.status === 404) {
      state.route = null;
      await kv.del("route");
      render();
      $("#route-empty").hidden = false;
      $("#route-empty").textContent = err.message || "No route for you today.";
      return false;
    }
    if (err.offline) banner("Offline: showing the route saved on this phone.", "warn");
    else banner(`Could not load the route: ${err.message}`, "error");
    return false;
  }
}

function render() {
  if (state.view === "login") return;
  const route = state.route;
  $("#route-empty").hidden = Boolean(route);
  $("#route-title").textContent = route ? `${route.date || ""} · ${route.stops.length} stops` : "";
  if (!route) { $("#stops").innerHTML = ""; return; }
  const next = renderStops(route, statusOf, pendingOf, state.changed);
  if (!$("#map").hidden) map.draw(route, statusOf, next && next.order_id, openStop);
  const brk = $("#break-button");
  brk.textContent = state.onBreak ? "End break" : "Start break";
  brk.dataset.onBreak = String(state.onBreak);
  if (state.view === "stop" && state.current) renderStop();
  renderConflicts();
}

async function renderConflicts() {
  const list = (await kv.get("conflicts")) || [];
  $("#conflicts").hidden = list.length === 0;
  $("#conflict-count").textContent = String(list.length);
  $("#conflict-list").innerHTML = list.map((c) => `<li data-status="${esc(c.status)}" data-order="${esc(c.order_id || "")}">
    <strong>${esc(c.status)}</strong> ${esc(c.type)} ${esc(c.order_id || "")}: ${esc(c.message)}</li>`).join("");
}

function renderStop() {
  const stop = stopById(state.current);
  if (!stop) { show("route"); render(); return; }
  const status = statusOf(stop);
  renderStopDetail(stop, status, pendingOf(stop), state.currentChanged || state.changed.has(stop.order_id));
  wireContact(stop);
  const open = !DONE.has(status);
  $("#arrive-button").hidden = !open || status === "arrived";
  $("#complete-button").hidden = !open;
  $("#fail-button").hidden = !open;
}

/** In-app contact: POST /api/v1/driver/stops/{id}/message (needs the network; never queued, it is urgent). */
async function sendContact(stop, template) {
  const result = $("#contact-result");
  const text = $("#contact-text").value.trim();
  result.textContent = "Sending…";
  try {
    const answer = await call("POST", `/api/v1/driver/stops/${encodeURIComponent(stop.order_id)}/message`, {
      json: {template, text: text || undefined, client_message_id: uuid()}});
    result.textContent = answer.status === "suppressed"
      ? `Not sent: the customer ${answer.status_reason === "opted_out" ? "opted out of messages" : "has no contact"}.`
      : answer.status_reason === "quiet_hours"
        ? `Queued: quiet hours for the customer until ${new Date(answer.not_before).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"})}.`
        : `Sent by ${answer.channel === "email" ? "e-mail" : answer.channel.toUpperCase()}.`;
  } catch (err) {
    result.textContent = err.offline ? "Offline: the message needs a connection." : `Not sent: ${err.message}`;
  }
}

function wireContact(stop) {
  const sheet = $("#contact-sheet");
  $("#contact-button").addEventListener("click", () => { sheet.hidden = !sheet.hidden; });
  $("#contact-close").addEventListener("click", () => { sheet.hidden = true; });
  sheet.querySelectorAll("[data-template]").forEach((b) =>
    b.addEventListener("click", () => sendContact(stop, b.dataset.template)));
}

function openStop(orderId) {
  state.current = orderId;
  state.currentChanged = state.changed.delete(orderId); // shown once on the stop, then considered seen
  if (state.currentChanged) saveLocal();
  show("stop");
  renderStop();
}

// ---------------------------------------------------------------- actions

async function makeAction(type, orderId, payload = {}) {
  const fix = await gps.current(1500);
  return {
    client_action_id: uuid(), type, route_id: state.route.route_id, order_id: orderId ?? null,
    device_time: new Date().toISOString(),
    lat: fix ? fix.lat : null, lng: fix ? fix.lng : null, accuracy_m: fix ? fix.accuracy_m : null, payload,
  };
}

async function queue(type, orderId, payload = {}, mediaIds = [], localStatus = null) {
  const action = await makeAction(type, orderId, payload);
  if (localStatus && orderId) { state.local[orderId] = localStatus; await saveLocal(); }
  await sync.enqueue(action, mediaIds);
  render();
  return action;
}

async function ensureArrived(stop) {
  if (statusOf(stop) !== "arrived") await queue("arrive", stop.order_id, {}, [], "arrived");
}

async function completeStop(stop, payload, mediaIds, {missing, extra}) {
  await ensureArrived(stop);
  await queue("complete", stop.order_id, payload, mediaIds, "delivered");
  const flags = [missing.length && `missing parcels ${missing.join(", ")}`, extra.length && `extra ${extra.join(", ")}`]
    .filter(Boolean);
  banner(`Delivered: ${stop.customer_name}${flags.length ? ` (flagged: ${flags.join("; ")})` : ""}.`
    + (navigator.onLine ? "" : " Saved on the phone; it syncs when you are back online."), "ok");
  show("route");
  render();
}

async function settled(action, result) {
  if (result.status === "conflict" || result.status === "rejected") {
    if (action.order_id && state.local[action.order_id]) delete state.local[action.order_id];
    await saveLocal();
    $("#conflicts").open = true;
    const stop = action.order_id ? stopById(action.order_id) : null;
    banner(`${result.status === "conflict" ? "Conflict" : "Rejected"}: ${action.type}`
      + `${stop ? ` at ${stop.customer_name}` : ""}: ${result.message || ""}`, "error", 0);
  }
  const left = await outbox.count();
  if (left === 0 && navigator.onLine) await fetchRoute();
  else render();
}

function liveEvent(name, data) {
  if (name !== "route_changed") return;
  const ids = (data && data.changed_order_ids) || [];
  if (state.route && data && data.version && data.version === state.route.version && data.route_id === state.route.route_id
    && !ids.length) return;
  fetchRoute({highlight: ids});
}

async function signOut(message) {
  await setToken(null);
  await kv.del("route");
  if (window.caches) await caches.delete("baton-driver-data"); // the service worker's copy of the route
  live.stop();
  gps.shift(false, null, null);
  show("login");
  if (message) { $("#login-error").textContent = message; $("#login-error").hidden = false; }
}

// ---------------------------------------------------------------- wiring

function wire() {
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    $("#login-error").hidden = true;
    try {
      await login(f.username.value.trim(), f.password.value);
      f.password.value = "";
      await enter();
    } catch (err) {
      $("#login-error").textContent = err.status === 401 || err.status === 400 ? "Wrong e-mail or password."
        : err.offline ? "No connection: signing in needs the network once." : err.message;
      $("#login-error").hidden = false;
    }
  });
  $("#stops").addEventListener("click", (e) => {
    const li = e.target.closest("li[data-order]");
    if (li) openStop(li.dataset.order);
  });
  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.addEventListener("click", () => {
      for (const t of document.querySelectorAll("[data-tab]")) t.setAttribute("aria-selected", String(t === tab));
      for (const p of document.querySelectorAll("[data-tab-panel]")) p.hidden = p.dataset.tabPanel !== tab.dataset.tab;
      render();
    });
  }
  for (const back of document.querySelectorAll("[data-go]")) {
    back.addEventListener("click", () => {
      if (back.dataset.go === "stop" && state.current) { show("stop"); renderStop(); } else { show("route"); render(); }
    });
  }
  $("#arrive-button").addEventListener("click", async () => {
    const stop = stopById(state.current);
    if (stop) { await queue("arrive", stop.order_id, {}, [], "arrived"); renderStop(); }
  });
  $("#complete-button").addEventListener("click", async () => {
    const stop = stopById(state.current);
    if (!stop) return;
    await completion.open(stop);
    show("complete");
    completion.shown();
  });
  $("#fail-button").addEventListener("click", () => {
    const stop = stopById(state.current);
    if (!stop) return;
    $("#fail-form").reset();
    state.failPhotos = [];
    $("#fail-thumbs").innerHTML = "";
    $("#fail-stop").textContent = `· ${stop.sequence} ${stop.customer_name}`;
    show("fail");
  });
  $("#fail-photo").addEventListener("change", async (e) => {
    for (const file of [...e.target.files]) {
      const {blob} = await compressImage(file);
      state.failPhotos.push(await keep(blob, "image/jpeg"));
    }
    e.target.value = "";
    $("#fail-thumbs").textContent = `${state.failPhotos.length} photo(s)`;
  });
  $("#fail-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const stop = stopById(state.current);
    const f = e.target.elements;
    if (!stop || !f.reason.value) return;
    await ensureArrived(stop);
    await queue("fail", stop.order_id, {reason: f.reason.value, photo_sha256s: state.failPhotos.map((p) => p.sha256),
      notes: f.notes.value.trim() || null}, state.failPhotos.map((p) => p.id), "failed_attempt");
    state.failPhotos = [];
    banner(`Failed attempt recorded: ${stop.customer_name} (${f.reason.value.replaceAll("_", " ")}).`, "warn");
    show("route");
    render();
  });
  $("#break-button").addEventListener("click", async () => {
    if (!state.route) return;
    state.onBreak = !state.onBreak;
    await kv.set("on_break", state.onBreak);
    await queue(state.onBreak ? "break_start" : "break_end", null);
    await ensureVehicle();
    render();
  });
  $("#issue-button").addEventListener("click", () => { $("#issue-form").reset(); show("issue"); });
  $("#issue-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    if (!state.route || !f.kind.value) return;
    await queue("report_issue", null, {kind: f.kind.value, notes: f.notes.value.trim() || null});
    banner("Issue reported to the dispatcher.", "ok");
    show("route");
    render();
  });
  $("#sync-status").addEventListener("click", () => sync.flush());
  $("#logout-button").addEventListener("click", async () => {
    const queued = await outbox.count();
    if (queued && !window.confirm(`${queued} action(s) are not synced yet. Sign out anyway? They stay on this phone.`)) return;
    await signOut();
  });
  window.addEventListener("online", () => { banner("Back online: syncing…", "ok", 3000); fetchRoute(); });
  window.addEventListener("offline", () => banner("Offline: actions are saved on the phone.", "warn"));
}

async function enter() {
  show("route");
  const saved = await kv.get("route");
  if (saved) state.route = saved;
  render();
  await fetchRoute();
  live.start();
  if (refreshTimer) { await sync.flush(); return; } // signed in again: the workers are running
  gps.start();
  // changes the event stream does not announce (e.g. a cancelled stop) show up within REFRESH_MS
  refreshTimer = setInterval(async () => {
    if (navigator.onLine && state.view !== "login" && !(await outbox.count())) fetchRoute();
  }, REFRESH_MS);
  await sync.start();
}

async function boot() {
  wire();
  state.local = (await kv.get("local_status")) || {};
  state.changed = new Set((await kv.get("changed")) || []);
  state.onBreak = Boolean(await kv.get("on_break"));
  await showSync(await sync.status());
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/driver/sw.js", {scope: "/driver/"}).catch((err) => console.warn("service worker:", err));
  }
  if (await token()) await enter(); else show("login");
  document.body.dataset.ready = "true";
}

boot();
