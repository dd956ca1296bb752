// The JSON API the app talks to (bearer token from IndexedDB). Errors are thrown as ApiError
// (status 0 = no network), carrying the server's problem+json "detail" when there is one.
import {kv} from "./store.js";

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
  get offline() { return this.status === 0; }
}

let cachedToken = null;

export async function token() {
  if (cachedToken === null) cachedToken = (await kv.get("token")) || "";
  return cachedToken;
}

export async function setToken(value) {
  cachedToken = value || "";
  if (value) await kv.set("token", value); else await kv.del("token");
}

function describe(body, status) {
  if (body && typeof body === "object") {
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
    if (body.title) return body.title;
  }
  return `HTTP ${status}`;
}

/** fetch with the bearer token; returns the parsed JSON (or null for an empty body). */
export async function call(method, path, {json, body, headers = {}, auth = true, signal} = {}) {
  const h = {...headers};
  if (auth) {
    const t = await token();
    if (t) h.Authorization = `Bearer ${t}`;
  }
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, {method, headers: h, body, signal, cache: "no-store"});
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "offline: no connection to the server");
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = text; }
  }
  if (!response.ok) throw new ApiError(response.status, describe(parsed, response.status), parsed);
  return parsed;
}

export async function login(email, password) {
  const form = new URLSearchParams({username: email, password});
  const body = await call("POST", "/api/v1/auth/token", {
    body: form, headers: {"Content-Type": "application/x-www-form-urlencoded"}, auth: false});
  await setToken(body.access_token);
  return body;
}
