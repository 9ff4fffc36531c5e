// Figure 3 and Table 1: every weighting w(λ) from the Rust registry, split by computed monotonicity.
import { lineChart, PALETTE } from './charts.js';
import { renderTex } from './math.js';

// Slider id → (weighting name, parameter key, URL state key).
const PARAMETER_INPUTS = [
  { id: 'param-sigmoid-k', weighting: 'sigmoid', key: 'k', stateKey: 'k' },
  { id: 'param-p2-gamma', weighting: 'p2', key: 'gamma', stateKey: 'p2g' },
  { id: 'param-min-snr-gamma', weighting: 'min-snr', key: 'gamma', stateKey: 'msg' },
];

const RANGE = { lambda_min: -20, lambda_max: 20, points: 401 };

export function initWeightings(wasm, state) {
  const catalog = wasm.weightingCatalog().filter((entry) => entry.name !== 'expr');
  const error = document.getElementById('weighting-error');
  const inputs = PARAMETER_INPUTS.map((p) => ({ ...p, input: document.getElementById(p.id) }));
  const logScale = document.getElementById('weighting-log');
  logScale.checked = state.get('wlog') === 1;
  logScale.addEventListener('change', () => {
    state.set('wlog', logScale.checked ? 1 : 0);
    draw();
  });
  for (const p of inputs) {
    p.input.value = state.get(p.stateKey);
    p.input.nextElementSibling.value = p.input.value;
    p.input.addEventListener('input', () => {
      p.input.nextElementSibling.value = p.input.value;
      draw();
    });
  }

  function paramsFor(name) {
    const params = {};
    for (const p of inputs) if (p.weighting === name) params[p.key] = Number(p.input.value);
    return params;
  }

  function draw() {
    let curves;
    try {
      curves = catalog.map((entry) => wasm.weightingCurve({ name: entry.name, params: paramsFor(entry.name) }, RANGE));
    } catch (e) {
      error.textContent = e.message ?? String(e);
      return;
    }
    error.textContent = '';
    for (const p of inputs) state.set(p.stateKey, Number(p.input.value));
    const lambda = curves[0].lambda;
    const groups = { monotone: { series: [], data: [lambda] }, nonmonotone: { series: [], data: [lambda] } };
    curves.forEach((curve, i) => {
      const max = Math.max(...curve.w.filter(Number.isFinite));
      const group = curve.monotonic ? groups.monotone : groups.nonmonotone;
      // FM-OT's curve lies exactly on v-prediction's (App. D.3): dash it so both stay visible.
      const dash = catalog[i].name === 'fm-ot' ? [8, 6] : undefined;
      group.series.push({ label: catalog[i].label, color: PALETTE[i % PALETTE.length], dash });
      group.data.push(curve.w.map((w) => w / max));
    });
    const scale = logScale.checked ? { logY: true, yRange: [1e-6, 2] } : { yRange: [0, 1.05] };
    lineChart(document.getElementById('chart-w-monotone'), {
      xLabel: 'λ', yLabel: 'w(λ) / max', series: groups.monotone.series, data: groups.monotone.data, ...scale,
    });
    lineChart(document.getElementById('chart-w-nonmonotone'), {
      xLabel: 'λ', yLabel: 'w(λ) / max', series: groups.nonmonotone.series, data: groups.nonmonotone.data, ...scale,
    });
    fillTable(curves);
  }

  function fillTable(curves) {
    const body = document.querySelector('#weighting-table tbody');
    body.replaceChildren(...catalog.map((entry, i) => {
      const row = document.createElement('tr');
      row.dataset.weighting = entry.name;
      const loss = document.createElement('td');
      loss.textContent = entry.label;
      if (entry.source) {
        const source = document.createElement('div');
        source.className = 'source';
        source.textContent = entry.source;
        loss.append(source);
      }
      const formula = document.createElement('td');
      renderTex(formula, entry.latex);
      const monotone = document.createElement('td');
      monotone.className = 'monotone';
      monotone.textContent = curves[i].monotonic ? '✓' : '—';
      monotone.setAttribute('aria-label', curves[i].monotonic ? 'monotone' : 'not monotone');
      row.append(loss, formula, monotone);
      return row;
    }));
  }

  draw();
}
