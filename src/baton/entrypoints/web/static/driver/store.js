// IndexedDB storage of the driver app (database "baton-driver").
//
// Object stores:
//   kv     — key/value: "token" (bearer JWT), "route" (last GET /api/v1/driver/route body),
//            "vehicle_id", "on_break", "conflicts" (list), "changed" (order ids highlighted after a live change)
//   outbox — queued actions in creation order (auto-increment "seq"): {seq, action, media: [local ids],
//            state: "queued"|"sending", attempts, last_error}; "action" is the wire form of one
//            POST /api/v1/driver/actions item, with media referenced by local id until uploaded
//   media  — captured images: {id (local uuid), blob, content_type, sha256 (after upload) | null}

const DB_NAME = "baton-driver";
const DB_VERSION = 1;
let opened = null;

function promisify(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export function openDb() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv");
        if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", {keyPath: "seq", autoIncrement: true});
        if (!db.objectStoreNames.contains("media")) db.createObjectStore("media", {keyPath: "id"});
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return opened;
}

async function tx(storeName, mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(storeName, mode);
    const store = t.objectStore(storeName);
    let result;
    Promise.resolve(fn(store)).then((r) => { result = r; }, reject);
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error("transaction aborted"));
  });
}

export const kv = {
  get: (key) => tx("kv", "readonly", (s) => promisify(s.get(key))),
  set: (key, value) => tx("kv", "readwrite", (s) => promisify(s.put(value, key))),
  del: (key) => tx("kv", "readwrite", (s) => promisify(s.delete(key))),
};

export const outbox = {
  /** Append an action; returns its sequence number. */
  add: (action, media = []) => tx("outbox", "readwrite",
    (s) => promisify(s.add({action, media, state: "queued", attempts: 0, last_error: null, queued_at: Date.now()}))),
  all: () => tx("outbox", "readonly", (s) => promisify(s.getAll())),
  count: () => tx("outbox", "readonly", (s) => promisify(s.count())),
  put: (item) => tx("outbox", "readwrite", (s) => promisify(s.put(item))),
  remove: (seq) => tx("outbox", "readwrite", (s) => promisify(s.delete(seq))),
  clear: () => tx("outbox", "readwrite", (s) => promisify(s.clear())),
};

export const media = {
  add: (record) => tx("media", "readwrite", (s) => promisify(s.put(record))),
  get: (id) => tx("media", "readonly", (s) => promisify(s.get(id))),
  put: (record) => tx("media", "readwrite", (s) => promisify(s.put(record))),
  remove: (id) => tx("media", "readwrite", (s) => promisify(s.delete(id))),
  count: () => tx("media", "readonly", (s) => promisify(s.count())),
};

/** A random RFC 4122 version-4 UUID (crypto.randomUUID needs a secure context; localhost is one). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
