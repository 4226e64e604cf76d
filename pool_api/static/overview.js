/* proverpool dashboard: the overview — cards, throughput, jobs, leaderboard, pool health. */
import { $, el, getJSON, markDirty, setText, state } from "./core.js";
import { Chart } from "./charts.js";
import {
  badge,
  formatAmount,
  formatCount,
  formatPercent,
  jobLink,
  kindLabel,
  parseTime,
  sizeLabel,
  sizeText,
  timeCell,
  unit,
} from "./format.js";

const JOBS_LIMIT = 20;
let throughputChart = null;
const jobRows = new Map();
let onStream = null;

/** Called with the event stream's path once the overview names it. */
export function onEventStream(callback) {
  onStream = callback;
}

function bucketLabel(minutes) {
  return minutes === 60 ? "hour" : minutes === 1 ? "min" : `${minutes} min`;
}

export async function loadOverview() {
  const range = state.range;
  const data = await getJSON(`/v1/stats/overview?window_minutes=${range.minutes}`);
  setText("stat-nodes-online", formatCount(data.nodes_online));
  setText("stat-nodes-registered", `${formatCount(data.nodes_registered)} registered`);
  setText("stat-gpus", formatCount(data.gpus_online));
  setText("stat-gpus-registered", `${formatCount(data.gpus_registered)} registered`);
  setText("stat-contributors", formatCount(data.contributors));
  const jobs = data.jobs_by_status;
  setText("stat-jobs-running", formatCount(jobs.running || 0));
  setText("stat-jobs-other", `${formatCount(jobs.queued || 0)} queued · ${formatCount(jobs.done || 0)} done`);
  let sum = 0n;
  for (const point of data.throughput) sum += BigInt(point.work_units);
  setText("stat-work-label", `Work units, last ${range.label}`);
  setText("stat-work-range", formatCount(sum.toString()));
  setText("stat-work-total", `${formatCount(data.work_units_total)} in all`);
  $("empty-hint").hidden = data.nodes_online > 0;
  if (state.view === "overview") {
    const label = `work units / ${bucketLabel(data.bucket_minutes)}`;
    setText("throughput-hint", `last ${range.label}, UTC`);
    if (!throughputChart) {
      throughputChart = new Chart($("throughput-chart"), { label, color: "#4f46e5", style: "bars", format: formatCount });
    }
    throughputChart.setLabel(label);
    const times = data.throughput.map((p) => parseTime(p.minute_start).getTime() / 1000);
    const step = data.bucket_minutes * 60;
    throughputChart.update(times, data.throughput.map((p) => p.work_units), times[0] - step / 2, times[times.length - 1] + step / 2);
  }
  if (data.event_stream_path && onStream) onStream(data.event_stream_path);
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
  const status = el("td", {});
  const row = el(
    "tr",
    { "data-job-id": job.id },
    el("td", {}, jobLink(job.id)),
    el("td", { class: "kind", text: kindLabel(job) }),
    el("td", { class: "num", title: sizeText(job), text: job.kind === "groth16" ? formatCount(job.size) : sizeLabel(job.size) }),
    status,
    el("td", {}, el("div", { class: "progress-cell" }, progress, label)),
    timeCell(job.created_at),
  );
  const entry = { row, bar, progress, label, status };
  jobRows.set(job.id, entry);
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
  if (entry.row.dataset.status !== status) entry.status.replaceChildren(badge(status));
  entry.row.dataset.status = status;
}

export async function loadJobs() {
  const page = await getJSON(`/v1/stats/jobs?limit=${JOBS_LIMIT}`);
  const body = $("jobs-body");
  const keep = new Set(page.items.map((j) => j.id));
  for (const [id, entry] of jobRows) {
    if (!keep.has(id)) {
      entry.row.remove();
      jobRows.delete(id);
    }
  }
  page.items.forEach((job, index) => {
    const entry = jobRows.get(job.id) || makeJobRow(job);
    if (body.children[index] !== entry.row) body.insertBefore(entry.row, body.children[index] || null);
    paintJob(entry, job.chunks_done, job.chunks_total, job.status);
  });
  $("jobs-empty").hidden = page.items.length > 0;
  setText("jobs-total", `${formatCount(page.total)} in all`);
}

export function onJobProgress(event) {
  const entry = jobRows.get(event.job_id);
  if (!entry) {
    markDirty("jobs");
    return;
  }
  paintJob(entry, event.chunks_done, event.chunks_total, event.status);
  if (event.status !== "running") {
    markDirty("overview");
    markDirty("health");
  }
}

// ------------------------------------------------------------------ leaderboard

export async function loadLeaderboard() {
  const rows = await getJSON("/v1/stats/leaderboard?limit=50");
  setText("leaderboard-unit", `earned in ${unit.name}`);
  $("leaderboard-body").replaceChildren(
    ...rows.map((r) =>
      el(
        "tr",
        { "data-contributor-id": String(r.contributor_id) },
        el("td", { class: "num", text: String(r.rank) }),
        el("td", {}, el("a", { href: `#/contributors/${r.contributor_id}`, text: r.name })),
        el("td", { class: "num", text: formatCount(r.work_units) }),
        el("td", { class: "num amount", text: formatAmount(r.earned_units, { withUnit: false }) }),
      ),
    ),
  );
  $("leaderboard-empty").hidden = rows.length > 0;
}

// ------------------------------------------------------------------ pool health

export async function loadHealth() {
  const range = state.range;
  const data = await getJSON(`/v1/stats/health?window_minutes=${range.minutes}`);
  setText("health-range", `last ${range.label}`);
  setText("health-queue", formatCount(data.queue_length));
  setText("health-running", `${formatCount(data.jobs_running)} running`);
  setText("health-efficiency", formatPercent(data.parallel_efficiency));
  const finished = data.jobs_finished;
  setText("health-finished", `${formatCount(finished.done)} done · ${formatCount(finished.failed)} failed`);
  setText("health-failures", formatCount(data.verification_failures));
  setText("health-strikes", formatCount(data.strikes_total));
  setText("health-bans", `${formatCount(data.banned_contributors)} banned`);
  $("health-failures").classList.toggle("bad", data.verification_failures > 0);
}
