// format: building elements and writing numbers, times and errors the way
// an analyst reads them. Text always goes in as text (never as HTML).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    // Through the CSSOM: the page's CSP refuses style attributes.
    else if (name === "style") Object.assign(node.style, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

// Amounts come from the server as exact decimal strings (micro-units, at
// most 6 decimals): shown as written, with at least 2 decimals, so the
// charges shown add up to the total shown to the micro-unit. Rounding each
// to a cent would show 0.015004 + 0.0005 beside a total of 0.02.
export function money(text, currency) {
  if (text === undefined || text === null) return "";
  const exact = /^(-?\d+)(?:\.(\d*))?$/.exec(String(text).trim());
  if (exact) {
    const cents = (exact[2] || "").replace(/0+$/, "").padEnd(2, "0");
    return `${exact[1]}.${cents} ${currency || ""}`.trim();
  }
  const n = Number(text);
  if (!Number.isFinite(n)) return String(text);
  const digits = Math.abs(n) > 0 && Math.abs(n) < 0.01 ? 6 : 2;
  return `${n.toFixed(digits)} ${currency || ""}`.trim();
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function duration(ms) {
  if (ms === undefined || ms === null) return "";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(1)} GiB`;
}

// What the analyst should read for a refused or failed request: the
// server's own message, and what to do when the refusal is temporary.
export function errorText(err) {
  if (!err) return "";
  if (err.name === "AbortError") return "Cancelled.";
  let text = err.message || "something went wrong";
  text = text.charAt(0).toUpperCase() + text.slice(1);
  if (!/[.!?]$/.test(text)) text += ".";
  if (err.status === 401) return text + " Sign in again with a valid key.";
  if ((err.status === 429 || err.status === 503) && err.retryAfter)
    return `${text} Try again in ${err.retryAfter} s.`;
  if (err.status === 429) return text + " Try again in a moment.";
  return text;
}

// Messages for a run that finished but did not succeed.
const STATUS_TEXT = {
  ok: "Finished",
  runtime_error: "The code failed",
  timeout: "Stopped: it ran longer than its time limit",
  cpu_limit: "Stopped: it used more CPU time than its limit",
  memory_limit: "Stopped: it needed more memory than its limit",
  output_limit: "Stopped: it printed more output than its limit",
  killed: "Stopped before it finished (cancelled, or killed from outside)",
  sandbox_error: "The sandbox could not run it",
};

export function statusText(status) {
  return STATUS_TEXT[status] || status || "unknown";
}

export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function csvField(value) {
  const s = value === null || value === undefined ? "" : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function announce(text) {
  const region = document.getElementById("announce");
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}
