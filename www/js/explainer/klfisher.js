// App. G, Eq. 138: the KL's rise from log-densities against the integrated Fisher divergence
// from scores, on a Gaussian mixture (Rust: `klFisherCurve`).
import { lineChart } from '../charts.js';
import { attempt, coalesce, fmt, numberOf } from './common.js';

export const KLFISHER_STATE = [
  { key: 'kmix', type: 'string', def: 'three-blobs' },
  { key: 'kx', type: 'string', def: '0.2,0.3' },
  { key: 'klmin', type: 'number', def: -10 },
  { key: 'klmax', type: 'number', def: 10 },
];

export function initKlFisher(wasm, state) {
  const el = (id) => document.getElementById(id);
  const mixture = el('klfisher-mixture');
  const x = el('klfisher-x');
  const lmin = el('klfisher-lmin');
  const lmax = el('klfisher-lmax');
  const error = el('klfisher-error');
  const section = el('explain-klfisher');
  const presets = wasm.mixturePresets();
  for (const p of presets) mixture.append(new Option(p.label, p.name));
  mixture.value = presets.some((p) => p.name === state.get('kmix')) ? state.get('kmix') : presets[0].name;
  x.value = state.get('kx');
  lmin.value = state.get('klmin');
  lmax.value = state.get('klmax');

  function draw() {
    const c = attempt(section, error, () => wasm.klFisherCurve({
      gmm: presets.find((p) => p.name === mixture.value).gmm,
      x: x.value,
      lambda_min: numberOf(lmin),
      lambda_max: numberOf(lmax),
    }));
    if (c === null) return;
    state.set('kmix', mixture.value);
    state.set('kx', x.value);
    state.set('klmin', Number(lmin.value));
    state.set('klmax', Number(lmax.value));
    lineChart(el('chart-klfisher-integral'), {
      xLabel: 'λ',
      yLabel: 'nats',
      series: [
        { label: 'KL(λ) − KL(λ_min)', color: '#1f77b4' },
        { label: '∫ ½σ²D_F dλ', color: '#d62728', dash: [8, 6] },
      ],
      data: [c.lambda, c.kl_rise, c.fisher_integral],
    });
    lineChart(el('chart-klfisher-slope'), {
      xLabel: 'λ',
      yLabel: 'nats per unit λ',
      series: [
        { label: '½σ²D_F', color: '#d62728' },
        { label: '½E‖ε−ε̂‖²', color: '#2ca02c', dash: [8, 6] },
      ],
      data: [c.lambda, c.half_sigma2_fisher, c.half_eps_loss],
    });
    const verdict = el('klfisher-verdict');
    verdict.dataset.gap = String(c.max_relative_gap);
    const total = c.kl_rise[c.kl_rise.length - 1];
    verdict.textContent = `The KL rises by ${fmt(total)} nats; the integrated Fisher divergence gives `
      + `${fmt(c.fisher_integral[c.fisher_integral.length - 1])}. Largest gap along the way: ${fmt(c.max_relative_gap, 2)} of the rise.`;
    section.dataset.frames = String(Number(section.dataset.frames ?? 0) + 1);
  }
  const redraw = coalesce(draw);
  for (const input of [mixture, x, lmin, lmax]) input.addEventListener('change', redraw);
  draw();
}
