// The teacher's view: one row per open tab, updated every second by the server.

const $ = (id) => document.getElementById(id);
const code = new URLSearchParams(location.search).get("code") || "";
let socket = null;
let serverSaid = null;

function fmt(v) {
  if (v === null || v === undefined) return "–";
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e4 || a < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(3)));
}

function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

// A loss sparkline as an inline SVG polyline (log scale: losses span decades).
function sparkline(values) {
  const finite = values.filter((v) => v !== null && v > 0);
  if (finite.length < 2) return "";
  const logs = finite.map(Math.log10);
  const low = Math.min(...logs);
  const high = Math.max(...logs);
  const span = high - low || 1;
  const points = logs.map((v, i) => `${(i / (logs.length - 1) * 118 + 1).toFixed(1)},${(23 - (v - low) / span * 22).toFixed(1)}`);
  return `<svg width="120" height="24" class="spark"><polyline fill="none" stroke="#0877bd" stroke-width="1.5" points="${points.join(" ")}"/></svg>`;
}

function show(message) {
  $("count").textContent = `${message.sessions.length} / ${message.limit}`;
  $("sessions").querySelector("tbody").innerHTML = message.sessions.map((s) => `
    <tr data-session="${s.id}" class="${s.diverged ? "diverged" : ""}">
      <td class="name">${escape(s.name)}</td><td>${escape(s.dataset ?? "–")}</td><td>${escape(s.optimizer ?? "–")}</td>
      <td class="num">${fmt(s.lr)}</td><td class="num">${s.step}${s.playing ? " ▶" : ""}</td>
      <td class="num">${fmt(s.train_loss)}</td><td class="num">${fmt(s.test_loss)}</td>
      <td>${sparkline(s.sparkline)}</td>
      <td><button data-send="${s.id}">send this setup to the class</button></td>
    </tr>`).join("");
}

function connect() {
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/teacher/ws?code=${encodeURIComponent(code)}`);
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "class") show(message);
    else if (message.type === "done") $("done").textContent = message.message;
    else if (message.type === "error") serverSaid = message.message;
  };
  socket.onclose = (event) => {
    $("error").textContent = event.reason || serverSaid || "The connection to the playground server was lost. Reload to reconnect.";
    $("error").classList.add("shown");
  };
}

$("pause-all").addEventListener("click", () => socket.send(JSON.stringify({ type: "pause_all" })));
$("sessions").addEventListener("click", (event) => {
  const id = event.target.dataset && event.target.dataset.send;
  if (id) socket.send(JSON.stringify({ type: "send_setup", id: Number(id) }));
});
connect();
