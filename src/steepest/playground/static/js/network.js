// The network view: feature nodes, hidden neurons as small heatmaps, output nodes, and links
// whose width is |w| and colour the sign of w. Clicking a link asks for its chain-rule breakdown.

import { CLASS_COLORS, cssColor, drawOutput, drawValues } from "./heatmap.js";

const NODE = 34;
const GAP = 42;
const TOP = 54;
const SVG_NS = "http://www.w3.org/2000/svg";
export const FEATURE_NAMES = { x1: "X₁", x2: "X₂", x1sq: "X₁²", x2sq: "X₂²", x1x2: "X₁X₂",
  sinx1: "sin X₁", sinx2: "sin X₂" };
export const ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear", "leaky_relu", "binary_step"];

function el(tag, attrs = {}, parent = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  if (parent) parent.appendChild(node);
  return node;
}

export class NetworkView {
  constructor(root, actions) {
    this.root = root;
    this.actions = actions;
    this.links = [];
    this.neuronCanvases = [];
  }

  // Lay out every node and link for the configuration in `state` and the `ready` message.
  build(state, ready) {
    this.root.innerHTML = "";
    this.state = state;
    const width = this.root.clientWidth || 560;
    const allFeatures = Object.keys(FEATURE_NAMES);
    const columns = [allFeatures.length, ...state.hidden, ready.n_outputs];
    const xs = columns.map((_, i) => 52 + i * (width - NODE - 64) / (columns.length - 1));
    const height = TOP + Math.max(...columns) * GAP + 10;
    this.root.style.height = `${height}px`;
    this.svg = document.createElementNS(SVG_NS, "svg");
    this.svg.setAttribute("width", width);
    this.svg.setAttribute("height", height);
    this.svg.classList.add("links");
    this.root.appendChild(this.svg);
    const yOf = (count, i) => TOP + i * GAP + (Math.max(...columns) - count) * GAP / 2;
    this.positions = columns.map((count, c) => Array.from({ length: count }, (_, i) => [xs[c], yOf(count, i)]));

    el("div", { class: "col-title", style: `left:${xs[0] - 6}px`, text: "FEATURES" }, this.root);
    allFeatures.forEach((name, i) => {
      const active = state.features.includes(name);
      const node = el("div", { class: `node feature${active ? " active" : ""}`, title: `${FEATURE_NAMES[name]}: click to ${active ? "remove" : "add"}`,
        "data-feature": name, style: `left:${xs[0]}px;top:${this.positions[0][i][1]}px` }, this.root);
      const canvas = el("canvas", { width: 40, height: 40 }, node);
      const at = state.features.indexOf(name);
      if (at >= 0 && ready.feature_maps) drawValues(canvas, ready.feature_maps[at], ready.neuron_size);
      else canvas.getContext("2d").fillStyle = "#eee";
      el("span", { class: "node-label", text: FEATURE_NAMES[name] }, node);
      node.addEventListener("click", () => this.actions.toggleFeature(name));
    });

    this.neuronCanvases = state.hidden.map((count, layer) => {
      const x = xs[layer + 1];
      const head = el("div", { class: "layer-head", style: `left:${x - 22}px` }, this.root);
      const plus = el("button", { class: "mini", title: "add a neuron", "data-layer-add": layer, text: "+" }, head);
      const minus = el("button", { class: "mini", title: "remove a neuron", text: "−" }, head);
      el("span", { text: `${count} neuron${count > 1 ? "s" : ""}` }, head);
      plus.addEventListener("click", () => this.actions.neurons(layer, +1));
      minus.addEventListener("click", () => this.actions.neurons(layer, -1));
      const select = el("select", { class: "layer-activation", title: `activation of hidden layer ${layer + 1}` }, head);
      for (const a of ACTIVATIONS) el("option", { value: a, text: a.replace("_", " ") }, select);
      select.value = state.activations[layer];
      select.addEventListener("change", () => this.actions.activation(layer, select.value));
      return Array.from({ length: count }, (_, i) => {
        const node = el("div", { class: "node neuron", style: `left:${x}px;top:${this.positions[layer + 1][i][1]}px`,
          title: `hidden layer ${layer + 1}, neuron ${i + 1}: hover to see its map large in the output` }, this.root);
        node.addEventListener("mouseenter", () => this.actions.preview(layer, i));
        node.addEventListener("mouseleave", () => this.actions.preview(null, null));
        return el("canvas", { width: 40, height: 40 }, node);
      });
    });

    const last = columns.length - 1;
    el("div", { class: "col-title", style: `left:${xs[last] - 10}px`, text: "OUTPUT" }, this.root);
    this.outputCanvas = null;
    for (let i = 0; i < ready.n_outputs; i++) {
      const node = el("div", { class: "node output", style: `left:${xs[last]}px;top:${this.positions[last][i][1]}px`,
        title: ready.n_outputs > 1 ? `logit of class ${i}` : "the network's output" }, this.root);
      if (ready.n_outputs === 1) this.outputCanvas = el("canvas", { width: 40, height: 40 }, node);
      else node.style.background = cssColor(CLASS_COLORS[i % CLASS_COLORS.length], 0.85);
    }
    this.buildLinks(state);
    this.buildBiases();
  }

  // A small square under every neuron and output: its bias (colour: sign, depth: size); click to edit.
  buildBiases() {
    this.biases = this.positions.slice(1).map((column, layer) => column.map(([x, y], row) => {
      const mark = el("div", { class: "bias", "data-bias": `${layer},${row}`, style: `left:${x - 7}px;top:${y + NODE - 7}px` }, this.root);
      mark.addEventListener("click", (event) => { event.stopPropagation(); this.actions.editBias(layer, row, this.biasValues?.[layer]?.[row]); });
      return mark;
    }));
  }

  buildLinks(state) {
    this.links = [];
    const featureIndex = Object.keys(FEATURE_NAMES);
    const layers = this.positions.length - 1;
    for (let layer = 0; layer < layers; layer++) {
      const rows = this.positions[layer + 1].length;
      const sources = layer === 0 ? state.features.map((f) => this.positions[0][featureIndex.indexOf(f)])
        : this.positions[layer];
      const grid = [];
      for (let row = 0; row < rows; row++) {
        const [x2, y2] = this.positions[layer + 1][row];
        grid.push(sources.map(([x1, y1], col) => {
          const d = `M${x1 + NODE} ${y1 + NODE / 2} C${(x1 + x2 + NODE) / 2} ${y1 + NODE / 2} ${(x1 + x2 + NODE) / 2} ${y2 + NODE / 2} ${x2} ${y2 + NODE / 2}`;
          const hit = document.createElementNS(SVG_NS, "path");
          hit.setAttribute("d", d);
          hit.setAttribute("class", "link-hit");
          const path = document.createElementNS(SVG_NS, "path");
          path.setAttribute("d", d);
          path.setAttribute("class", "link");
          hit.dataset.link = `${layer},${row},${col}`;
          const title = document.createElementNS(SVG_NS, "title");
          hit.appendChild(title);
          hit.addEventListener("click", () => this.actions.inspect(layer, row, col));
          this.svg.appendChild(path);
          this.svg.appendChild(hit);
          return { path, title };
        }));
      }
      this.links.push(grid);
    }
  }

  // Redraw the neuron maps and the links from a snapshot.
  update(snapshot, discretize) {
    snapshot.neurons?.forEach((maps, layer) => maps.forEach((text, i) => {
      const canvas = this.neuronCanvases[layer]?.[i];
      if (canvas) drawValues(canvas, text, snapshot.neuron_size, discretize);
    }));
    if (this.outputCanvas && snapshot.output) drawOutput(this.outputCanvas, snapshot.output, discretize);
    this.biasValues = snapshot.biases;
    snapshot.biases?.forEach((column, layer) => column.forEach((b, row) => {
      const mark = this.biases?.[layer]?.[row];
      if (!mark) return;
      const t = Math.min(1, Math.abs(b));
      mark.style.background = b >= 0 ? `rgba(8,119,189,${0.2 + 0.8 * t})` : `rgba(245,147,34,${0.2 + 0.8 * t})`;
      mark.title = `bias ${b.toFixed(4)} (click to edit)`;
    }));
    snapshot.weights?.forEach((matrix, layer) => matrix.forEach((row, r) => row.forEach((w, c) => {
      const link = this.links[layer]?.[r]?.[c];
      if (!link) return;
      link.path.setAttribute("stroke-width", Math.min(7, 0.4 + 2.2 * Math.abs(w)).toFixed(2));
      link.path.setAttribute("stroke", w >= 0 ? "rgb(8,119,189)" : "rgb(245,147,34)");
      link.path.setAttribute("stroke-opacity", (0.25 + 0.75 * Math.min(1, Math.abs(w))).toFixed(2));
      link.title.textContent = `weight ${w.toFixed(4)} (click: chain rule for ∂L/∂w)`;
    })));
  }
}
