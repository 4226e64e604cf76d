/* proverpool dashboard.
 *
 * Reads the public API: /v1/stats/overview, /v1/stats/leaderboard, /v1/stats/contributors/<id>,
 * /v1/jobs; follows /v1/events (server-sent events) for live progress and falls back to polling
 * whenever the stream is absent or drops.
 *
 * Amounts (every "…_units" field) are exact integers that may exceed 2^53: they are read as
 * strings before JSON.parse and formatted with BigInt, never through floating point. Charts
 * plot approximate numbers, but their legends show the exact values.
 */
"use strict";

(() => {
  const JOBS_LIMIT = 20;
  const POLL_LIVE_MS = { overview: 15000, jobs: 10000, leaderboard: 15000, contributor: 15000 };
  const POLL_FALLBACK_MS = { overview: 4000, jobs: 1500, leaderboard: 4000, contributor: 4000 };
  const STREAM_RETRY_MS = 10000;

  // ------------------------------------------------------------------ helpers

  const $ = (id) => document.getElementById(id);

  /** Parse JSON keeping every "…_units" integer exact (as a decimal string). */
  function parseExact(text) {
    return JSON.parse(text.replace(/("[A-Za-z0-9_]*_units"\s*:\s*)(-?\d+)/g, '$1"$2"'));
  }

  async function getJSON(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    const text = await response.text();
    if (!response.ok) {
      let detail = text;
      try { detail = JSON.parse(text).detail; } catch (_) { /* not JSON */ }
      const error = new Error(`${path}: ${response.status} ${typeof detail === "string" ? detail : ""}`);
      error.status = response.status;
      throw error;
    }
    return parseExact(text);
  }

  /** "1234567" → "1,234,567", exactly, for any size. */
  function formatUnits(value) {
    if (value === null || value === undefined) return "–";
    const text = String(value);
    if (!/^-?\d+$/.test(text)) return text;
    return BigInt(text).toLocaleString("en-US");
  }

  function parseTime(iso) {
    // Naive timestamps from the API are UTC.
    return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  }

  function ago(date) {
    const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return date.toISOString().slice(0, 10);
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function setText(id, text) {
    const node = $(id);
    if (node.dataset.text === text) return;
    node.dataset.text = text;
    if (!node.classList.contains("card__value")) {
      node.textContent = text;
      return;
    }
    // Long amounts may wrap, but only after a thousands separator.
    const parts = text.split(",");
    node.replaceChildren(...parts.flatMap((part, i) => (i ? [",", document.createElement("wbr"), part] : [part])));
    node.classList.toggle("card__value--long", text.length > 12);
  }

  function sizeLabel(size) {
    const n = Number(size);
    if (n > 0 && Number.isInteger(Math.log2(n))) return `2^${Math.log2(n)}`;
    return n.toLocaleString("en-US");
  }

  let bannerTimer = null;
  function showError(message) {
    const banner = $("error-banner");
    banner.textContent = message;
    banner.hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => { banner.hidden = true; }, 8000);
  }

  // ------------------------------------------------------------------ charts

  function chartWidth(container) {
    return Math.max(240, container.clientWidth);
  }

  /** A uPlot line chart of exact integer strings; legend shows the exact value. */
  class LineChart {
    constructor(container, label, color, style) {
      this.container = container;
      this.exact = [];
      this.plot = null;
      this.label = label;
      this.color = color;
      this.style = style; // "bars" or "stepped"
      new ResizeObserver(() => {
        if (this.plot) this.plot.setSize({ width: chartWidth(this.container), height: 220 });
      }).observe(container);
    }

    update(times, exactValues) {
      this.exact = exactValues;
      const data = [times, exactValues.map((v) => Number(v))];
      if (this.plot) {
        this.plot.setData(data);
        return;
      }
      const exact = () => this.exact;
      const series = {
        label: this.label,
        stroke: this.color,
        fill: `${this.color}22`,
        width: 2,
        points: { show: false },
        value: (u, v, si, index) => (index == null ? "–" : formatUnits(exact()[index])),
      };
      const paths = window.uPlot.paths || {};
      if (this.style === "stepped" && paths.stepped) series.paths = paths.stepped({ align: 1 });
      if (this.style === "bars" && paths.bars) {
        series.paths = paths.bars({ size: [0.8, 24] });
        series.fill = `${this.color}aa`;
        series.width = 0;
      }
      this.plot = new window.uPlot(
        {
          width: chartWidth(this.container),
          height: 220,
          series: [{}, series],
          scales: { y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
          axes: [
            { stroke: "#8a90a2", grid: { stroke: "#8a90a233" } },
            {
              stroke: "#8a90a2",
              grid: { stroke: "#8a90a233" },
              size: 64,
              incrs: INTEGER_INCREMENTS,
              values: (u, ticks) => ticks.map((t) => compactNumber(t)),
            },
          ],
          cursor: { drag: { x: false, y: false } },
        },
        data,
        this.container,
      );
    }
  }

  /** Axis ticks: whole numbers in steps of 1, 2 and 5 times a power of ten. */
  const INTEGER_INCREMENTS = [];
  for (let power = 1; power < 1e78; power *= 10) INTEGER_INCREMENTS.push(power, 2 * power, 5 * power);

  const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

  /** Axis labels only (approximate by nature): 1.2K, 3.4M, 5.6T, then 7.8e18. */
  function compactNumber(value) {
    if (Math.abs(value) >= 1e15) return value.toExponential(1).replace("e+", "e");
    return COMPACT.format(value);
  }

  // ------------------------------------------------------------------ state

  const state = {
    view: "overview",
    contributorId: null,
    streamConnected: false,
    last: { overview: 0, jobs: 0, leaderboard: 0, contributor: 0 },
    inflight: {},
    dirty: new Set(["overview", "jobs", "leaderboard"]),
    jobRows: new Map(),
  };

  let throughputChart = null;
  let earningsChart = null;

  // ------------------------------------------------------------------ overview

  async function loadOverview() {
    const data = await getJSON("/v1/stats/overview?window_minutes=60");
    setText("stat-nodes-online", formatUnits(data.nodes_online));
    setText("stat-nodes-registered", `${formatUnits(data.nodes_registered)} registered`);
    setText("stat-gpus", formatUnits(data.gpus_online));
    setText("stat-gpus-registered", `${formatUnits(data.gpus_registered)} registered`);
    setText("stat-contributors", formatUnits(data.contributors));
    const jobs = data.jobs_by_status;
    setText("stat-jobs-running", formatUnits(jobs.running || 0));
    setText("stat-jobs-other", `${formatUnits(jobs.queued || 0)} queued · ${formatUnits(jobs.done || 0)} done`);
    let hour = 0n;
    for (const point of data.throughput) hour += BigInt(point.work_units);
    setText("stat-work-hour", formatUnits(hour.toString()));
    setText("stat-work-total", `${formatUnits(data.work_units_total)} in all`);
    if (!throughputChart) throughputChart = new LineChart($("throughput-chart"), "work units / min", "#4f46e5", "bars");
    throughputChart.update(
      data.throughput.map((p) => parseTime(p.minute_start).getTime() / 1000),
      data.throughput.map((p) => p.work_units),
    );
    if (data.event_stream_path) stream.start(data.event_stream_path);
  }

  // ------------------------------------------------------------------ jobs

  function jobPercent(done, total, status) {
    if (status === "done") return 100;
    if (!total) return 0;
    return Math.min(100, Math.floor((100 * done) / total));
  }

  function makeJobRow(job) {
    const bar = el("div", { class: "progress__bar" });
    const progress = el(
      "div",
      { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" },
      bar,
    );
    const label = el("span", { class: "progress__label" });
    const badge = el("span", { class: "badge" });
    const when = el("td", { class: "hint" });
    const row = el(
      "tr",
      { "data-job-id": job.id },
      el("td", { class: "mono", title: job.id, text: job.id.slice(0, 12) }),
      el("td", { text: `${job.kind.toUpperCase()} · ${job.curve || job.field || ""}` }),
      el("td", { class: "num", text: sizeLabel(job.size) }),
      el("td", {}, badge),
      el("td", {}, el("div", { class: "progress-cell" }, progress, label)),
      when,
    );
    const entry = { row, bar, progress, label, badge, when, created: parseTime(job.created_at) };
    state.jobRows.set(job.id, entry);
    return entry;
  }

  function paintJob(entry, done, total, status) {
    const percent = jobPercent(done, total, status);
    entry.progress.setAttribute("aria-valuenow", String(percent));
    entry.progress.setAttribute("aria-label", `${percent}% (${done} of ${total} chunks)`);
    entry.progress.classList.toggle("progress--done", status === "done");
    entry.progress.classList.toggle("progress--failed", status === "failed" || status === "cancelled");
    entry.bar.style.width = `${percent}%`;
    entry.label.textContent = total ? `${done}/${total}` : "–";
    entry.badge.textContent = status;
    entry.badge.className = `badge badge--${status}`;
    entry.row.dataset.status = status;
    entry.when.textContent = ago(entry.created);
  }

  async function loadJobs() {
    const page = await getJSON(`/v1/jobs?limit=${JOBS_LIMIT}`);
    const body = $("jobs-body");
    const keep = new Set(page.items.map((j) => j.id));
    for (const [id, entry] of state.jobRows) {
      if (!keep.has(id)) {
        entry.row.remove();
        state.jobRows.delete(id);
      }
    }
    page.items.forEach((job, index) => {
      const entry = state.jobRows.get(job.id) || makeJobRow(job);
      if (body.children[index] !== entry.row) body.insertBefore(entry.row, body.children[index] || null);
      paintJob(entry, job.progress.chunks_done, job.progress.chunks_total, job.status);
    });
    $("jobs-empty").hidden = page.items.length > 0;
    setText("jobs-total", `${formatUnits(page.total)} in all`);
  }

  function onJobProgress(event) {
    const entry = state.jobRows.get(event.job_id);
    if (!entry) {
      markDirty("jobs");
      return;
    }
    paintJob(entry, event.chunks_done, event.chunks_total, event.status);
    if (event.status !== "running") markDirty("overview");
  }

  // ------------------------------------------------------------------ leaderboard

  async function loadLeaderboard() {
    const rows = await getJSON("/v1/stats/leaderboard?limit=50");
    const body = $("leaderboard-body");
    body.replaceChildren(
      ...rows.map((r) =>
        el(
          "tr",
          { "data-contributor-id": String(r.contributor_id) },
          el("td", { class: "num", text: String(r.rank) }),
          el("td", {}, el("a", { href: `#/contributors/${r.contributor_id}`, text: r.name })),
          el("td", { class: "num", text: formatUnits(r.work_units) }),
          el("td", { class: "num", text: formatUnits(r.earned_units) }),
        ),
      ),
    );
    $("leaderboard-empty").hidden = rows.length > 0;
  }

  // ------------------------------------------------------------------ contributor page

  async function loadContributor() {
    const id = state.contributorId;
    let data;
    try {
      data = await getJSON(`/v1/stats/contributors/${id}?limit=1000`);
    } catch (error) {
      if (error.status === 404 || error.status === 422) {
        showView("missing");
        return;
      }
      throw error;
    }
    if (id !== state.contributorId) return;
    setText("contributor-name", data.name);
    setText(
      "contributor-meta",
      `contributor #${data.contributor_id} · joined ${parseTime(data.created_at).toISOString().slice(0, 10)}`,
    );
    setText("contributor-work", formatUnits(data.work_units));
    setText("contributor-earned", formatUnits(data.earned_units));
    setText("contributor-balance", formatUnits(data.balance_units));
    setText("contributor-nodes", String(data.nodes.length));
    const points = data.earnings;
    $("earnings-empty").hidden = points.length > 0;
    $("earnings-chart").hidden = points.length === 0;
    if (points.length > 0) {
      const start = Math.min(parseTime(data.created_at).getTime(), parseTime(points[0].at).getTime()) / 1000;
      const times = [start, ...points.map((p) => parseTime(p.at).getTime() / 1000)];
      const values = ["0", ...points.map((p) => p.cumulative_units)];
      if (!earningsChart) earningsChart = new LineChart($("earnings-chart"), "earned", "#12a150", "stepped");
      earningsChart.update(times, values);
    }
    $("earnings-body").replaceChildren(
      ...points
        .slice(-20)
        .reverse()
        .map((p) =>
          el(
            "tr",
            {},
            el("td", { class: "hint", text: parseTime(p.at).toLocaleString() }),
            el("td", { class: "mono", text: p.job_ref }),
            el("td", { class: "num", text: formatUnits(p.amount_units) }),
            el("td", { class: "num", text: formatUnits(p.cumulative_units) }),
          ),
        ),
    );
  }

  // ------------------------------------------------------------------ routing

  function showView(name) {
    for (const view of ["overview", "contributor", "missing"]) $(`view-${view}`).hidden = view !== name;
  }

  function route() {
    const hash = window.location.hash || "#/";
    const match = hash.match(/^#\/contributors\/(\d{1,10})$/);
    if (hash === "#/" || hash === "#") {
      state.view = "overview";
      showView("overview");
      ["overview", "jobs", "leaderboard"].forEach(markDirty);
    } else if (match) {
      state.view = "contributor";
      state.contributorId = match[1];
      showView("contributor");
      markDirty("contributor");
    } else {
      state.view = "missing";
      showView("missing");
    }
  }

  // ------------------------------------------------------------------ refresh loop

  const loaders = {
    overview: loadOverview,
    jobs: loadJobs,
    leaderboard: loadLeaderboard,
    contributor: loadContributor,
  };

  function visibleParts() {
    if (state.view === "overview") return ["overview", "jobs", "leaderboard"];
    if (state.view === "contributor") return ["contributor", "overview"];
    return ["overview"];
  }

  function markDirty(part) {
    state.dirty.add(part);
    queueMicrotask(tick);
  }

  async function refresh(part) {
    if (state.inflight[part]) return;
    state.inflight[part] = true;
    state.dirty.delete(part);
    try {
      await loaders[part]();
      state.last[part] = Date.now();
    } catch (error) {
      state.last[part] = Date.now();
      showError(`Could not refresh the ${part}: ${error.message}`);
    } finally {
      state.inflight[part] = false;
    }
  }

  function tick() {
    const periods = state.streamConnected ? POLL_LIVE_MS : POLL_FALLBACK_MS;
    const now = Date.now();
    for (const part of visibleParts()) {
      if (state.dirty.has(part) || now - state.last[part] >= periods[part]) refresh(part);
    }
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
    if (type === "job.progress") onJobProgress(event);
    else if (type && type.startsWith("job.")) {
      markDirty("jobs");
      markDirty("overview");
    } else if (type && type.startsWith("node.")) markDirty("overview");
    else if (type === "reward.posted") {
      markDirty("leaderboard");
      if (state.view === "contributor") markDirty("contributor");
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

  // ------------------------------------------------------------------ start

  function start() {
    setLive(false);
    window.addEventListener("hashchange", route);
    route();
    tick();
    setInterval(tick, 500);
    setInterval(() => {
      for (const entry of state.jobRows.values()) entry.when.textContent = ago(entry.created);
    }, 5000);
  }

  start();
})();
