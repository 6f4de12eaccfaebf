// Line charts drawn by the vendored uPlot: the loss curves, the optimizer race, the lr range test.

const PALETTE = ["#0877bd", "#f59322", "#2ea043", "#c83c8c", "#785ac8"];

// Short tick labels: 0.5, 2, 1e-4, 6e+9 (never cut off by the axis width).
function tick(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(0) : String(+v.toPrecision(3));
}

// Linear-axis labels with just enough digits to tell neighbours apart (the increment decides):
// 0.692 / 0.694, 1.2e+4 / 1.4e+4; a step axis shows whole steps only.
function linearTicks(integers) {
  return (u, splits, axis, space, incr) => splits.map((v) => {
    if (integers && !Number.isInteger(v)) return "";
    if (v === 0) return "0";
    const a = Math.abs(v);
    const digits = Math.max(0, Math.floor(Math.log10(a)) - Math.floor(Math.log10(incr)));
    if (a >= 1e5 || a < 1e-3) return v.toExponential(Math.min(digits, 4));
    return v.toFixed(Math.max(0, -Math.floor(Math.log10(incr))));
  });
}

function makePlot(root, width, height, series, { logX = false, logY = false, xLabel = "step", hooks = {} } = {}) {
  const decades = (u, splits) => splits.map((v) => (Number.isInteger(Math.round(Math.log10(v) * 1e6) / 1e6) ? tick(v) : ""));
  root.innerHTML = "";
  const opts = {
    width, height, legend: { show: true, live: false }, hooks,
    cursor: { show: false },
    scales: { x: { time: false, distr: logX ? 3 : 1 }, y: { distr: logY ? 3 : 1 } },
    axes: [
      { label: xLabel, size: 34, labelSize: 14, space: 52, values: logX ? decades : linearTicks(xLabel === "step"),
        grid: { show: !logX } },
      { size: 58, values: logY ? decades : linearTicks(false) },
    ],
    series: [{}, ...series.map((s, i) => ({ label: s, stroke: PALETTE[i % PALETTE.length], width: 1.6,
      dash: s.startsWith("test") ? [4, 3] : undefined, spanGaps: true, points: { show: false } }))],
  };
  return new uPlot(opts, [[], ...series.map(() => [])], root);
}

// Curves that grow by one point per frame: x = step, one y per series.
export class GrowingChart {
  constructor(root, width, height, series, options) {
    this.root = root;
    this.series = series;
    this.data = [[], ...series.map(() => [])];
    this.plot = makePlot(root, width, height, series, options);
  }

  push(x, ys) {
    const xs = this.data[0];
    if (xs.length && x < xs[xs.length - 1]) this.clear();
    if (xs.length && xs[xs.length - 1] === x) {
      ys.forEach((y, i) => { this.data[i + 1][xs.length - 1] = y; });
    } else {
      xs.push(x);
      ys.forEach((y, i) => this.data[i + 1].push(y));
    }
    if (xs.length > 3000) this.data = this.data.map((column) => column.filter((_, i) => i % 2 === 0));
    this.plot.setData(this.data);
  }

  clear() {
    this.data = [[], ...this.series.map(() => [])];
    this.plot.setData(this.data);
  }

  get length() { return this.data[0].length; }
}

// A finished curve (the lr range test): x = learning rate on a log axis.
export function drawLrRange(root, width, height, lrs, losses, suggested) {
  // the proposal is drawn on every redraw (a line drawn once would be wiped by the next one)
  const mark = (u) => {
    const x = u.valToPos(suggested, "x", true);
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = "#c00";
    ctx.fillStyle = "#c00";
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.font = `${11 * devicePixelRatio}px system-ui`;
    ctx.textAlign = x > u.bbox.left + u.bbox.width / 2 ? "right" : "left";
    ctx.fillText(` proposed ${+suggested.toPrecision(2)} `, x, u.bbox.top + 12 * devicePixelRatio);
    ctx.restore();
  };
  const plot = makePlot(root, width, height, ["smoothed loss"], { logX: true, xLabel: "learning rate", hooks: { draw: [mark] } });
  plot.setData([lrs, losses.map((v) => (v === null ? null : v))]);
  root.dataset.suggested = String(suggested);
  return plot;
}
