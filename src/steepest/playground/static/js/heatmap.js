// Heatmaps on canvas: the output over the plane with the data points, and the small per-neuron maps.
// Values arrive as base64 bytes b, meaning b / 127.5 - 1 in [-1, 1].

export const DOMAIN = 6;
const NEG = [245, 147, 34];    // orange: negative / class 0
const POS = [8, 119, 189];     // blue: positive / class 1
const WHITE = [232, 234, 237];
export const CLASS_COLORS = [NEG, POS, [46, 160, 67], [200, 60, 140], [120, 90, 200], [90, 90, 90]];

// Bytes from a binary frame (a Uint8Array) or from base64 text.
function decodeBytes(source) {
  if (source instanceof Uint8Array) return source;
  const raw = atob(source);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

export function decode(source) {
  const bytes = decodeBytes(source);
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 127.5 - 1;
  return out;
}

function mix(a, b, t) {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

// Diverging colour for v in [-1, 1]: orange - white - blue.
export function diverging(v) {
  return v < 0 ? mix(WHITE, NEG, -v) : mix(WHITE, POS, v);
}

export function cssColor(rgb, alpha = 1) {
  return `rgba(${rgb[0] | 0},${rgb[1] | 0},${rgb[2] | 0},${alpha})`;
}

function paint(canvas, size, colorAt) {
  const small = document.createElement("canvas");
  small.width = small.height = size;
  const ctx = small.getContext("2d");
  const image = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const c = colorAt(i);
    image.data.set([c[0], c[1], c[2], 255], i * 4);
  }
  ctx.putImageData(image, 0, 0);
  const target = canvas.getContext("2d");
  target.imageSmoothingEnabled = true;
  target.drawImage(small, 0, 0, canvas.width, canvas.height);
}

// Channels on a size x size grid, interpolated bilinearly per pixel of a finer image before
// they are coloured: boundaries between classes come out smooth, not in grid-cell steps.
function paintInterpolated(canvas, size, channels, colorOf, out = 180) {
  // pixel p of ``out`` -> (grid cell, fraction towards the next cell), clamped to the grid
  const at = (p) => {
    const g = Math.min(size - 1, Math.max(0, (p + 0.5) / out * size - 0.5));
    const cell = Math.min(size - 2, Math.floor(g));
    return [cell, g - cell];
  };
  const values = new Array(channels.length);
  paint(canvas, out, (i) => {
    const [y0, ty] = at(Math.floor(i / out));
    const [x0, tx] = at(i % out);
    const a = y0 * size + x0;
    for (let k = 0; k < channels.length; k++) {
      const c = channels[k];
      values[k] = (c[a] * (1 - tx) + c[a + 1] * tx) * (1 - ty) + (c[a + size] * (1 - tx) + c[a + size + 1] * tx) * ty;
    }
    return colorOf(values);
  });
}

// A map of values in [-1, 1] (a neuron, a feature, a contour).
export function drawValues(canvas, text, size, discretize = false) {
  const v = decode(text);
  paint(canvas, size, (i) => diverging(discretize ? Math.sign(v[i]) : v[i] * 0.85));
}

// The network's output: binary probability, regression value or class with confidence.
export function drawOutput(canvas, output, discretize) {
  if (output.kind === "classes" && output.p0 !== undefined && !discretize) {
    // colour = Σ_k P(k)·colour_k, paler where the network is unsure: smooth across boundaries
    const probs = [];
    for (let k = 0; output[`p${k}`] !== undefined; k++) probs.push(decode(output[`p${k}`]));
    paintInterpolated(canvas, output.size, probs, (values) => {
      let rgb = [0, 0, 0];
      let top = 0;
      values.forEach((v, k) => {
        const pk = (v + 1) / 2;
        top = Math.max(top, pk);
        rgb = rgb.map((c, j) => c + pk * CLASS_COLORS[k % CLASS_COLORS.length][j]);
      });
      const sure = (top - 1 / values.length) / (1 - 1 / values.length);
      return mix(WHITE, rgb, Math.max(0, sure) * 0.9);
    });
  } else if (output.kind === "classes") {
    const cls = decodeBytes(output.class);
    const conf = decode(output.conf);
    paint(canvas, output.size, (i) => {
      const strength = discretize ? 0.8 : Math.max(0, (conf[i] + 1) / 2) * 0.9;
      return mix(WHITE, CLASS_COLORS[cls[i] % CLASS_COLORS.length], strength);
    });
  } else {
    drawValues(canvas, output.data, output.size, discretize);
  }
}

export function toCanvas(canvas, x, y) {
  return [(x + DOMAIN) / (2 * DOMAIN) * canvas.width, (DOMAIN - y) / (2 * DOMAIN) * canvas.height];
}

export function fromCanvas(canvas, px, py) {
  return [px / canvas.width * 2 * DOMAIN - DOMAIN, DOMAIN - py / canvas.height * 2 * DOMAIN];
}

// Points [x1, x2, label]; test points get a dark outline as in TF Playground.
export function drawPoints(canvas, points, task, test = false) {
  const ctx = canvas.getContext("2d");
  for (const [x, y, label] of points) {
    const [px, py] = toCanvas(canvas, x, y);
    const color = task === "regression" ? diverging(Math.max(-1, Math.min(1, label)))
      : CLASS_COLORS[label % CLASS_COLORS.length];
    ctx.beginPath();
    ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
    ctx.fillStyle = cssColor(color);
    ctx.fill();
    ctx.lineWidth = test ? 1.6 : 1;
    ctx.strokeStyle = test ? "#111" : "#fff";
    ctx.stroke();
  }
}

// Axes: the x₁ = 0 and x₂ = 0 lines and tick labels at −6, −3, 0, 3, 6 along the edges.
export function drawAxes(canvas) {
  const ctx = canvas.getContext("2d");
  ctx.strokeStyle = "rgba(0,0,0,0.15)";
  ctx.beginPath();
  ctx.moveTo(canvas.width / 2, 0); ctx.lineTo(canvas.width / 2, canvas.height);
  ctx.moveTo(0, canvas.height / 2); ctx.lineTo(canvas.width, canvas.height / 2);
  ctx.stroke();
  ctx.fillStyle = "rgba(0,0,0,0.55)";
  ctx.font = "10px system-ui";
  for (const v of [-6, -3, 0, 3, 6]) {
    const [x] = toCanvas(canvas, v, 0);
    const [, y] = toCanvas(canvas, 0, v);
    ctx.textAlign = v === -6 ? "left" : v === 6 ? "right" : "center";
    ctx.fillText(String(v), x, canvas.height - 3);
    ctx.textAlign = "left";
    if (v !== -6) ctx.fillText(String(v), 3, Math.max(10, y + 3));
  }
  ctx.fillText("x₂", 3, 22);
  ctx.textAlign = "right";
  ctx.fillText("x₁", canvas.width - 3, canvas.height - 14);
}

// The colour key under the output map, for the task of the current network.
export function legendHtml(task, nClasses) {
  const css = (rgb) => cssColor(rgb);
  if (task === "classes") {
    return Array.from({ length: nClasses }, (_, i) =>
      `<span class="key"><span class="swatch" style="background:${css(CLASS_COLORS[i % CLASS_COLORS.length])}"></span>class ${i}</span>`).join("") +
      "<span class=\"hint\"> · paler: less sure</span>";
  }
  const bar = `<span class="bar" style="background:linear-gradient(to right, ${css(NEG)}, ${css(WHITE)}, ${css(POS)})"></span>`;
  return task === "binary"
    ? `P(class 1): <span class="end">0</span>${bar}<span class="end">1</span>`
    : `output: <span class="end">−1</span>${bar}<span class="end">1</span>`;
}
