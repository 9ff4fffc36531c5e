// Sec. 3.2 and App. F: the weighted loss estimated under every schedule with the exact mixture
// denoiser; the estimates agree, their spread does not. Numbers from `estimatorReport` (Rust).
import { lineChart } from '../charts.js';
import { attempt, coalesce, dataControls, fmt, numberOf } from './common.js';

export const ESTIMATOR_STATE = [
  { key: 'emix', type: 'string', def: 'three-blobs' },
  { key: 'ex', type: 'string', def: '0.2,0.3' },
  { key: 'ew', type: 'string', def: 'sigmoid' },
  { key: 'ep', type: 'string', def: '' },
  { key: 'en', type: 'number', def: 1000 },
  { key: 'eseed', type: 'number', def: 1 },
  { key: 'eshow', type: 'string', def: 'cosine' },
];

const RANGE = { lambda_min: -10, lambda_max: 10 };

export function initEstimator(wasm, state) {
  const el = (id) => document.getElementById(id);
  const data = dataControls('estimator', wasm, state, { mixture: 'emix', x: 'ex', weighting: 'ew', param: 'ep' }, () => redraw());
  const samples = el('estimator-samples');
  const seed = el('estimator-seed');
  const show = el('estimator-show');
  const error = el('estimator-error');
  const section = el('explain-estimator');
  const schedules = wasm.scheduleCatalog();
  const label = (name) => ({
    adaptive: 'adaptive (App. F)',
    optimal: 'least loss variance on the same bins',
    'gradient-optimal': 'least gradient noise on the same bins',
  }[name]
    ?? schedules.find((s) => s.name === name)?.label ?? name);
  for (const s of schedules) show.append(new Option(s.label, s.name));
  samples.value = String(state.get('en'));
  if (samples.value === '') samples.value = '1000';
  seed.value = state.get('eseed');
  show.value = schedules.some((s) => s.name === state.get('eshow')) ? state.get('eshow') : 'cosine';

  let report = null;
  function compute() {
    const next = attempt(section, error, () => wasm.estimatorReport({
      ...data.request(),
      ...RANGE,
      samples: Number(samples.value),
      seed: numberOf(seed),
    }));
    if (next === null) return;
    report = next;
    data.save();
    state.set('en', Number(samples.value));
    state.set('eseed', Number(seed.value));
    fill();
    chart();
    section.dataset.frames = String(Number(section.dataset.frames ?? 0) + 1);
  }
  const redraw = coalesce(compute);

  function fill() {
    const norm = (v) => Math.hypot(...v);
    el('estimator-exact').dataset.value = String(report.weighted_loss);
    el('estimator-exact').dataset.gradient = String(norm(report.bias_gradient));
    el('estimator-exact').textContent = `Exact weighted loss (quadrature): L_w = ${fmt(report.weighted_loss)}; `
      + `its output-bias gradient ‖∇_b L_w‖ = ${fmt(norm(report.bias_gradient))}. `
      + `Each row: one estimate of both from the same N = ${report.samples} samples (seed ${report.seed}).`;
    const widest = (key) => Math.max(...report.rows.map((r) => r[key]).filter((v) => v != null));
    const worst = widest('std_of_estimate');
    const worstGradient = widest('gradient_noise');
    const cell = (text, value) => {
      const td = document.createElement('td');
      td.textContent = text;
      td.dataset.value = String(value);
      return td;
    };
    const meterCell = (value, scale, what) => {
      const td = document.createElement('td');
      const meter = document.createElement('meter');
      meter.min = 0;
      meter.max = 1;
      meter.value = value == null ? 1 : value / scale;
      meter.setAttribute('aria-label', what);
      td.append(meter);
      return td;
    };
    el('estimator-table').querySelector('tbody').replaceChildren(...report.rows.map((r) => {
      const row = document.createElement('tr');
      row.dataset.schedule = r.name;
      const name = document.createElement('th');
      name.scope = 'row';
      name.textContent = label(r.name);
      row.append(
        name,
        cell(`${fmt(r.estimate, 5)} ± ${fmt(r.standard_error, 2)}`, r.estimate),
        cell(r.std_of_estimate == null ? '∞' : fmt(r.std_of_estimate, 3), r.std_of_estimate ?? Infinity),
        meterCell(r.std_of_estimate, worst, `standard deviation of ${label(r.name)} relative to the largest`),
        cell(`${fmt(norm(r.gradient_estimate), 4)} ± ${fmt(r.gradient_standard_error, 2)}`, norm(r.gradient_estimate)),
        cell(r.gradient_noise == null ? '∞' : fmt(r.gradient_noise, 3), r.gradient_noise ?? Infinity),
        meterCell(r.gradient_noise, worstGradient, `gradient noise of ${label(r.name)} relative to the largest`),
      );
      return row;
    }));
  }

  function chart() {
    const chosen = report.rows.find((r) => r.name === show.value);
    const adaptive = report.rows.find((r) => r.name === 'adaptive');
    state.set('eshow', show.value);
    lineChart(el('chart-estimator'), {
      xLabel: 'λ',
      yLabel: 'density',
      series: [
        { label: label(chosen.name), color: '#1f77b4' },
        { label: 'adaptive (App. F)', color: '#2ca02c' },
        { label: 'w·E‖ε−ε̂‖² / 2L_w', color: '#1b1d22', dash: [6, 5] },
      ],
      data: [report.lambda, chosen.p, adaptive.p, report.target_density],
    });
  }

  samples.addEventListener('change', redraw);
  seed.addEventListener('change', redraw);
  show.addEventListener('change', () => {
    if (report) chart();
  });
  el('estimator-resample').addEventListener('click', () => {
    seed.value = String(Number(seed.value || 0) + 1);
    redraw();
  });
  compute();
}
