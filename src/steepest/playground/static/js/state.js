// The page's whole state: one object that writes itself to the URL hash and reads itself back.
// The training configuration (what the server validates) plus view settings and hidden controls.
// The configuration's keys and defaults, and every optimizer and its settings, come from the
// server's first message (the optimizer catalogue): this file names none of them.

// speed: training steps per frame (0: as fast as possible); 15 learns the default circle in ~8 s
const VIEW_DEFAULTS = { show_test: false, discretize: false, tab: "network", hide: [], speed: 15 };
const LISTS = { features: "str", hidden: "int", activations: "str", hide: "str" };
const LEGACY_SCHEDULE_STEPS = 1000;   // the old menu's N when a link did not give it

let configDefaults = {};
let optionKinds = {};      // optimizer or scheduler setting -> catalogue kind (float, int, bool, choice, pair)
export let catalogue = { optimizers: {}, schedulers: {} };
let legacySchedules = [];  // schedules an old link names without their settings (welcome)

// Called once with the server's welcome message, before any state is read.
export function setCatalogue(welcome) {
  configDefaults = welcome.defaults;
  catalogue = welcome.catalogue;
  legacySchedules = welcome.legacy_schedules;
  optionKinds = {};
  for (const entry of [...Object.values(catalogue.optimizers), ...Object.values(catalogue.schedulers)]) {
    for (const hp of entry.hyperparameters) if (hp.name !== "lr") optionKinds[hp.name] = hp.kind;
  }
}

// The settings of optimizer `name` besides lr, as the catalogue lists them.
export function optionsOf(name) {
  const entry = catalogue.optimizers[name];
  return entry ? entry.hyperparameters.filter((hp) => hp.name !== "lr") : [];
}

// The settings of schedule `name` (none for "none"), as the catalogue lists them.
export function scheduleOptionsOf(name) {
  const entry = catalogue.schedulers[name];
  return entry ? entry.hyperparameters : [];
}

// Each setting of schedule `name` at its catalogue default, the other schedules' unset: a
// chosen schedule's settings are always in the URL (a link of the old menu has none of them).
export function scheduleDefaults(name) {
  const values = {};
  for (const entry of Object.values(catalogue.schedulers)) for (const hp of entry.hyperparameters) values[hp.name] = null;
  for (const hp of scheduleOptionsOf(name)) values[hp.name] = hp.default;
  return values;
}

export function defaultState() {
  return structuredClone({ ...configDefaults, ...VIEW_DEFAULTS });
}

function kindOf(key, fallback) {
  if (key === "points") return "points";
  if (key in LISTS) return `list-${LISTS[key]}`;
  if (key in optionKinds) return { pair: "list-float", bool: "bool", choice: "str" }[optionKinds[key]] || "number";
  if (typeof fallback === "boolean") return "bool";
  if (typeof fallback === "string") return "str";
  return "number";
}

function encodeValue(key, value) {
  if (value === null || value === undefined) return "";
  if (key === "points") return value.map((p) => p.map((v) => +(+v).toFixed(2)).join(":")).join(";");
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}

function decodeValue(key, text, fallback) {
  const kind = kindOf(key, fallback);
  if (kind === "points") return text ? text.split(";").map((p) => p.split(":").map(Number)) : [];
  if (kind.startsWith("list-")) {
    const parts = text ? text.split(",") : [];
    return kind === "list-int" ? parts.map((v) => parseInt(v, 10)) : kind === "list-float" ? parts.map(Number) : parts;
  }
  if (kind === "bool") return text === "true";
  if (kind === "str") return text;
  return text === "" ? null : Number(text);
}

// State -> "#dataset=xor&lr=0.1&..." (only values that differ from the defaults).
export function toHash(state) {
  const defaults = defaultState();
  const parts = [];
  for (const key of Object.keys(defaults)) {
    const value = encodeValue(key, state[key]);
    if (value !== encodeValue(key, defaults[key])) parts.push(`${key}=${encodeURIComponent(value)}`);
  }
  return "#" + parts.join("&");
}

// "#..." -> state; unknown keys are ignored, bad values are left for the server to refuse.
export function fromHash(hash) {
  const state = defaultState();
  const text = hash.replace(/^#/, "");
  for (const part of text ? text.split("&") : []) {
    const [key, raw = ""] = part.split("=");
    if (Object.prototype.hasOwnProperty.call(state, key)) state[key] = decodeValue(key, decodeURIComponent(raw), state[key]);
  }
  // a link of the old schedule menu (N = schedule_steps, none of the schedule's own settings):
  // the server translates it, and the page then takes the translation (app.js, onReady)
  const steps = /(^|&)schedule_steps=([^&]*)/.exec(text);
  const own = scheduleOptionsOf(state.schedule).some((hp) => new RegExp(`(^|&)${hp.name}=`).test(text));
  if (steps || (!own && legacySchedules.includes(state.schedule))) {
    state.schedule_steps = steps ? Number(decodeURIComponent(steps[2])) : LEGACY_SCHEDULE_STEPS;
  }
  const givenActivations = /(^|&)activations=/.test(text);
  if (!givenActivations || !state.activations || state.activations.length !== state.hidden.length) {
    state.activations = state.hidden.map(() => state.activation);
  }
  return state;
}

// The part of the state the server trains from: settings of other optimizers and schedules
// are left out.
export function configOf(state) {
  const own = new Set([...optionsOf(state.optimizer), ...scheduleOptionsOf(state.schedule)].map((hp) => hp.name));
  const config = {};
  for (const key of Object.keys(configDefaults)) {
    if (key in optionKinds && (!own.has(key) || state[key] === null)) continue;
    config[key] = state[key];
  }
  if (state.schedule_steps != null) {   // an old link: the server translates it
    for (const hp of scheduleOptionsOf(state.schedule)) delete config[hp.name];
    config.schedule_steps = state.schedule_steps;
  }
  return config;
}

// A short name for an optimizer setting: the catalogue's label, changed settings, the lr.
export function labelOf(cfg) {
  const entry = catalogue.optimizers[cfg.optimizer];
  if (!entry) return String(cfg.optimizer);
  const parts = [entry.label];
  for (const hp of optionsOf(cfg.optimizer)) {
    const value = cfg[hp.name];
    if (value === null || value === undefined || JSON.stringify(value) === JSON.stringify(hp.default)) continue;
    parts.push(value === true ? hp.name : `${hp.name} ${Array.isArray(value) ? `(${value.join(", ")})` : value}`);
  }
  return `${parts.join(" ")} lr ${cfg.lr}`;
}
