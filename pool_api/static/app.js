/* proverpool dashboard: routing, the range picker, live events and the start.
 *
 * Reads the public API: /v1/stats/… (overview, jobs, a job, health, leaderboard, a
 * contributor, display unit), /v1/nodes; follows /v1/events (server-sent events) for live
 * progress and falls back to polling whenever the stream is absent or drops. Pages:
 * #/ (overview), #/jobs/<id>, #/contributors/<id>.
 */
import { $, RANGES, getJSON, markDirty, parseExact, register, showError, state, tick, visibleParts } from "./core.js";
import { loadContributor } from "./contributor.js";
import { ago, setUnit } from "./format.js";
import { loadJob } from "./job.js";
import { loadHealth, loadJobs, loadLeaderboard, loadOverview, onEventStream, onJobProgress } from "./overview.js";

const STREAM_RETRY_MS = 10000;
const RANGE_KEY = "proverpool.range";

register("overview", loadOverview);
register("jobs", loadJobs);
register("leaderboard", loadLeaderboard);
register("health", loadHealth);
register("contributor", () => guarded(loadContributor));
register("job", () => guarded(loadJob));

/** A page of one thing: an unknown or malformed id shows the "not found" view. */
async function guarded(loader) {
  try {
    await loader();
  } catch (error) {
    if (error.status === 404 || error.status === 422) {
      showView("missing");
      return;
    }
    throw error;
  }
}

// ------------------------------------------------------------------ routing

function showView(name) {
  for (const view of ["overview", "contributor", "job", "missing"]) $(`view-${view}`).hidden = view !== name;
}

function route() {
  const hash = window.location.hash || "#/";
  const contributor = hash.match(/^#\/contributors\/(\d{1,10})$/);
  const job = hash.match(/^#\/jobs\/([0-9a-f]{1,32})$/);
  if (hash === "#/" || hash === "#") {
    state.view = "overview";
  } else if (contributor) {
    state.view = "contributor";
    state.contributorId = contributor[1];
  } else if (job) {
    state.view = "job";
    state.jobId = job[1];
  } else {
    state.view = "missing";
  }
  showView(state.view);
  window.scrollTo(0, 0);
  visibleParts().forEach(markDirty);
}

// ------------------------------------------------------------------ range picker

function paintRange() {
  for (const button of document.querySelectorAll("#range-picker button")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === state.range.key));
  }
}

function setupRange() {
  const saved = RANGES.find((r) => r.key === window.localStorage.getItem(RANGE_KEY));
  if (saved) state.range = saved;
  $("range-picker").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-range]");
    if (!button) return;
    state.range = RANGES.find((r) => r.key === button.dataset.range) || state.range;
    window.localStorage.setItem(RANGE_KEY, state.range.key);
    paintRange();
    ["overview", "health", "contributor"].forEach((part) => visibleParts().includes(part) && markDirty(part));
  });
  paintRange();
}

// ------------------------------------------------------------------ live events

const EVENT_TYPES = ["job.progress", "job.submitted", "job.queued", "job.cancelled", "node.joined", "node.left", "reward.posted"];

const stream = {
  source: null,
  path: null,
  retryTimer: null,

  start(path) {
    if (this.source || this.retryTimer || typeof EventSource === "undefined") return;
    this.path = path;
    const source = new EventSource(path);
    this.source = source;
    source.onopen = () => setLive(true);
    source.onerror = () => {
      setLive(false);
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.start(this.path);
        }, STREAM_RETRY_MS);
      }
    };
    const handle = (message) => {
      let event;
      try {
        event = parseExact(message.data);
      } catch (_) {
        return;
      }
      dispatch(message.type && message.type !== "message" ? message.type : event.type, event);
    };
    source.onmessage = handle;
    for (const type of EVENT_TYPES) source.addEventListener(type, handle);
  },
};

function dispatch(type, event) {
  if (type === "job.progress") {
    onJobProgress(event);
    if (state.view === "job" && event.job_id === state.jobId) markDirty("job");
  } else if (type && type.startsWith("job.")) {
    markDirty("jobs");
    markDirty("overview");
    markDirty("health");
  } else if (type && type.startsWith("node.")) {
    markDirty("overview");
    if (state.view === "contributor") markDirty("contributor");
  } else if (type === "reward.posted") {
    markDirty("leaderboard");
    if (state.view === "contributor") markDirty("contributor");
    if (state.view === "job" && event.job_id === state.jobId) markDirty("job");
  }
}

function setLive(connected) {
  if (state.streamConnected !== connected) {
    state.streamConnected = connected;
    // Catch up on whatever happened while the stream was down.
    if (connected) visibleParts().forEach((part) => state.dirty.add(part));
  }
  const live = $("live");
  live.className = `live ${connected ? "live--connected" : "live--polling"}`;
  live.textContent = connected ? "live" : "polling";
}

onEventStream((path) => stream.start(path));

// ------------------------------------------------------------------ start

async function start() {
  setLive(false);
  try {
    setUnit(await getJSON("/v1/stats/display"));
  } catch (error) {
    showError(`Could not read the display unit (showing base units): ${error.message}`);
  }
  setupRange();
  window.addEventListener("hashchange", route);
  route();
  tick();
  setInterval(tick, 500);
  setInterval(() => {
    for (const cell of document.querySelectorAll("td.time time")) cell.parentElement.title = ago(new Date(cell.getAttribute("datetime")));
  }, 5000);
}

start();
