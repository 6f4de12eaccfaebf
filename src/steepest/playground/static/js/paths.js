// Optimizer paths on a 2-D test function (Distill's "Why Momentum Really Works" view): level
// lines from the vendored d3-contour at log-spaced levels, the minimum and the start marked, a
// dot per step, each path's end value on the plot, and a step slider.

const PATH_COLORS = ["#222", "#0877bd", "#2ea043", "#c83c8c"];
const LEVELS = 14;

// Log-spaced levels of f − f_min, from 1/10,000 of its range on the map to its top: a narrow
// valley (Rosenbrock) gets as many lines near its floor as on its walls.
function logLevels(values) {
  const top = Math.max(...values);
  const low = top * 1e-4;
  return Array.from({ length: LEVELS }, (_, i) => low * (top / low) ** (i / (LEVELS - 1)));
}

function fill(t) {  // t in [0, 1]: dark blue at the floor, pale at the top
  return `rgb(${(40 + 205 * t) | 0},${(70 + 178 * t) | 0},${(140 + 110 * t) | 0})`;
}

export class PathsView {
  constructor(canvas, legend, onStart, slider = null, note = null) {
    this.canvas = canvas;
    this.legend = legend;
    this.slider = slider;
    this.note = note;
    this.result = null;
    this.shown = 0;
    canvas.addEventListener("click", (event) => {
      if (!this.result) return;
      const rect = canvas.getBoundingClientRect();
      const [x0, x1, y0, y1] = this.result.bounds;
      const x = x0 + (event.clientX - rect.left) / rect.width * (x1 - x0);
      const y = y1 - (event.clientY - rect.top) / rect.height * (y1 - y0);
      onStart([+x.toFixed(3), +y.toFixed(3)]);
    });
    if (slider) slider.addEventListener("input", () => { cancelAnimationFrame(this.frame); this.setShown(Number(slider.value)); });
  }

  // The landscape once per result: filled bands and level lines, drawn by d3-contour.
  background(result) {
    const n = result.size;
    const canvas = document.createElement("canvas");
    canvas.width = this.canvas.width;
    canvas.height = this.canvas.height;
    const ctx = canvas.getContext("2d");
    const levels = logLevels(result.contour);
    const bands = d3.contours().size([n, n]).thresholds(levels)(result.contour);
    const sx = canvas.width / (n - 1);
    const sy = canvas.height / (n - 1);
    const trace = (geometry) => {
      ctx.beginPath();
      for (const polygon of geometry.coordinates) {
        for (const ring of polygon) {
          ring.forEach(([gx, gy], k) => {
            const x = (gx - 0.5) * sx;
            const y = (gy - 0.5) * sy;
            if (k) ctx.lineTo(x, y); else ctx.moveTo(x, y);
          });
          ctx.closePath();
        }
      }
    };
    ctx.fillStyle = fill(0);
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    bands.forEach((band, i) => {
      trace(band);
      ctx.fillStyle = fill((i + 1) / bands.length);
      ctx.fill("evenodd");
      ctx.strokeStyle = "rgba(255,255,255,0.55)";
      ctx.lineWidth = 1;
      ctx.stroke();
    });
    canvas.dataset.levels = String(bands.length);
    return canvas;
  }

  show(result) {
    this.result = result;
    this.shown = 0;
    this.backdrop = this.background(result);
    this.canvas.dataset.levels = this.backdrop.dataset.levels;
    const longest = Math.max(...result.runs.map((r) => r.path.length));
    if (this.slider) { this.slider.max = String(longest - 1); this.slider.value = "0"; }
    if (this.note) this.note.textContent = result.note || "";
    this.legend.innerHTML = "";
    result.runs.forEach((run, i) => {
      const item = document.createElement("li");
      const final = run.escaped ? "escaped to infinity" : `f = ${run.final_value.toPrecision(4)}`;
      item.innerHTML = `<span class="swatch" style="background:${PATH_COLORS[i]}"></span>${run.name}: <b>${final}</b> after ${run.path.length - 1} steps`;
      this.legend.appendChild(item);
    });
    cancelAnimationFrame(this.frame);
    const tick = () => {
      this.setShown(Math.min(longest - 1, this.shown + 2));
      if (this.shown < longest - 1) this.frame = requestAnimationFrame(tick);
    };
    tick();
  }

  // Show every path up to step k (the slider and the animation both land here).
  setShown(k) {
    this.shown = k;
    if (this.slider) this.slider.value = String(k);
    this.canvas.dataset.shownSteps = String(k + 1);
    this.draw();
  }

  draw() {
    const { canvas, result } = this;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(this.backdrop, 0, 0);
    const [x0, x1, y0, y1] = result.bounds;
    const px = ([x, y]) => [(x - x0) / (x1 - x0) * canvas.width, (y1 - y) / (y1 - y0) * canvas.height];
    const [ox, oy] = px(result.optimum);
    ctx.fillStyle = "#ffd33d";
    ctx.strokeStyle = "#222";
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    for (let k = 0; k < 10; k++) {   // a star at the minimum
      const r = k % 2 ? 4 : 9;
      const a = -Math.PI / 2 + k * Math.PI / 5;
      ctx.lineTo(ox + r * Math.cos(a), oy + r * Math.sin(a));
    }
    ctx.closePath();
    ctx.fill();
    ctx.stroke();
    ctx.font = "12px system-ui";
    result.runs.forEach((run, i) => {
      const points = run.path.slice(0, this.shown + 1).map(px);
      ctx.strokeStyle = PATH_COLORS[i];
      ctx.fillStyle = PATH_COLORS[i];
      // earlier paths wider, drawn first: one that another covers (Newton and L-BFGS both
      // jump straight to the quadratic's minimum) still shows as a rim around it
      ctx.lineWidth = 1.4 + 1.2 * (result.runs.length - 1 - i);
      ctx.beginPath();
      points.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
      for (const [x, y] of points) { ctx.beginPath(); ctx.arc(x, y, 1.8, 0, 2 * Math.PI); ctx.fill(); }
      const end = points[points.length - 1];
      if (end && this.shown >= run.path.length - 1) {
        const label = run.escaped ? "escaped" : `f = ${run.final_value.toPrecision(3)}`;
        ctx.fillStyle = "rgba(255,255,255,0.85)";
        const w = ctx.measureText(label).width;
        const lx = Math.min(Math.max(end[0] + 6, 2), canvas.width - w - 4);
        const ly = Math.min(Math.max(end[1] - 6 + 14 * i, 14), canvas.height - 4);
        ctx.fillRect(lx - 2, ly - 11, w + 4, 14);
        ctx.fillStyle = PATH_COLORS[i];
        ctx.fillText(label, lx, ly);
      }
    });
    const [sx, sy] = px(result.start);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2.5;
    ctx.beginPath(); ctx.arc(sx, sy, 6, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "#fff";
    ctx.fillText("start", sx + 9, sy + 4);
  }
}
