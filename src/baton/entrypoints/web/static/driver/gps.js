// GPS: the latest fix (attached to every action) and position pings while on shift.
//
// Pings go to POST /api/v1/execution/positions ({"pings": [...]}, see baton.execute.pings):
// {vehicle_id, device_id, lat, lng, accuracy_m, speed_mps?, heading_deg?, ts}. Interval, battery-aware:
//   NORMAL_MS (15 s); LOW_BATTERY_MS (60 s) when the Battery Status API says < 20 % and not charging;
//   paused while stationary (moved < STATIONARY_M since the last ping sent), with a heartbeat every
//   HEARTBEAT_MS. Pings taken offline are buffered (at most BUFFER_MAX, oldest dropped) and sent
//   together when the network returns (the server keys them by device and timestamp: no duplicates).
import {call} from "./api.js";

export const NORMAL_MS = 15000;
export const LOW_BATTERY_MS = 60000;
export const HEARTBEAT_MS = 300000;
export const STATIONARY_M = 25;
export const BUFFER_MAX = 500;
const MAX_ACCURACY_M = 250;

function distanceM(a, b) {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dp = (b.lat - a.lat) * rad;
  const dl = (b.lng - a.lng) * rad;
  const h = Math.sin(dp / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dl / 2) ** 2;
  return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
}

export class Gps {
  constructor({onStatus = () => {}} = {}) {
    this.onStatus = onStatus;
    this.fix = null;          // {lat, lng, accuracy_m, speed_mps, heading_deg, ts (ms)}
    this.watchId = null;
    this.vehicleId = null;
    this.deviceId = null;
    this.onShift = false;
    this.lastSent = null;
    this.lastSentAt = 0;
    this.buffer = [];
    this.battery = null;
    this.timer = null;
    this.sending = false;
    this.sent = 0;
    this.refused = null;
  }

  async start() {
    if (!("geolocation" in navigator)) { this.onStatus("GPS unavailable"); return; }
    this.watchId = navigator.geolocation.watchPosition(
      (p) => this._fix(p), (e) => this.onStatus(`GPS: ${e.message || "no permission"}`),
      {enableHighAccuracy: true, maximumAge: 5000, timeout: 30000});
    if (navigator.getBattery) {
      try { this.battery = await navigator.getBattery(); } catch { this.battery = null; }
    }
    window.addEventListener("online", () => this.flush());
    this._schedule();
  }

  /** The current fix, or a fresh one (at most waitMs), or null. */
  async current(waitMs = 3000) {
    if (this.fix && Date.now() - this.fix.ts < 60000) return this.fix;
    if (!("geolocation" in navigator)) return this.fix;
    return new Promise((resolve) => {
      navigator.geolocation.getCurrentPosition((p) => { this._fix(p); resolve(this.fix); },
        () => resolve(this.fix), {enableHighAccuracy: true, timeout: waitMs, maximumAge: 10000});
    });
  }

  /** Going on shift sends a first ping at once; off shift (signed out, on a break, route done) stops pings. */
  shift(onShift, vehicleId, deviceId) {
    const starting = onShift && !this.onShift;
    this.onShift = onShift;
    this.vehicleId = vehicleId;
    this.deviceId = deviceId;
    if (starting) this.current().then(() => this.tick());
  }

  _status() {
    const f = this.fix;
    if (!f) return;
    const pings = this.onShift ? ` · ${this.sent} ${this.sent === 1 ? "ping" : "pings"}${this.buffer.length ? ` (${this.buffer.length} waiting)` : ""}` : "";
    this.onStatus(`GPS ±${Math.round(f.accuracy_m)} m${pings}${this.refused ? ` · refused: ${this.refused}` : ""}`);
  }

  intervalMs() {
    const b = this.battery;
    if (b && !b.charging && b.level < 0.2) return LOW_BATTERY_MS;
    return NORMAL_MS;
  }

  _fix(p) {
    const c = p.coords;
    this.fix = {lat: c.latitude, lng: c.longitude, accuracy_m: c.accuracy,
      speed_mps: c.speed === null || Number.isNaN(c.speed) ? null : Math.max(0, c.speed),
      heading_deg: c.heading === null || Number.isNaN(c.heading) ? null : c.heading % 360, ts: p.timestamp || Date.now()};
    this._status();
  }

  _schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      await this.tick();
      this._schedule();
    }, this.intervalMs());
  }

  /** Take one ping (unless stationary or off shift) and send what is buffered. */
  async tick() {
    const fix = this.fix;
    if (!this.onShift || !this.vehicleId || !fix || fix.accuracy_m > MAX_ACCURACY_M) return;
    const moved = this.lastSent ? distanceM(this.lastSent, fix) : Infinity;
    const stationary = moved < STATIONARY_M && (fix.speed_mps === null || fix.speed_mps < 1);
    if (stationary && Date.now() - this.lastSentAt < HEARTBEAT_MS) return;
    const ping = {vehicle_id: this.vehicleId, device_id: this.deviceId || this.vehicleId, lat: fix.lat, lng: fix.lng,
      accuracy_m: fix.accuracy_m, ts: new Date(fix.ts).toISOString()};
    if (fix.speed_mps !== null) ping.speed_mps = fix.speed_mps;
    if (fix.heading_deg !== null) ping.heading_deg = fix.heading_deg;
    if (this.buffer.length && this.buffer[this.buffer.length - 1].ts === ping.ts) return;
    this.buffer.push(ping);
    if (this.buffer.length > BUFFER_MAX) this.buffer.splice(0, this.buffer.length - BUFFER_MAX);
    this.lastSent = fix;
    this.lastSentAt = Date.now();
    await this.flush();
  }

  async flush() {
    if (this.sending || !this.buffer.length) return;
    this.sending = true;
    const batch = this.buffer.slice();
    try {
      await call("POST", "/api/v1/execution/positions", {json: {pings: batch}});
      this.buffer.splice(0, batch.length);
      this.sent += batch.length;
      this.refused = null;
    } catch (err) {
      if (!err.offline && err.status !== 503) {
        this.buffer.splice(0, batch.length); // refused: do not resend
        this.refused = err.message;
      }
    } finally {
      this.sending = false;
      this._status();
    }
  }
}
