// api: every call the page makes to the server, with the analyst's key.
// The key lives in sessionStorage: it is gone when the tab closes and is
// never put in a URL. Errors become ApiError with the server's plain
// message, so the page never shows a stack trace.

const KEY_SLOT = "ledgerbox.key";
const SESSION_SLOT = "ledgerbox.session";

export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.retryAfter = extra.retryAfter || 0;
  }
}

export function getKey() {
  return sessionStorage.getItem(KEY_SLOT) || "";
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY_SLOT, key);
  else sessionStorage.removeItem(KEY_SLOT);
}

// One random session id per tab: the budget scope "session:ID".
export function sessionId() {
  let id = sessionStorage.getItem(SESSION_SLOT);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem(SESSION_SLOT, id);
  }
  return id;
}

function headers(extra) {
  return Object.assign({ Authorization: "Bearer " + getKey() }, extra || {});
}

async function errorFrom(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch (_) {
    body = null;
  }
  const e = (body && body.error) || {};
  const retry = parseInt(resp.headers.get("Retry-After") || "0", 10) || 0;
  return new ApiError(resp.status, e.code || "http_" + resp.status,
    e.message || `the server answered ${resp.status} ${resp.statusText}`,
    Object.assign({}, e, { retryAfter: retry }));
}

async function send(path, options = {}) {
  let resp;
  try {
    resp = await fetch(path, {
      method: options.method || "GET",
      headers: headers(options.headers),
      body: options.body,
      signal: options.signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "unreachable",
      "the ledgerbox server cannot be reached; check that it is running");
  }
  if (!resp.ok) throw await errorFrom(resp);
  return resp;
}

export async function getJson(path, options) {
  return (await send(path, options)).json();
}

export async function sendJson(method, path, value, options = {}) {
  const resp = await send(path, Object.assign({}, options, {
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(value),
  }));
  return resp.json();
}

export async function remove(path) {
  return (await send(path, { method: "DELETE" })).json();
}

export async function getBlob(path) {
  return (await send(path)).blob();
}

// format: {delimiter, decimal, dayfirst}, each left out when empty (the
// server then detects it).
export async function uploadCsv(name, table, file, format = {}) {
  const q = new URLSearchParams({ name, table });
  for (const [key, value] of Object.entries(format)) if (value) q.set(key, value);
  const resp = await send("/api/datasets?" + q, {
    method: "POST",
    headers: { "Content-Type": "text/csv" },
    body: file,
  });
  return resp.json();
}

// A new version of dataset `name` from a CSV file: "replace" (PUT) or
// "append" (POST .../rows).
export async function changeDataset(name, how, file) {
  const path = `/api/datasets/${encodeURIComponent(name)}` + (how === "append" ? "/rows" : "");
  const resp = await send(path, {
    method: how === "append" ? "POST" : "PUT",
    headers: { "Content-Type": "text/csv" },
    body: file,
  });
  return resp.json();
}

// Splits a server-sent event stream into {event, data} pairs.
function* sseEvents(buffer) {
  for (;;) {
    const end = buffer.text.indexOf("\n\n");
    if (end < 0) return;
    const block = buffer.text.slice(0, end);
    buffer.text = buffer.text.slice(end + 2);
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    yield { event, data: data.join("\n") };
  }
}

// POST /api/analyze as a stream. onEvent(name, value) sees status, token
// and stdout events; the promise ends with the result, or throws the
// ApiError a refusal or failure carries. Aborting `signal` hangs up,
// which stops the model and the sandbox on the server.
export async function analyzeStream(request, onEvent, signal) {
  const resp = await send("/api/analyze", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(request),
    signal,
  });
  const warning = resp.headers.get("X-Budget-Warning");
  if (warning) onEvent("warning", { message: warning });
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  const buffer = { text: "" };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer.text += decoder.decode(value, { stream: true });
    for (const ev of sseEvents(buffer)) {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch (_) {
        continue;
      }
      if (ev.event === "result") return data;
      if (ev.event === "error") {
        const e = data.error || {};
        throw new ApiError(data.status || 500, e.code || "failed",
          e.message || "the analysis failed", Object.assign({}, e, { retryAfter: data.retryAfter || 0 }));
      }
      onEvent(ev.event, data);
    }
  }
  throw new ApiError(0, "stream_ended",
    "the server closed the connection before the answer came; see History for the run");
}
