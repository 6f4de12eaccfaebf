// Text panels: per-layer diagnostics, plain-language notes, the chain-rule inspector.

function fmt(v, digits = 3) {
  if (v === null || v === undefined) return "–";
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(digits - 1) : v.toPrecision(digits);
}

// One row per Linear layer: a bar for log10 of the gradient norm, the update/weight ratio.
export function drawLayerTable(table, snapshot) {
  const norms = snapshot.grad_norms || [];
  const ratios = snapshot.update_ratios || [];
  const rows = ["<tr><th>layer</th><th>‖∂L/∂W‖</th><th></th><th>log₁₀ update/weight</th></tr>"];
  norms.forEach((norm, i) => {
    const log = norm ? Math.log10(norm) : -10;
    const width = Math.max(0, Math.min(100, (log + 8) / 10 * 100));
    const ratio = ratios[i];
    const health = ratio === null || ratio === undefined ? "" : ratio < -4.5 ? "low" : ratio > -1.5 ? "high" : "ok";
    rows.push(`<tr><td>${i === norms.length - 1 ? "out" : i + 1}</td><td class="num">${fmt(norm)}</td>` +
      `<td class="bar"><span style="width:${width.toFixed(1)}%"></span></td>` +
      `<td class="num ${health}">${ratio === null || ratio === undefined ? "–" : ratio.toFixed(2)}</td></tr>`);
  });
  table.innerHTML = rows.join("");
}

export function drawNotes(list, notes) {
  const text = (notes || []).map((n) => `<li>${n.replace(/</g, "&lt;")}</li>`).join("");
  if (list.innerHTML !== text) list.innerHTML = text;
}

// ∂L/∂w as a sum over paths of products of local derivatives, checked against autodiff.
export function drawInspector(body, r) {
  const name = r.name;
  const lines = [
    `<p>∂L/∂${name} on the current batch of ${r.batch_size}: the sum over samples and over the ` +
    `${r.n_paths} path${r.n_paths > 1 ? "s" : ""} from this weight to the output of the product of the local derivatives along the path.</p>`,
    `<p class="formula">∂L/∂w = Σ<sub>samples</sub> Σ<sub>paths</sub> a · f′(z) · w · f′(z) · … · ∂L/∂ŷ</p>`,
  ];
  if (r.paths.length) {
    lines.push("<table class=paths><tr><th>path (units)</th><th>factors, first sample</th><th>Σ over batch</th></tr>");
    for (const p of r.paths) {
      const factors = p.factors.map((f) => `<span title="${f.name}">${f.name} ${fmt(f.first_sample)}</span>`).join(" · ");
      lines.push(`<tr><td>${p.units.join(" → ")}</td><td class="factors">${factors}</td><td class="num">${fmt(p.contribution, 4)}</td></tr>`);
    }
    lines.push("</table>");
    if (r.n_paths > r.paths.length) lines.push(`<p class="hint">${r.paths.length} largest of ${r.n_paths} paths shown.</p>`);
  } else {
    lines.push(`<p class="hint">${r.n_paths} paths: too many to list, summed by back-propagating through the layers.</p>`);
  }
  lines.push(`<p>Σ over paths <b>${fmt(r.sum_over_paths, 6)}</b>` +
    (r.penalty_grad ? ` + regularization ${fmt(r.penalty_grad, 4)}` : "") +
    ` = <b data-testid="chain-rule-grad">${fmt(r.chain_rule_grad, 6)}</b>; autodiff gives <b data-testid="autodiff-grad">${fmt(r.autodiff_grad, 6)}</b>.</p>`);
  body.innerHTML = lines.join("");
}

export { fmt };
