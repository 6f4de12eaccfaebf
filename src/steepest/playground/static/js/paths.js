// Optimizer paths on a 2-D test function: the contour map, a click sets the start, and every
// optimizer's path is drawn step by step at the same pace (Distill's momentum view).

import { decode } from "./heatmap.js";

const PATH_COLORS = ["#222", "#0877bd", "#2ea043", "#c83c8c"];

function contourColor(v) {
  // v in [-1, 1]: low values dark blue, high values pale; bands every 1/12 act as contour lines.
  const t = (v + 1) / 2;
  const band = (t * 14) % 1 < 0.07 ? 0.8 : 1;
  return [(40 + 200 * t) * band, (70 + 170 * t) * band, (140 + 100 * t) * band];
}

// Bilinear interpolation of the size x size grid onto an out x out canvas, then contour colours
// per pixel, so the level lines are smooth rather than blocky.
function upsampled(values, size, out) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = out;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(out, out);
  for (let py = 0; py < out; py++) {
    const gy = py / (out - 1) * (size - 1);
    const y0 = Math.min(size - 2, Math.floor(gy));
    const ty = gy - y0;
    for (let px = 0; px < out; px++) {
      const gx = px / (out - 1) * (size - 1);
      const x0 = Math.min(size - 2, Math.floor(gx));
      const tx = gx - x0;
      const top = values[y0 * size + x0] * (1 - tx) + values[y0 * size + x0 + 1] * tx;
      const bottom = values[(y0 + 1) * size + x0] * (1 - tx) + values[(y0 + 1) * size + x0 + 1] * tx;
      image.data.set([...contourColor(top * (1 - ty) + bottom * ty), 255], (py * out + px) * 4);
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

export class PathsView {
  constructor(canvas, legend, onStart) {
    this.canvas = canvas;
    this.legend = legend;
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
  }

  show(result) {
    this.result = result;
    this.shown = 0;
    this.background = upsampled(decode(result.contour), result.size, 280);
    this.legend.innerHTML = "";
    result.runs.forEach((run, i) => {
      const item = document.createElement("li");
      const final = run.escaped ? "escaped to infinity" : `f = ${run.final_value.toPrecision(4)}`;
      item.innerHTML = `<span class="swatch" style="background:${PATH_COLORS[i]}"></span>${run.name}: <b>${final}</b> after ${run.path.length - 1} steps`;
      this.legend.appendChild(item);
    });
    cancelAnimationFrame(this.frame);
    const tick = () => {
      const longest = Math.max(...result.runs.map((r) => r.path.length));
      this.shown = Math.min(longest, this.shown + 2);
      this.draw();
      this.canvas.dataset.shownSteps = String(this.shown);
      if (this.shown < longest) this.frame = requestAnimationFrame(tick);
    };
    tick();
  }

  draw() {
    const { canvas, result } = this;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.background, 0, 0, canvas.width, canvas.height);
    const [x0, x1, y0, y1] = result.bounds;
    const px = ([x, y]) => [(x - x0) / (x1 - x0) * canvas.width, (y1 - y) / (y1 - y0) * canvas.height];
    result.runs.forEach((run, i) => {
      const points = run.path.slice(0, this.shown).map(px);
      ctx.strokeStyle = PATH_COLORS[i];
      ctx.fillStyle = PATH_COLORS[i];
      ctx.lineWidth = 1.8;
      ctx.beginPath();
      points.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
      const end = points[points.length - 1];
      if (end) { ctx.beginPath(); ctx.arc(end[0], end[1], 3.5, 0, 2 * Math.PI); ctx.fill(); }
    });
    const [sx, sy] = px(result.start);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(sx, sy, 6, 0, 2 * Math.PI); ctx.stroke();
  }
}
