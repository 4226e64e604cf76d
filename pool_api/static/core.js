/* proverpool dashboard: shared state, DOM helpers, the API reader and the refresh loop.
 *
 * Amounts (every "…_units" field) are exact integers that may exceed 2^53: they are read
 * as strings before JSON.parse and formatted with BigInt (format.js), never as floats.
 */

export const RANGES = [
  { key: "15m", label: "15 min", minutes: 15 },
  { key: "1h", label: "1 h", minutes: 60 },
  { key: "24h", label: "24 h", minutes: 1440 },
  { key: "7d", label: "7 d", minutes: 10080 },
];

export const state = {
  view: "overview",
  contributorId: null,
  jobId: null,
  range: RANGES[1],
  streamConnected: false,
  last: {},
  inflight: {},
  dirty: new Set(),
};

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** Parse JSON keeping every "…_units" integer exact (as a decimal string). */
export function parseExact(text) {
  return JSON.parse(text.replace(/("[A-Za-z0-9_]*_units"\s*:\s*)(-?\d+)/g, '$1"$2"'));
}

export async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const text = await response.text();
  if (!response.ok) {
    let detail = text;
    try {
      detail = JSON.parse(text).detail;
    } catch (_) {
      /* not JSON */
    }
    const error = new Error(`${path}: ${response.status} ${typeof detail === "string" ? detail : ""}`);
    error.status = response.status;
    throw error;
  }
  return parseExact(text);
}

/** Set a node's text only when it changed; big card values wrap at a separator only. */
export function setText(id, text) {
  const node = typeof id === "string" ? $(id) : id;
  if (node.dataset.text === text) return;
  node.dataset.text = text;
  if (!node.classList.contains("card__value")) {
    node.textContent = text;
    return;
  }
  // Long amounts wrap after their decimal point, else after a thousands separator.
  const separator = text.includes(".") ? "." : ",";
  const parts = text.split(separator);
  node.replaceChildren(...parts.flatMap((part, i) => (i ? [separator, document.createElement("wbr"), part] : [part])));
  node.classList.toggle("card__value--long", text.length > 12);
}

let bannerTimer = null;
export function showError(message) {
  const banner = $("error-banner");
  banner.textContent = message;
  banner.hidden = false;
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => {
    banner.hidden = true;
  }, 8000);
}

// ------------------------------------------------------------------ refresh loop

const loaders = {};
const POLL_LIVE_MS = 15000;
const POLL_FALLBACK_MS = 4000;
const periods = { jobs: [10000, 1500], job: [5000, 1500] };

/** Register the loader of a part of the page (e.g. "jobs"). */
export function register(part, loader) {
  loaders[part] = loader;
}

export function visibleParts() {
  if (state.view === "overview") return ["overview", "jobs", "leaderboard", "health"];
  if (state.view === "contributor") return ["contributor", "overview"];
  if (state.view === "job") return ["job", "overview"];
  return ["overview"];
}

export function markDirty(part) {
  state.dirty.add(part);
  queueMicrotask(tick);
}

async function refresh(part) {
  if (state.inflight[part]) return;
  state.inflight[part] = true;
  state.dirty.delete(part);
  try {
    await loaders[part]();
  } catch (error) {
    showError(`Could not refresh the ${part}: ${error.message}`);
  } finally {
    state.last[part] = Date.now();
    state.inflight[part] = false;
  }
}

export function tick() {
  const now = Date.now();
  for (const part of visibleParts()) {
    const [live, fallback] = periods[part] || [POLL_LIVE_MS, POLL_FALLBACK_MS];
    const period = state.streamConnected ? live : fallback;
    if (state.dirty.has(part) || now - (state.last[part] || 0) >= period) refresh(part);
  }
}
