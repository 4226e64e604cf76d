/* proverpool dashboard: a contributor's page — nodes, payout address, withdrawals in flight
 * and earnings over the chosen range (GET /v1/stats/contributors/<id>, GET /v1/nodes). */
import { $, el, getJSON, setText, state } from "./core.js";
import { Chart } from "./charts.js";
import {
  badge,
  displayNumber,
  formatAmount,
  formatCount,
  formatTime,
  jobLink,
  parseTime,
  timeCell,
  unit,
} from "./format.js";

let earningsChart = null;

function hardware(node) {
  const parts = [];
  if (node.cpu_cores) parts.push(`${node.cpu_cores} CPU cores`);
  if (node.gpu_model) {
    const memory = node.gpu_memory_bytes ? ` (${Math.round(Number(node.gpu_memory_bytes) / 2 ** 30)} GiB)` : "";
    parts.push(`${node.gpu_model}${memory}`);
  }
  return parts.join(" · ") || "–";
}

function speeds(node) {
  const entries = Object.entries(node.speeds || {});
  if (!entries.length) return "–";
  return entries.map(([kernel, perSecond]) => `${kernel} ${formatCount(Math.round(Number(perSecond)))}/s`).join(" · ");
}

function renderNodes(nodes) {
  $("contributor-nodes-body").replaceChildren(
    ...nodes.map((n) =>
      el(
        "tr",
        { "data-node-id": n.ray_node_id },
        el("td", { class: "mono", title: n.ray_node_id, text: n.ray_node_id.slice(0, 8) }),
        el("td", {}, badge(n.status === "online" ? "online" : n.status)),
        el("td", { text: hardware(n) }),
        el("td", { class: "hint", text: speeds(n) }),
        el("td", { class: "num", text: formatCount(n.work_units) }),
        n.last_seen_at ? timeCell(n.last_seen_at) : el("td", { class: "hint", text: "–" }),
      ),
    ),
  );
  $("contributor-nodes-empty").hidden = nodes.length > 0;
  setText("contributor-nodes", String(nodes.length));
  setText("contributor-nodes-online", `${nodes.filter((n) => n.status === "online").length} online`);
}

function renderChart(data) {
  const range = state.range;
  const now = Date.now() / 1000;
  const start = now - range.minutes * 60;
  const points = data.earnings;
  const times = [start, ...points.map((p) => parseTime(p.at).getTime() / 1000), now];
  const last = points.length ? points[points.length - 1].cumulative_units : data.earned_before_window_units;
  const values = [data.earned_before_window_units, ...points.map((p) => p.cumulative_units), last];
  if (!earningsChart || earningsChart.unitKey !== `${unit.name}/${unit.decimals}`) {
    earningsChart = new Chart($("earnings-chart"), {
      label: `earned, ${unit.name}`,
      color: "#12a150",
      style: "stepped",
      format: (v) => formatAmount(v),
      scale: displayNumber,
      decimals: unit.decimals,
    });
    earningsChart.unitKey = `${unit.name}/${unit.decimals}`;
  }
  earningsChart.update(times, values, start, now);
}

export async function loadContributor() {
  const id = state.contributorId;
  const range = state.range;
  const [data, nodes] = await Promise.all([
    getJSON(`/v1/stats/contributors/${id}?limit=1000&window_minutes=${range.minutes}`),
    getJSON(`/v1/nodes?contributor_id=${id}`),
  ]);
  if (id !== state.contributorId) return;
  setText("contributor-name", data.name);
  const meta = [`contributor #${data.contributor_id}`, `joined ${formatTime(data.created_at)}`];
  meta.push(data.payout_address ? `payout to ${data.payout_address}` : "no payout address");
  if (data.banned) meta.push("banned");
  setText("contributor-meta", meta.join(" · "));
  setText("contributor-work", formatCount(data.work_units));
  setText("contributor-earned", formatAmount(data.earned_units));
  setText("contributor-balance", formatAmount(data.balance_units));
  setText("contributor-pending", formatAmount(data.pending_withdrawal_units));
  setText("contributor-pending-count", `${data.pending_withdrawals.length} withdrawal${data.pending_withdrawals.length === 1 ? "" : "s"} in flight`);
  setText("contributor-range-earned", formatAmount(data.earned_in_window_units));
  setText("contributor-range-label", `Earned, last ${range.label}`);
  setText("earnings-hint", `cumulative, last ${range.label}, UTC`);
  renderNodes(nodes);
  renderChart(data);
  $("contributor-withdrawals-body").replaceChildren(
    ...data.pending_withdrawals.map((w) =>
      el("tr", {}, timeCell(w.requested_at), el("td", {}, badge(w.status)), el("td", { class: "num amount", text: formatAmount(w.amount_units) })),
    ),
  );
  $("contributor-withdrawals").hidden = data.pending_withdrawals.length === 0;
  const recent = data.earnings.slice(-20).reverse();
  $("earnings-body").replaceChildren(
    ...recent.map((p) =>
      el(
        "tr",
        {},
        timeCell(p.at),
        el("td", {}, /^[0-9a-f]{32}$/.test(p.job_ref) ? jobLink(p.job_ref) : el("span", { class: "mono", text: p.job_ref })),
        el("td", { class: "num amount", text: formatAmount(p.amount_units) }),
        el("td", { class: "num amount", text: formatAmount(p.cumulative_units) }),
      ),
    ),
  );
  $("earnings-empty").hidden = recent.length > 0;
  $("earnings-empty").textContent = `No earnings in the last ${range.label}.`;
}
