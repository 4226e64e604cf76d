/* proverpool dashboard: a job's page — its chunks per node on a timeline, credits, the
 * reward and its split, and how each result was verified (GET /v1/stats/jobs/<id>). */
import { $, el, getJSON, setText, state } from "./core.js";
import {
  badge,
  formatAmount,
  formatCount,
  formatDuration,
  formatPercent,
  formatTime,
  kindLabel,
  parseTime,
  shortJobId,
  sizeText,
} from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const ROW = 28;
const LABEL = 190;
const AXIS = 24;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child);
  return node;
}

/** part / total as a percentage with two decimals (rounded half up), in BigInt arithmetic. */
function percentOf(part, total) {
  const t = BigInt(total);
  if (t === 0n) return "–";
  const hundredths = (BigInt(part) * 20000n + t) / (2n * t);
  return `${hundredths / 100n}.${String(hundredths % 100n).padStart(2, "0")} %`;
}

function contributorLink(id, name) {
  if (id === null || id === undefined) return el("span", { class: "hint", text: "uncredited" });
  return el("a", { href: `#/contributors/${id}`, text: name || `#${id}` });
}

function renderTimeline(data) {
  const box = $("job-timeline");
  const chunks = data.chunks;
  $("job-timeline-empty").hidden = chunks.length > 0;
  if (!chunks.length) {
    box.replaceChildren();
    return;
  }
  const start = Math.min(...chunks.map((c) => parseTime(c.started_at).getTime()));
  const endTimes = chunks.map((c) => parseTime(c.finished_at).getTime());
  if (data.finished_at) endTimes.push(parseTime(data.finished_at).getTime());
  const end = Math.max(start + 1, ...endTimes);
  const nodes = data.nodes.map((n) => n.ray_node_id);
  const width = Math.max(480, box.clientWidth || 900);
  const height = AXIS + nodes.length * ROW + 4;
  const x = (ms) => LABEL + ((ms - start) / (end - start)) * (width - LABEL - 12);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", height, role: "img", class: "timeline" });
  root.append(svg("title", {}, `chunks per node over ${formatDuration((end - start) / 1000)}`));
  for (let i = 0; i <= 5; i += 1) {
    const ms = start + ((end - start) * i) / 5;
    root.append(svg("line", { x1: x(ms), x2: x(ms), y1: AXIS - 6, y2: height, class: "timeline__grid" }));
    const label = svg("text", { x: x(ms), y: 12, class: "timeline__tick", "text-anchor": i === 0 ? "start" : i === 5 ? "end" : "middle" });
    label.textContent = `+${formatDuration((ms - start) / 1000)}`;
    root.append(label);
  }
  data.nodes.forEach((node, row) => {
    const y = AXIS + row * ROW;
    const label = svg("text", { x: 0, y: y + ROW / 2 + 4, class: "timeline__label" });
    label.textContent = `${node.ray_node_id.slice(0, 8)} · ${node.contributor_name || "uncredited"}`;
    root.append(label);
    root.append(svg("line", { x1: LABEL, x2: width - 12, y1: y + ROW - 2, y2: y + ROW - 2, class: "timeline__row" }));
  });
  for (const chunk of chunks) {
    const row = nodes.indexOf(chunk.ray_node_id);
    const left = x(parseTime(chunk.started_at).getTime());
    const right = x(parseTime(chunk.finished_at).getTime());
    const rect = svg("rect", {
      x: left,
      y: AXIS + row * ROW + 5,
      width: Math.max(2, right - left),
      height: ROW - 12,
      rx: 3,
      class: `chunk chunk--${chunk.verification}`,
      "data-chunk": chunk.chunk_index,
    });
    rect.append(
      svg("title", {}, `chunk ${chunk.chunk_index} · ${chunk.phase} · ${formatDuration(chunk.duration_seconds)} · ${formatCount(chunk.work_units)} work units · ${chunk.verification}`),
    );
    root.append(rect);
  }
  box.replaceChildren(root);
}

function renderReward(reward) {
  $("job-reward-empty").hidden = reward !== null;
  $("job-reward").hidden = reward === null;
  if (!reward) return;
  const total = reward.amount_units;
  const rows = [
    ["Reward", reward.amount_units, ""],
    [`Operator fee (${(reward.fee_bps / 100).toFixed(2)} %)`, reward.fee_units, percentOf(reward.fee_units, total)],
    [`Contributors (${reward.contributors}, ${reward.scheme.toUpperCase()})`, reward.shares_units, percentOf(reward.shares_units, total)],
    ["Held (no verified work)", reward.held_units, percentOf(reward.held_units, total)],
  ];
  $("job-reward-body").replaceChildren(
    ...rows.map(([label, amount, share]) =>
      el("tr", {}, el("td", { text: label }), el("td", { class: "num amount", text: formatAmount(amount) }), el("td", { class: "num hint", text: share })),
    ),
  );
  const bar = $("job-reward-bar");
  const parts = [
    ["fee", reward.fee_units],
    ["shares", reward.shares_units],
    ["held", reward.held_units],
  ];
  bar.replaceChildren(
    ...parts.map(([kind, amount]) => {
      const part = el("span", { class: `split split--${kind}`, title: `${kind}: ${formatAmount(amount)}` });
      part.style.flexGrow = String(Number((BigInt(amount) * 10000n) / (BigInt(total) || 1n)));
      return part;
    }),
  );
  setText("job-reward-posted", `posted ${formatTime(reward.posted_at)}`);
}

function renderVerification(data) {
  const v = data.verification;
  const counts = v.chunks_by_check;
  const items = [
    ["checked", "NTT slices checked (random linear combination)"],
    ["audited", "MSM chunks audited (recomputed elsewhere)"],
    ["unaudited", "MSM chunks accepted unaudited"],
  ]
    .filter(([key]) => counts[key])
    .map(([key, text]) => el("li", { "data-check": key }, el("strong", { text: formatCount(counts[key]) }), ` ${text}`));
  if (v.pairing) {
    items.push(el("li", { "data-check": "pairing" }, "Pairing check of the proof: ", badge(v.pairing === "passed" ? "done" : v.pairing === "failed" ? "failed" : "queued"), el("strong", { text: ` ${v.pairing}` })));
  }
  if (!items.length) items.push(el("li", { class: "hint", text: "No chunk verified yet." }));
  items.push(el("li", { "data-check": "strikes" }, el("strong", { text: String(v.strikes.length) }), ` strike${v.strikes.length === 1 ? "" : "s"} (wrong results caught)`));
  $("job-checks").replaceChildren(...items);
  $("job-strikes-body").replaceChildren(
    ...v.strikes.map((s) =>
      el("tr", {}, el("td", {}, contributorLink(s.contributor_id, s.name)), el("td", { class: "mono", text: s.ray_node_id.slice(0, 8) }), el("td", { class: "num", text: String(s.chunk_index) }), el("td", { text: s.reason })),
    ),
  );
  $("job-strikes").hidden = v.strikes.length === 0;
}

export async function loadJob() {
  const id = state.jobId;
  const data = await getJSON(`/v1/stats/jobs/${id}`);
  if (id !== state.jobId) return;
  const job = data.job;
  setText("job-title", `Job ${shortJobId(job.id)}`);
  $("job-status").replaceChildren(badge(job.status));
  setText("job-meta", `${job.id} · submitted ${formatTime(job.created_at)}`);
  setText("job-kind", kindLabel(job));
  setText("job-size", sizeText(job));
  setText("job-duration", formatDuration(data.duration_seconds));
  setText("job-duration-sub", data.started_at ? `from ${formatTime(data.started_at)}` : "not started");
  setText("job-chunks", `${formatCount(job.chunks_done)}/${formatCount(job.chunks_total)}`);
  setText("job-efficiency", formatPercent(data.parallel_efficiency));
  setText("job-nodes-count", `${data.nodes.length} node${data.nodes.length === 1 ? "" : "s"}`);
  $("job-error").hidden = !data.error;
  $("job-error").textContent = data.error ? `Error: ${data.error}` : "";
  renderTimeline(data);
  const totalWork = data.credits.reduce((sum, c) => sum + BigInt(c.work_units), 0n);
  $("job-credits-body").replaceChildren(
    ...data.credits.map((c) =>
      el(
        "tr",
        { "data-contributor-id": String(c.contributor_id) },
        el("td", {}, contributorLink(c.contributor_id, c.name)),
        el("td", { class: "num", text: formatCount(c.work_units) }),
        el("td", { class: "num hint", text: percentOf(c.work_units, totalWork) }),
        el("td", { class: "num amount", text: data.reward ? formatAmount(c.share_units) : "–" }),
      ),
    ),
  );
  $("job-credits-empty").hidden = data.credits.length > 0;
  renderReward(data.reward);
  renderVerification(data);
}
