// Live route changes: GET /api/v1/driver/events (Server-Sent Events) read with fetch streaming, so
// that the bearer token goes in the Authorization header (EventSource cannot set headers, and a
// token in the URL would end up in access logs). Reconnects with backoff (1 s doubling to 30 s).
// Each "route_changed" event ({route_id, version, changed_order_ids}) calls onEvent.
import {token} from "./api.js";

export class Live {
  constructor({onEvent = () => {}, onState = () => {}} = {}) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.controller = null;
    this.backoff = 1000;
    this.stopped = true;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this._connect();
    window.addEventListener("online", () => { this.backoff = 1000; if (!this.controller) this._connect(); });
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  async _connect() {
    if (this.stopped || this.controller) return;
    const controller = new AbortController();
    this.controller = controller;
    try {
      const response = await fetch("/api/v1/driver/events", {
        headers: {Authorization: `Bearer ${await token()}`, Accept: "text/event-stream"},
        signal: controller.signal, cache: "no-store"});
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      this.onState(true);
      this.backoff = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          this._dispatch(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch (err) {
      if (err && err.name === "AbortError" && this.stopped) return;
    } finally {
      this.controller = null;
      this.onState(false);
    }
    if (!this.stopped) {
      setTimeout(() => this._connect(), this.backoff);
      this.backoff = Math.min(30000, this.backoff * 2);
    }
  }

  _dispatch(block) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return;
    let payload;
    try { payload = JSON.parse(data.join("\n")); } catch { payload = data.join("\n"); }
    this.onEvent(event, payload);
  }
}
