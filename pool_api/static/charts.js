/* proverpool dashboard: uPlot line and bar charts with a legend that always shows a value.
 *
 * The legend sits above the plot and shows the latest point (exactly, from the integer
 * strings) without hovering; hovering shows the point under the cursor instead. Times are
 * UTC on every axis, like every time on the page. Axis labels are approximate by nature.
 */
import { el } from "./core.js";
import { formatTime } from "./format.js";

const HEIGHT = 200;

/** Axis ticks: whole numbers in steps of 1, 2 and 5 times a power of ten. */
const INTEGER_INCREMENTS = [];
for (let power = 1; power < 1e78; power *= 10) INTEGER_INCREMENTS.push(power, 2 * power, 5 * power);
/** Ticks of display amounts (may be fractions of a unit). */
const DECIMAL_INCREMENTS = [];
for (let power = 1e-18; power < 1e78; power *= 10) DECIMAL_INCREMENTS.push(power, 2 * power, 5 * power);

const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 });

/** 1.2K, 3.4M, 5.6T, then 7.8e18; small fractions as 1.5e-6. */
export function compactNumber(value) {
  const size = Math.abs(value);
  if (size >= 1e15 || (size > 0 && size < 1e-3)) return value.toExponential(1).replace("e+", "e");
  return COMPACT.format(value);
}

/** Time ticks in UTC: minutes within a day, days across several. */
function timeTicks(u, ticks, space, spacing, increment) {
  const multiDay = (u.scales.x.max - u.scales.x.min) > 2 * 86400;
  return ticks.map((t) => {
    const iso = new Date(t * 1000).toISOString();
    if (multiDay) return increment >= 86400 ? iso.slice(5, 10) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
    return increment < 60 ? iso.slice(11, 19) : iso.slice(11, 16);
  });
}

export class Chart {
  /**
   * @param container element the chart goes into (the legend first)
   * @param options {label, color, style: "bars"|"stepped", format: exact value → text,
   *                 scale: Number → Number for the axis, decimals: whether ticks may be fractions}
   */
  constructor(container, options) {
    this.container = container;
    this.options = options;
    this.exact = [];
    this.times = [];
    this.plot = null;
    const swatch = el("span", { class: "legend__swatch" });
    swatch.style.background = options.color;
    this.legendValue = el("strong", { class: "legend__value" });
    this.legendWhen = el("span", { class: "legend__when hint" });
    this.legend = el(
      "div",
      { class: "legend", "aria-live": "off" },
      swatch,
      el("span", { class: "legend__label", text: options.label }),
      this.legendValue,
      this.legendWhen,
    );
    this.plotBox = el("div", { class: "chart__plot" });
    container.replaceChildren(this.legend, this.plotBox);
    new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: HEIGHT });
    }).observe(container);
  }

  width() {
    return Math.max(240, this.container.clientWidth);
  }

  setLabel(label) {
    this.legend.querySelector(".legend__label").textContent = label;
  }

  paintLegend(index) {
    const latest = index === null || index === undefined || index < 0;
    const i = latest ? this.exact.length - 1 : index;
    if (i < 0) {
      this.legendValue.textContent = "–";
      this.legendWhen.textContent = "";
      return;
    }
    this.legendValue.textContent = this.options.format(this.exact[i]);
    this.legendWhen.textContent = `${latest ? "latest" : "at"} · ${formatTime(new Date(this.times[i] * 1000))}`;
  }

  /** Plot ``exactValues`` (integer strings) at ``times`` (seconds), over [xMin, xMax]. */
  update(times, exactValues, xMin, xMax) {
    this.exact = exactValues;
    this.times = times;
    this.xRange = [xMin ?? times[0], xMax ?? times[times.length - 1]];
    const scale = this.options.scale || ((v) => v);
    const data = [times, exactValues.map((v) => Number(v))];
    if (this.plot) {
      this.plot.setData(data);
    } else {
      this.plot = new window.uPlot(this.config(scale), data, this.plotBox);
    }
    this.paintLegend(null);
  }

  config(scale) {
    const { color, style } = this.options;
    const series = { label: this.options.label, stroke: color, fill: `${color}22`, width: 2, points: { show: false } };
    const paths = window.uPlot.paths || {};
    if (style === "stepped" && paths.stepped) series.paths = paths.stepped({ align: 1 });
    if (style === "bars" && paths.bars) {
      series.paths = paths.bars({ size: [0.8, 24] });
      series.fill = `${color}aa`;
      series.width = 0;
    }
    return {
      width: this.width(),
      height: HEIGHT,
      legend: { show: false },
      series: [{}, series],
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: {
        x: { time: true, range: () => this.xRange },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: "#8a90a2", grid: { stroke: "#8a90a233" }, values: timeTicks, space: 70 },
        {
          stroke: "#8a90a2",
          grid: { stroke: "#8a90a233" },
          size: 64,
          incrs: this.options.decimals ? DECIMAL_INCREMENTS.map((t) => t * 10 ** this.options.decimals) : INTEGER_INCREMENTS,
          values: (u, ticks) => ticks.map((t) => compactNumber(scale(t))),
        },
      ],
      cursor: { drag: { x: false, y: false } },
      hooks: { setCursor: [(u) => this.paintLegend(u.cursor.idx)] },
    };
  }
}
