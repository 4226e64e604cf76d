/* proverpool dashboard: one format for amounts, counts, times, job ids and job kinds.
 *
 * Amounts are integers in base units (strings on the wire when large). They are shown in
 * the pool's display unit (GET /v1/stats/display: PROVERPOOL_UNIT_NAME and
 * PROVERPOOL_UNIT_DECIMALS) with BigInt arithmetic only: 10^18 base units with 18 decimals
 * is "1 ETH", exactly, whatever the size.
 */
import { el } from "./core.js";

export const unit = { name: "units", decimals: 0 };

export function setUnit(display) {
  unit.name = display.unit_name;
  unit.decimals = Number(display.unit_decimals);
}

const INTEGER = /^-?\d+$/;

/** "1234567" → "1,234,567", exactly, for any size. */
export function formatCount(value) {
  if (value === null || value === undefined) return "–";
  const text = String(value);
  if (!INTEGER.test(text)) return text;
  return BigInt(text).toLocaleString("en-US");
}

/** Base units → "1,234.5 ETH" (BigInt: integer part, then the decimals without trailing zeros). */
export function formatAmount(value, { withUnit = true } = {}) {
  if (value === null || value === undefined) return "–";
  const text = String(value);
  if (!INTEGER.test(text)) return text;
  let units = BigInt(text);
  const negative = units < 0n;
  if (negative) units = -units;
  const scale = 10n ** BigInt(unit.decimals);
  const whole = (units / scale).toLocaleString("en-US");
  let fraction = unit.decimals ? (units % scale).toString().padStart(unit.decimals, "0") : "";
  fraction = fraction.replace(/0+$/, "");
  const number = `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
  return withUnit ? `${number} ${unit.name}` : number;
}

/** A Number of base units (chart axes only: approximate by nature) in display units. */
export function displayNumber(baseUnits) {
  return baseUnits / 10 ** unit.decimals;
}

export function parseTime(iso) {
  // Naive timestamps from the API are UTC.
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
}

/** The one time format of every page: "2026-12-04 18:11:05 UTC". */
export function formatTime(value) {
  const date = value instanceof Date ? value : parseTime(value);
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function ago(value) {
  const date = value instanceof Date ? value : parseTime(value);
  const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** A time cell: the absolute UTC time, how long ago in its tooltip. */
export function timeCell(value, attrs = {}) {
  const date = value instanceof Date ? value : parseTime(value);
  return el("td", { class: "hint time", title: ago(date), ...attrs }, el("time", { datetime: date.toISOString(), text: formatTime(date) }));
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Number(seconds);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function formatPercent(ratio) {
  return ratio === null || ratio === undefined ? "–" : `${(Number(ratio) * 100).toFixed(0)} %`;
}

/** The one job id format: its first 8 hex digits, linking to the job page (full id on hover). */
export function shortJobId(id) {
  return String(id).slice(0, 8);
}

export function jobLink(id) {
  return el("a", { class: "mono job-id", href: `#/jobs/${id}`, title: id, text: shortJobId(id) });
}

export function sizeLabel(size) {
  const n = Number(size);
  if (n > 0 && Number.isInteger(Math.log2(n))) return `2^${Math.log2(n)}`;
  return formatCount(size);
}

/** "MSM · bn254_g1", "NTT · goldilocks · inverse", "Groth16 · 2^14 · key 3f2a9c1b". */
export function kindLabel(job) {
  if (job.kind === "groth16") {
    const circuit = job.circuit;
    if (!circuit) return "Groth16";
    return `Groth16 · ${sizeLabel(circuit.domain_size)} · key ${circuit.zkey_sha256.slice(0, 8)}`;
  }
  const parts = [job.kind.toUpperCase(), job.curve || job.field || ""];
  if (job.inverse) parts.push("inverse");
  return parts.filter(Boolean).join(" · ");
}

/** What a job's size counts: points, elements, or a Groth16 circuit's variables. */
export function sizeText(job) {
  if (job.kind === "msm") return `${sizeLabel(job.size)} points`;
  if (job.kind === "ntt") return `${sizeLabel(job.size)} elements`;
  return `${formatCount(job.size)} variables`;
}

export function badge(status) {
  return el("span", { class: `badge badge--${status}`, text: status });
}
