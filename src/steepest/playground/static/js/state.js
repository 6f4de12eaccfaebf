// The page's whole state: one object that writes itself to the URL hash and reads itself back.
// The training configuration (what the server validates) plus view settings and hidden controls.

export const CONFIG_DEFAULTS = {
  dataset: "circle", n_samples: 400, n_classes: 3, noise: 0, train_ratio: 0.5, seed: 0,
  points: [], features: ["x1", "x2"], hidden: [4, 2], activation: "tanh",
  activations: ["tanh", "tanh"], loss: "auto", optimizer: "sgd", lr: 0.03, momentum: 0,
  nesterov: false, beta1: 0.9, beta2: 0.999, alpha: 0.99, weight_decay: 0,
  schedule: "constant", schedule_steps: 1000, regularization: "none", reg_rate: 0,
  batch_size: 10,
};

// speed: training steps per frame (0: as fast as possible); 15 learns the default circle in ~8 s
const VIEW_DEFAULTS = { show_test: false, discretize: false, tab: "network", hide: [], speed: 15 };

const LISTS = { features: "str", hidden: "int", activations: "str", hide: "str" };
const BOOLEANS = new Set(["nesterov", "show_test", "discretize"]);
const STRINGS = new Set(["dataset", "activation", "loss", "optimizer", "schedule",
  "regularization", "tab"]);

export function defaultState() {
  return structuredClone({ ...CONFIG_DEFAULTS, ...VIEW_DEFAULTS });
}

function encodeValue(key, value) {
  if (key === "points") return value.map((p) => p.map((v) => +(+v).toFixed(2)).join(":")).join(";");
  if (key in LISTS) return value.join(",");
  return String(value);
}

function decodeValue(key, text) {
  if (key === "points") {
    return text ? text.split(";").map((p) => p.split(":").map(Number)) : [];
  }
  if (key in LISTS) {
    const parts = text ? text.split(",") : [];
    return LISTS[key] === "int" ? parts.map((v) => parseInt(v, 10)) : parts;
  }
  if (BOOLEANS.has(key)) return text === "true";
  if (STRINGS.has(key)) return text;
  return Number(text);
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
    if (Object.prototype.hasOwnProperty.call(state, key)) state[key] = decodeValue(key, decodeURIComponent(raw));
  }
  const givenActivations = /(^|&)activations=/.test(text);
  if (!givenActivations || state.activations.length !== state.hidden.length) {
    state.activations = state.hidden.map(() => state.activation);
  }
  return state;
}

// The part of the state the server trains from.
export function configOf(state) {
  const config = {};
  for (const key of Object.keys(CONFIG_DEFAULTS)) config[key] = state[key];
  return config;
}
