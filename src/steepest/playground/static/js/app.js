// Wires the page together: controls <-> state <-> URL hash, the websocket, and the views.
// The server trains; this file only sends the user's intent and draws what comes back.

import { catalogue, configOf, fromHash, labelOf, optionsOf, scheduleDefaults, scheduleOptionsOf, setCatalogue, toHash } from "./state.js";
import { NetworkView } from "./network.js";
import { drawAxes, drawOutput, drawPoints, drawValues, fromCanvas, legendHtml } from "./heatmap.js";
import { GrowingChart, drawLrRange } from "./charts.js";
import { PathsView } from "./paths.js";
import { drawInspector, drawLayerTable, drawNotes, fmt } from "./panels.js";

const $ = (id) => document.getElementById(id);
let state = null;          // set from the URL once the server's catalogue has arrived
let socket = null;
let ready = null;
let last = null;
let playing = false;
let lossChart = null;
let raceChart = null;
let previewNeuron = null;  // [layer, i] of the hovered neuron, drawn large in the output

const NUMBER_FIELDS = ["n_classes", "train_ratio", "noise", "batch_size", "seed", "reg_rate"];
const SELECT_FIELDS = ["dataset", "regularization", "loss"];
const MAX_LAYERS = 6;
const MAX_NEURONS = 8;

// ------------------------------------------------------------------ connection

// The join code travels from the page's address (?code=) to the websocket's.
const JOIN_CODE = new URLSearchParams(location.search).get("code");
let serverSaid = null;     // the last error the server sent: a refusal is shown as it wrote it
let pending = null;        // a snapshot whose binary map frame is on its way

function connect() {
  const query = JOIN_CODE ? `?code=${encodeURIComponent(JOIN_CODE)}` : "";
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws${query}`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    const name = localStorage.getItem("steepest-name");
    if (name) send({ type: "hello", name });
  };
  socket.onmessage = (event) => {
    if (typeof event.data === "string") handle(JSON.parse(event.data));
    else if (pending) { const snap = pending; pending = null; onSnapshot(attachMaps(snap, event.data)); }
  };
  socket.onclose = (event) => {
    setPlaying(false);
    const reason = event.reason || (event.code !== 1006 && serverSaid);
    showError(reason || "The connection to the playground server was lost. Is `steepest playground` still running? Reload the page to reconnect.");
  };
}

// Cut a binary frame into the maps its snapshot's layout names (see server README).
function attachMaps(snap, buffer) {
  const bytes = new Uint8Array(buffer);
  let at = 0;
  const take = (n) => { const part = bytes.subarray(at, at + n); at += n; return part; };
  const layout = snap.maps.output;
  const output = { kind: layout.kind, size: layout.size };
  for (const part of layout.parts) output[part] = take(layout.size * layout.size);
  const side = snap.maps.neuron_size;
  return { ...snap, output, neuron_size: side,
    neurons: snap.maps.neurons.map((count) => Array.from({ length: count }, () => take(side * side))) };
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

// The server's first message: the optimizer catalogue, the configuration's defaults and the
// race's and paths' starting entries. The page's forms, defaults and URL keys come from it.
function onWelcome(message) {
  setCatalogue(message);
  raceSettings = message.race_settings;
  menus = { network: message.network_optimizers, paths: message.path_optimizers };
  $("optimizer").innerHTML = menus.network.map((name) => catalogue.optimizers[name])
    .map((e) => `<option value="${e.name}" title="${e.summary}">${e.label}</option>`).join("");
  $("schedule").innerHTML = message.schedules.map((name) => catalogue.schedulers[name]
    ? `<option value="${name}" title="${catalogue.schedulers[name].summary}">${catalogue.schedulers[name].label}</option>`
    : `<option value="${name}" title="the learning rate stays as set">${name} (constant lr)</option>`).join("");
  state = fromHash(location.hash);
  syncControls();
  drawOutputMap();
  entryRows($("race-entries"), message.race_defaults, menus.network);
  entryRows($("path-entries"), message.path_defaults, menus.paths);
  if (state.speed !== 15) send({ type: "speed", steps_per_frame: state.speed });
  sendConfig();
  if (state.tab === "paths") requestPaths();
}

// One input per setting of the chosen optimizer and schedule (from the catalogue), lr aside.
function renderOptions() {
  renderSettings($("optimizer-options"), optionsOf(state.optimizer));
  renderSettings($("schedule-options"), scheduleOptionsOf(state.schedule));
}

function renderSettings(root, hyperparameters) {
  root.innerHTML = "";
  for (const hp of hyperparameters) {
    const row = document.createElement("div");
    row.className = "row";
    row.title = hp.help;
    const value = state[hp.name] ?? hp.default;
    const bound = (v) => (v === null ? "" : v);
    const number = (v, i = "") => `<input type="number" step="any" data-option="${hp.name}" data-index="${i}" min="${bound(hp.low)}" max="${bound(hp.high)}" value="${v}">`;
    let input;
    if (hp.kind === "bool") input = `<input type="checkbox" data-option="${hp.name}" ${value ? "checked" : ""}>`;
    else if (hp.kind === "choice") input = `<select data-option="${hp.name}">${hp.choices.map((c) => `<option ${c === value ? "selected" : ""}>${c}</option>`).join("")}</select>`;
    else if (hp.kind === "pair") input = number(value[0], 0) + number(value[1], 1);
    else input = number(value);
    row.innerHTML = `<label>${hp.label}</label>${input}`;
    root.appendChild(row);
  }
}

function readOption(input) {
  const name = input.dataset.option;
  if (input.type === "checkbox") return input.checked;
  if (input.tagName === "SELECT") return input.value;
  if (input.dataset.index !== "") {
    const pair = [...(state[name] ?? optionsOf(state.optimizer).find((hp) => hp.name === name).default)];  // pairs: optimizers only
    pair[Number(input.dataset.index)] = Number(input.value);
    return pair;
  }
  return Number(input.value);
}

function sendConfig() {
  clearError();
  send({ type: "config", config: configOf(state) });
}

function showNotice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

// The teacher shared a setup: offer it; the student decides.
function offerSetup(message) {
  $("setup-from").textContent = message.from;
  $("setup-offer").hidden = false;
  $("apply-setup").onclick = () => {
    $("setup-offer").hidden = true;
    const config = message.config;
    reconfigure({ ...config, activations: config.activations || state.activations, points: config.points || [] });
  };
}

function showError(text) {
  $("error").textContent = text;
  $("error").classList.add("shown");
}

function clearError() {
  $("error").textContent = "";
  $("error").classList.remove("shown");
}

// ------------------------------------------------------------------ state <-> controls <-> URL

function saveHash() {
  history.replaceState(null, "", toHash(state));
}

function syncControls() {
  for (const key of [...NUMBER_FIELDS, ...SELECT_FIELDS]) {
    $(key).value = state[key];
    const out = $(`${key}-out`);
    if (out) out.textContent = state[key];
  }
  $("learning-rate").value = state.lr;
  $("optimizer").value = state.optimizer;
  $("schedule").value = state.schedule;
  syncProblem();
  $("speed").value = String(state.speed);
  $("activation").value = state.activation;
  $("show_test").checked = state.show_test;
  $("discretize").checked = state.discretize;
  $("classes-row").hidden = !["spirals", "blobs"].includes(state.dataset);
  $("custom-hint").hidden = state.dataset !== "custom";
  renderOptions();
  $("layer-count").textContent = `${state.hidden.length} hidden layer${state.hidden.length === 1 ? "" : "s"}`;
  for (const name of state.hide) {
    document.querySelectorAll(`[data-control="${CSS.escape(name)}"]`).forEach((node) => { node.hidden = true; });
    const control = $(name);
    if (control) (control.closest(".row, .field") || control).hidden = true;
  }
  showTab(state.tab);
}

// A change that needs a new network (everything but the learning rate and the view).
function reconfigure(changes) {
  Object.assign(state, changes);
  saveHash();
  syncControls();
  drawOutputMap();
  sendConfig();
}

function bindControls() {
  for (const key of NUMBER_FIELDS) {
    $(key).addEventListener("input", () => {
      const out = $(`${key}-out`);
      if (out) out.textContent = $(key).value;
    });
    $(key).addEventListener("change", () => reconfigure({ [key]: Number($(key).value) }));
  }
  for (const key of SELECT_FIELDS) $(key).addEventListener("change", () => reconfigure({ [key]: $(key).value }));
  $("optimizer").addEventListener("change", () => {
    // another optimizer starts from its own defaults: the old one's settings are dropped
    const cleared = Object.fromEntries(optionsOf(state.optimizer).map((hp) => [hp.name, null]));
    reconfigure({ ...cleared, optimizer: $("optimizer").value });
  });
  $("optimizer-options").addEventListener("change", (event) => {
    if (event.target.dataset.option) reconfigure({ [event.target.dataset.option]: readOption(event.target) });
  });
  // another schedule starts from its own catalogue defaults
  $("schedule").addEventListener("change", () => reconfigure({ ...scheduleDefaults($("schedule").value), schedule: $("schedule").value }));
  $("schedule-options").addEventListener("change", (event) => {
    if (event.target.dataset.option) reconfigure({ [event.target.dataset.option]: readOption(event.target) });
  });
  $("activation").addEventListener("change", () => {
    const activation = $("activation").value;
    reconfigure({ activation, activations: state.hidden.map(() => activation) });
  });
  $("learning-rate").addEventListener("change", () => {
    const lr = Number($("learning-rate").value);
    state.lr = lr;
    saveHash();
    clearError();
    if (ready && !ready.race) send({ type: "set", lr }); else sendConfig();
  });
  for (const key of ["show_test", "discretize"]) {
    $(key).addEventListener("change", () => {
      state[key] = $(key).checked;
      saveHash();
      drawOutputMap();
    });
  }
  $("regenerate").addEventListener("click", () => reconfigure({ seed: state.seed + 1, init_seed: null }));
  $("new-weights").addEventListener("click", () => reconfigure({ init_seed: (state.init_seed ?? state.seed) + 1 }));
  $("clear-points").addEventListener("click", () => reconfigure({ points: [] }));
  $("play").addEventListener("click", () => { clearError(); send({ type: "play" }); setPlaying(true); });
  $("pause").addEventListener("click", () => send({ type: "pause" }));
  $("step").addEventListener("click", () => { clearError(); send({ type: "step" }); });
  $("reset").addEventListener("click", () => (ready ? (clearError(), send({ type: "reset" })) : sendConfig()));
  $("add-layer").addEventListener("click", () => {
    if (state.hidden.length >= MAX_LAYERS) return;
    reconfigure({ hidden: [...state.hidden, 2], activations: [...state.activations, state.activation] });
  });
  $("remove-layer").addEventListener("click", () => {
    if (!state.hidden.length) return;
    reconfigure({ hidden: state.hidden.slice(0, -1), activations: state.activations.slice(0, -1) });
  });
  $("lr-range").addEventListener("click", () => { $("lr-range-text").textContent = "sweeping the learning rate from the starting weights…"; send({ type: "lr_range" }); });
  $("close-inspector").addEventListener("click", () => { $("inspector").hidden = true; });
  for (const button of document.querySelectorAll("[data-export]")) {
    button.addEventListener("click", () => send({ type: "export", what: button.dataset.export }));
  }
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.addEventListener("click", () => {
      const wasRace = state.tab === "race";
      state.tab = button.dataset.tab;
      saveHash();
      showTab(state.tab);
      if (state.tab === "paths") requestPaths();
      if (wasRace && ready && ready.race) send({ type: "race", optimizers: null });
    });
  }
  $("output-map").addEventListener("click", addCustomPoint);
  $("problem").addEventListener("change", () => {
    const group = [...$("dataset").querySelectorAll("optgroup")].find((g) => g.label === $("problem").value);
    reconfigure({ dataset: group.querySelector("option").value, points: [] });
  });
  $("speed").addEventListener("change", () => {
    state.speed = Number($("speed").value);
    saveHash();
    send({ type: "speed", steps_per_frame: state.speed });
  });
  $("student-name").value = localStorage.getItem("steepest-name") || "";
  $("student-name").addEventListener("change", () => {
    const name = $("student-name").value.trim();
    if (!name) return;
    localStorage.setItem("steepest-name", name);
    send({ type: "hello", name });
  });
  $("dismiss-setup").addEventListener("click", () => { $("setup-offer").hidden = true; });
  window.addEventListener("hashchange", () => {
    if (location.hash === toHash(state)) return;
    state = fromHash(location.hash);
    syncControls();
    sendConfig();
  });
}

// TF Playground's problem type: the data set menu shows that kind's sets (its optgroup).
function syncProblem() {
  const group = $("dataset").selectedOptions[0]?.parentElement;
  const kind = group && group.label === "regression" ? "regression" : "classification";
  $("problem").value = kind;
  for (const g of $("dataset").querySelectorAll("optgroup")) g.hidden = g.label !== kind;
}

function showTab(tab) {
  for (const view of ["network", "race", "paths"]) $(`view-${view}`).hidden = view !== tab;
  // the paths run at once: play, step, reset and the network's lr do nothing there
  document.body.classList.toggle("inert-transport", tab === "paths");
  for (const id of ["reset", "step", "new-weights", "learning-rate", "speed"]) $(id).disabled = tab === "paths";
  $("play").disabled = tab === "paths" || playing;
  for (const button of document.querySelectorAll("[data-tab]")) button.classList.toggle("active", button.dataset.tab === tab);
}

const network = new NetworkView($("network"), {
  toggleFeature(name) {
    const features = state.features.includes(name) ? state.features.filter((f) => f !== name) : [...state.features, name];
    if (features.length) reconfigure({ features });
  },
  neurons(layer, delta) {
    const hidden = [...state.hidden];
    hidden[layer] = Math.max(1, Math.min(MAX_NEURONS, hidden[layer] + delta));
    reconfigure({ hidden });
  },
  activation(layer, activation) {
    const activations = [...state.activations];
    activations[layer] = activation;
    reconfigure({ activations });
  },
  inspect(layer, row, col) { send({ type: "inspect", layer, row, col }); },
  preview(layer, i) { previewNeuron = layer === null ? null : [layer, i]; drawOutputMap(); },
  editBias(layer, row, value) {
    $("inspector").hidden = false;
    $("inspector-body").innerHTML = `<p>The bias b${layer + 1}[${row}] is added to this unit's weighted sum: z = Σ w·a + b.</p>`;
    $("inspector-body").appendChild(editor(`b${layer + 1}[${row}]`, value ?? 0, (v) => ({ layer, row, col: null, value: v })));
  },
});

// ------------------------------------------------------------------ custom data

function addCustomPoint(event) {
  if (state.dataset !== "custom") return;
  const canvas = $("output-map");
  const rect = canvas.getBoundingClientRect();
  const [x, y] = fromCanvas(canvas, (event.clientX - rect.left) * canvas.width / rect.width,
    (event.clientY - rect.top) * canvas.height / rect.height);
  const label = event.altKey ? 2 : event.shiftKey ? 1 : 0;
  state.points = [...state.points, [+x.toFixed(2), +y.toFixed(2), label]];
  saveHash();
  drawOutputMap();
  if (state.points.length >= 4) sendConfig();
}

// ------------------------------------------------------------------ drawing

function setPlaying(value) {
  playing = value;
  $("play").disabled = playing || (state !== null && state.tab === "paths");
  $("pause").disabled = !playing;
  document.body.classList.toggle("playing", playing);
}

function plain(value) {
  return value === null || value === undefined ? "NaN" : String(Number(value.toPrecision(4)));
}

function drawOutputMap() {
  const canvas = $("output-map");
  const ctx = canvas.getContext("2d");
  const neuron = previewNeuron && last && last.neurons ? last.neurons[previewNeuron[0]]?.[previewNeuron[1]] : null;
  if (neuron) {
    drawValues(canvas, neuron, last.neuron_size, state.discretize);
  } else if (last && last.output && ready && !ready.race && state.dataset === ready.config.dataset) {
    drawOutput(canvas, last.output, state.discretize);
  } else {
    ctx.fillStyle = "#f4f5f7";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }
  drawAxes(canvas);
  const custom = state.dataset === "custom";
  const train = custom && (!ready || ready.config.dataset !== "custom") ? state.points : ready ? ready.train : [];
  drawPoints(canvas, custom ? state.points : train, ready ? ready.task : "binary");
  if (state.show_test && ready && !custom) drawPoints(canvas, ready.test, ready.task, true);
}

function onReady(message) {
  ready = message;
  if (state.schedule_steps != null) {   // an old link, translated by the server: keep its terms
    delete state.schedule_steps;
    Object.assign(state, scheduleDefaults(message.config.schedule), { schedule: message.config.schedule });
    for (const hp of scheduleOptionsOf(state.schedule)) state[hp.name] = message.config[hp.name];
    saveHash();
    syncControls();
  }
  last = null;
  setPlaying(false);
  $("batch_size").max = Math.min(message.train.length, 100);
  $("inspector").hidden = true;
  if (message.race) {
    raceChart = new GrowingChart($("race-chart"), 620, 300, message.race.map(labelOf), { logY: true });
    $("race-maps").innerHTML = message.race.map((cfg, i) =>
      `<figure><canvas id="race-map-${i}" width="150" height="150"></canvas><figcaption>${labelOf(cfg)}</figcaption></figure>`).join("");
    send({ type: "play" });
    setPlaying(true);
    return;
  }
  network.build(state, message);
  lossChart.clear();
  $("map-legend").innerHTML = legendHtml(message.task, message.n_classes);
}

function onSnapshot(message) {
  last = message;
  $("step-count").textContent = String(message.step);
  $("epoch").textContent = String(message.epoch);
  $("train-loss").textContent = plain(message.train_loss);
  $("test-loss").textContent = plain(message.test_loss);
  $("steps-per-s").textContent = String(Math.round(message.steps_per_s));
  $("fps").textContent = String(Math.round(message.fps));
  $("dead-relu").textContent = String(message.dead_relu);
  $("lr-now").textContent = state.schedule === "none" ? "" : `(now ${fmt(message.lr)})`;
  $("critical-lr").textContent = message.critical_lr == null ? "" : `2/λ_max ${fmt(message.critical_lr)}`;
  lossChart.push(message.step, [message.train_loss, message.test_loss]);
  drawOutputMap();
  network.update(message, state.discretize);
  drawLayerTable($("layer-table"), message);
  drawNotes($("notes"), message.notes);
  const banner = $("diverged");
  banner.hidden = !message.diverged;
  if (message.diverged) banner.textContent = message.diverged.message;
  $("overshoot").hidden = !message.overshoot;
  if (message.overshoot && $("overshoot").textContent !== message.overshoot) $("overshoot").textContent = message.overshoot;
  setPlaying(message.playing);
}

function onRaceSnapshot(message) {
  $("step-count").textContent = String(message.step);
  $("epoch").textContent = String(message.epoch);
  if (raceChart) raceChart.push(message.step, message.runs.map((r) => r.train_loss));
  message.runs.forEach((run, i) => {
    const canvas = $(`race-map-${i}`);
    if (canvas) drawOutput(canvas, run.output, false);
  });
  setPlaying(message.playing);
}

// "set <name> = [value] set": TF Playground's edit of a weight or a bias by hand.
function editor(name, value, fields) {
  const row = document.createElement("div");
  row.className = "edit-row";
  row.innerHTML = `<label>set ${name} =</label><input type="number" step="any" data-testid="edit-value" value="${value}">` +
    `<button data-testid="edit-set">set</button>`;
  row.querySelector("button").addEventListener("click", () => {
    clearError();
    send({ type: "edit", ...fields(Number(row.querySelector("input").value)) });
  });
  return row;
}

function download(message) {
  const bytes = message.encoding === "base64"
    ? Uint8Array.from(atob(message.content), (c) => c.charCodeAt(0)) : message.content;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([bytes], { type: message.mime }));
  link.download = message.filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

function onLrRange(message) {
  drawLrRange($("lr-range-chart"), 230, 150, message.lrs, message.losses, message.suggested_lr);
  const text = $("lr-range-text");
  text.innerHTML = `Tested from the network's starting weights (as after reset; the trained ` +
    `weights are left alone), ${message.steps} steps with lr rising from 1e-5 to 10. Proposed ` +
    `learning rate: <b data-testid="suggested-lr">${fmt(message.suggested_lr)}</b> (where the loss ` +
    `falls fastest, the red line). <button id="use-lr">use it</button>`;
  $("use-lr").addEventListener("click", () => {
    $("learning-rate").value = Number(message.suggested_lr.toPrecision(2));
    $("learning-rate").dispatchEvent(new Event("change"));
  });
}

function handle(message) {
  switch (message.type) {
    case "welcome": onWelcome(message); break;
    case "ready": onReady(message); break;
    case "snapshot":
      if (message.maps) pending = message;
      else onSnapshot(last ? { ...message, output: last.output, neurons: last.neurons, neuron_size: last.neuron_size } : message);
      break;
    case "race_snapshot": onRaceSnapshot(message); break;
    case "lr": $("learning-rate").value = message.lr; break;
    case "lr_range": onLrRange(message); break;
    case "inspect":
      $("inspector").hidden = false;
      drawInspector($("inspector-body"), message);
      $("inspector-body").appendChild(editor(message.name, message.weight,
        (value) => ({ layer: message.layer, row: message.row, col: message.col, value })));
      break;
    case "paths": paths.show(message); break;
    case "export": download(message); break;
    case "error": serverSaid = message.message; showError(message.message); break;
    case "notice": showNotice(message.message); break;
    case "teacher_setup": offerSetup(message); break;
    case "speed": break;
    case "hello": $("student-name").value = message.name; break;
    default: break;
  }
}

// ------------------------------------------------------------------ race and paths

// An optimizer, its lr and (where it takes one) one more setting, for the race and the paths.
let raceSettings = [];     // the settings besides lr a row may offer, first taken wins (welcome)
let menus = { network: [], paths: [] };  // the optimizers each menu offers (welcome)

function entryRow(d, i, names) {
  const setting = raceSettings.map((name) => optionsOf(d.optimizer).find((hp) => hp.name === name)).find(Boolean);
  return `<div class="entry">
    <input type="checkbox" ${d.on === false ? "" : "checked"} data-i="${i}" class="on" title="take part">
    <select class="opt">${names.map((name) => catalogue.optimizers[name]).map((e) => `<option value="${e.name}" ${e.name === d.optimizer ? "selected" : ""}>${e.label}</option>`).join("")}</select>
    <label>lr <input class="lr" type="number" step="any" value="${d.lr ?? ""}" placeholder="auto"></label>
    ${setting ? `<label title="${setting.help}">${setting.label} <input class="mu" data-name="${setting.name}" type="number" step="${setting.kind === "int" ? 1 : 0.1}" min="${setting.low ?? ""}" max="${setting.high ?? ""}" value="${d[setting.name] ?? ""}" placeholder="${setting.default}"></label>` : ""}
  </div>`;
}

function entryRows(root, entries, names) {
  root.innerHTML = entries.map((d, i) => entryRow(d, i, names)).join("");
}

// A row whose optimizer changed is redrawn: the μ field shows only where it means something.
function redrawEntry(event) {
  if (!event.target.classList.contains("opt")) return;
  const row = event.target.closest(".entry");
  const holder = document.createElement("div");
  const names = row.closest("#path-entries") ? menus.paths : menus.network;
  holder.innerHTML = entryRow({ optimizer: event.target.value, on: row.querySelector(".on").checked }, 0, names);
  row.replaceWith(holder.firstElementChild);
}

function readEntries(root) {
  return [...root.querySelectorAll(".entry")].filter((row) => row.querySelector(".on").checked).map((row) => {
    const entry = { optimizer: row.querySelector(".opt").value };
    const lr = row.querySelector(".lr").value;
    if (lr !== "") entry.lr = Number(lr);
    const mu = row.querySelector(".mu");
    if (mu && mu.value !== "") entry[mu.dataset.name] = Number(mu.value);
    return entry;
  });
}

$("race-entries").addEventListener("change", redrawEntry);
$("race-start").addEventListener("click", () => {
  clearError();
  const optimizers = readEntries($("race-entries")).map((e) => ({ ...e, lr: e.lr ?? state.lr }));
  send({ type: "race", optimizers });
});
$("race-leave").addEventListener("click", () => {
  send({ type: "race", optimizers: null });
  state.tab = "network";
  saveHash();
  showTab(state.tab);
});

let pathStart = null;
function requestPaths(start = pathStart) {
  clearError();
  const message = { type: "paths", function: $("path-function").value, steps: Number($("path-steps").value),
    optimizers: readEntries($("path-entries")) };
  if (start) message.start = start;
  send(message);
}
const paths = new PathsView($("paths-canvas"), $("path-legend"), (start) => { pathStart = start; requestPaths(start); },
  $("path-slider"), $("path-note"));
$("path-function").addEventListener("change", () => { pathStart = null; requestPaths(); });
$("path-steps").addEventListener("change", () => requestPaths());
$("path-entries").addEventListener("change", (event) => { redrawEntry(event); requestPaths(); });

// ------------------------------------------------------------------ start

lossChart = new GrowingChart($("loss-chart"), 360, 150, ["training loss", "test loss"]);
bindControls();
setPlaying(false);
connect();
