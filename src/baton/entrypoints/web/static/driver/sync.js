// The outbox: every action is queued in IndexedDB first, then sent in creation order.
//
// One sync pass: (1) upload the media of the queued actions (POST /api/v1/driver/media, raw bytes;
// content-addressed on the server, so a retried upload stores nothing twice), (2) send the actions
// in order in batches (POST /api/v1/driver/actions). Per-action results:
//   applied | duplicate  -> done (duplicate = the server already had it: a retry after a lost answer)
//   conflict             -> done, kept in the conflict list shown to the driver
//   rejected             -> done, kept in the conflict list; the stop goes back to its server state
// A network failure stops the pass; it is retried on the "online" event, every RETRY_MS, and after
// each new action. An item is removed from the outbox only after its result is known, so a crash
// or a lost answer means a re-send, which the server answers "duplicate" (never a second POD).
import {ApiError, call, token} from "./api.js";
import {kv, media, outbox} from "./store.js";

export const RETRY_MS = 10000;
export const BATCH = 25;

export class Sync {
  constructor({onChange = () => {}, onResult = () => {}, onAuthLost = () => {}} = {}) {
    this.onChange = onChange;
    this.onResult = onResult;
    this.onAuthLost = onAuthLost;
    this.running = null;
    this.lastError = null;
    this.timer = null;
  }

  start() {
    window.addEventListener("online", () => this.flush());
    this.timer = setInterval(() => this.flush(), RETRY_MS);
    return this.flush();
  }

  async enqueue(action, mediaIds = []) {
    await outbox.add(action, mediaIds);
    await this.onChange(await this.status());
    this.flush();
  }

  async status() {
    return {queued: await outbox.count(), error: this.lastError, syncing: this.running !== null};
  }

  /** Run one sync pass (or join the running one). */
  flush() {
    if (!this.running) {
      this.running = this._pass().finally(async () => {
        this.running = null;
        await this.onChange(await this.status());
      });
    }
    return this.running;
  }

  async _pass() {
    if (!(await token())) return; // signed out: the outbox waits on the phone
    await this.onChange({...(await this.status()), syncing: true});
    try {
      for (;;) {
        const items = (await outbox.all()).sort((a, b) => a.seq - b.seq);
        if (!items.length) break;
        const batch = [];
        for (const item of items.slice(0, BATCH)) {
          if (await this._upload(item)) batch.push(item);
        }
        if (!batch.length) continue;
        const answer = await call("POST", "/api/v1/driver/actions", {json: {actions: batch.map((i) => i.action)}});
        const results = new Map((answer.results || answer || []).map((r) => [r.client_action_id, r]));
        for (const item of batch) {
          const result = results.get(item.action.client_action_id);
          if (!result) continue; // not answered: stays queued, re-sent next pass
          await this._settle(item, result);
        }
        if (batch.every((i) => !results.has(i.action.client_action_id))) {
          throw new ApiError(500, "the server answered no result for the queued actions");
        }
      }
      this.lastError = null;
    } catch (err) {
      this.lastError = err.offline ? "offline" : err.message;
      if (err.status === 401) this.onAuthLost();
    }
  }

  /** Upload the item's media; false when the server refused them (the item is then settled as rejected). */
  async _upload(item) {
    for (const id of item.media || []) {
      const record = await media.get(id);
      if (!record || record.uploaded) continue;
      let answer;
      try {
        answer = await call("POST", "/api/v1/driver/media", {body: record.blob,
          headers: {"Content-Type": record.content_type}});
      } catch (err) {
        if (err.status === 413 || err.status === 415 || err.status === 422) {
          // the server will never take these bytes: report it, and send the action without them
          await this._settle(item, {client_action_id: item.action.client_action_id, status: "rejected",
            message: `photo not accepted by the server: ${err.message}`});
          return false;
        }
        throw err;
      }
      if (answer.sha256 !== record.sha256) {
        throw new ApiError(500, `media: the server computed ${answer.sha256}, the phone ${record.sha256}`);
      }
      record.uploaded = true;
      record.blob = null; // the server has it: free the phone's storage
      await media.put(record);
    }
    return true;
  }

  async _settle(item, result) {
    await outbox.remove(item.seq);
    for (const id of item.media || []) await media.remove(id);
    if (result.status === "conflict" || result.status === "rejected") {
      const list = (await kv.get("conflicts")) || [];
      list.unshift({at: new Date().toISOString(), status: result.status, message: result.message || "",
        type: item.action.type, order_id: item.action.order_id, client_action_id: item.action.client_action_id});
      await kv.set("conflicts", list.slice(0, 50));
    }
    await this.onResult(item.action, result);
  }
}
