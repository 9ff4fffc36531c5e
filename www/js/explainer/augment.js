// Theorem 1 as data augmentation: λ' ~ p_w, the data perturbed at those noise levels, and the
// weighted loss beside the expected negative log-likelihood of the perturbed data (Rust:
// `augmentationReport`).
import { lineChart } from '../charts.js';
import { attempt, coalesce, dataControls, fmt, numberOf, prepareCanvas } from './common.js';

export const AUGMENT_STATE = [
  { key: 'gmix', type: 'string', def: 'eight-gaussians' },
  { key: 'gx', type: 'string', def: '2,0' },
  { key: 'gw', type: 'string', def: 'sigmoid' },
  { key: 'gp', type: 'string', def: '' },
  { key: 'gn', type: 'number', def: 5000 },
  { key: 'gseed', type: 'number', def: 1 },
];

const RANGE = { lambda_min: -10, lambda_max: 10 };

export function initAugment(wasm, state) {
  const el = (id) => document.getElementById(id);
  const data = dataControls('augment', wasm, state, { mixture: 'gmix', x: 'gx', weighting: 'gw', param: 'gp' }, () => redraw());
  const samples = el('augment-samples');
  const seed = el('augment-seed');
  const error = el('augment-error');
  const section = el('explain-augment');
  samples.value = String(state.get('gn'));
  if (samples.value === '') samples.value = '5000';
  seed.value = state.get('gseed');

  function compute() {
    const request = { ...data.request(), ...RANGE, samples: Number(samples.value), seed: numberOf(seed) };
    const r = attempt(section, error, () => wasm.augmentationReport(request));
    if (r === null) return;
    data.save();
    state.set('gn', Number(samples.value));
    state.set('gseed', Number(seed.value));
    const { weighting } = request;
    el('augment-note').textContent = weighting.name === 'sigmoid'
      ? `w(λ) = sigmoid(−λ + ${weighting.params.k}) ⇔ augmentation log-SNR λ′ ~ Logistic(${weighting.params.k}, 1), truncated to [${RANGE.lambda_min}, ${RANGE.lambda_max}] (point mass ${fmt(r.dirac_mass, 3)} at λ_max).`
      : `Point mass of p_w at λ_max: ${fmt(r.dirac_mass, 3)}.`;
    drawScatter(el('augment-canvas'), r, request.x);
    lineChart(el('chart-augment'), {
      xLabel: 'λ′',
      yLabel: 'density',
      series: [
        { label: 'p_w(λ′)', color: '#1b1d22' },
        { label: 'histogram of the samples', color: '#1f77b4' },
      ],
      data: mergeGrids(r),
    });
    fill(r);
    section.dataset.frames = String(Number(section.dataset.frames ?? 0) + 1);
  }
  const redraw = coalesce(compute);
  samples.addEventListener('change', redraw);
  seed.addEventListener('change', redraw);
  el('augment-resample').addEventListener('click', () => {
    seed.value = String(Number(seed.value || 0) + 1);
    redraw();
  });
  compute();
}

// uPlot wants one x axis: the density grid and the histogram's bin centres, merged.
function mergeGrids(r) {
  const xs = [...new Set([...r.lambda, ...r.histogram_lambda])].sort((a, b) => a - b);
  const density = new Map(r.lambda.map((l, i) => [l, r.p_w[i]]));
  const hist = new Map(r.histogram_lambda.map((l, i) => [l, r.histogram_density[i]]));
  return [xs, xs.map((x) => density.get(x) ?? null), xs.map((x) => hist.get(x) ?? null)];
}

function fill(r) {
  const table = document.getElementById('augment-table');
  const set = (key, value) => {
    table.querySelector(`[data-out="${key}"]`).textContent = value;
  };
  set('left', fmt(r.weighted_loss));
  set('nll', fmt(r.expected_nll));
  set('nll-mc', `${fmt(r.expected_nll_mc, 5)} ± ${fmt(r.expected_nll_se, 2)}`);
  set('entropy', fmt(r.noise_entropy_term));
  set('mismatch', fmt(r.prior_mismatch_term));
  set('right', fmt(r.right_side));
  set('right-mc', `${fmt(r.right_side_mc, 5)} ± ${fmt(r.expected_nll_se, 2)}`);
  const relative = Math.abs(r.weighted_loss - r.right_side) / Math.abs(r.weighted_loss);
  const verdict = document.getElementById('augment-verdict');
  verdict.dataset.relative = String(relative);
  verdict.dataset.z = String((r.right_side_mc - r.weighted_loss) / r.expected_nll_se);
  verdict.textContent = `Denoising loss and likelihood of augmented data agree to ${fmt(relative, 2)} (relative); `
    + `the sampled right side is ${fmt(Math.abs(r.right_side_mc - r.weighted_loss) / r.expected_nll_se, 2)} standard errors away.`;
}

// Hue from blue (λ' = λ_max, little noise) to red (λ' = λ_min).
function colour(lambda) {
  const t = (lambda - RANGE.lambda_min) / (RANGE.lambda_max - RANGE.lambda_min);
  return `hsla(${Math.round(240 * Math.min(1, Math.max(0, t)))}, 80%, 45%, 0.55)`;
}

function drawScatter(canvas, r, xText) {
  const { ctx, width, height } = prepareCanvas(canvas);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const d = r.dim;
  // View: the data's extent, widened to ±3 (where the noisiest samples live).
  let lo = -3;
  let hi = 3;
  for (let i = 0; i < r.data.length; i += 1) {
    lo = Math.min(lo, r.data[i]);
    hi = Math.max(hi, r.data[i]);
  }
  const pad = 0.05 * (hi - lo);
  const span = hi - lo + 2 * pad;
  const scale = Math.min(width, height) / span;
  const cx = width / 2;
  const cy = height / 2;
  const mid = (lo + hi) / 2;
  const X = (v) => cx + (v - mid) * scale;
  const Y = (v) => cy - (v - mid) * scale;
  const n = r.data.length / d;
  ctx.fillStyle = 'rgba(120, 120, 120, 0.5)';
  for (let i = 0; i < n; i += 1) ctx.fillRect(X(r.data[i * d]) - 1, Y(r.data[i * d + 1]) - 1, 2, 2);
  for (let i = 0; i < n; i += 1) {
    ctx.fillStyle = colour(r.lambda_samples[i]);
    ctx.fillRect(X(r.augmented_data[i * d]) - 1.5, Y(r.augmented_data[i * d + 1]) - 1.5, 3, 3);
  }
  const [x0, x1] = xText.split(',').map(Number);
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 2.5;
  ctx.beginPath();
  ctx.moveTo(X(x0) - 6, Y(x1) - 6);
  ctx.lineTo(X(x0) + 6, Y(x1) + 6);
  ctx.moveTo(X(x0) - 6, Y(x1) + 6);
  ctx.lineTo(X(x0) + 6, Y(x1) - 6);
  ctx.stroke();
}
