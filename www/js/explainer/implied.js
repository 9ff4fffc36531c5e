// The weighting implied by a familiar loss (Eq. 5–7, App. D), derived in the Rust core from its
// prediction target, training schedule and multiplier, drawn over its Table 1 closed form.
import { lineChart } from '../charts.js';
import { renderTex } from '../math.js';
import { attempt, fmt } from './common.js';

export const IMPLIED_STATE = [
  { key: 'iloss', type: 'string', def: 'eps-cosine' },
  { key: 'isched', type: 'string', def: '' },
  { key: 'igamma', type: 'string', def: '' },
  { key: 'ilog', type: 'number', def: 1 },
];

const RANGE = { lambda_min: -20, lambda_max: 20, points: 401 };

export function initImplied(wasm, state) {
  const el = (id) => document.getElementById(id);
  const loss = el('implied-loss');
  const schedule = el('implied-schedule');
  const gamma = el('implied-gamma');
  const log = el('implied-log');
  const error = el('implied-error');
  const section = el('explain-implied');
  const presets = wasm.lossPresets();
  const schedules = wasm.scheduleCatalog();
  const weightings = wasm.weightingCatalog();
  for (const p of presets) loss.append(new Option(p.label, p.name));
  schedule.append(new Option('its own', ''));
  for (const s of schedules) schedule.append(new Option(s.label, s.name));

  loss.value = presets.some((p) => p.name === state.get('iloss')) ? state.get('iloss') : presets[0].name;
  schedule.value = schedules.some((s) => s.name === state.get('isched')) ? state.get('isched') : '';
  gamma.value = state.get('igamma');
  log.checked = state.get('ilog') === 1;

  const preset = () => presets.find((p) => p.name === loss.value);
  function showGamma(reset) {
    const p = preset();
    const has = 'gamma' in p.multiplier_params;
    el('implied-gamma-label').hidden = !has;
    if (has && (reset || gamma.value === '')) gamma.value = p.multiplier_params.gamma;
    schedule.options[0].textContent = `its own (${schedules.find((s) => s.name === p.schedule)?.label ?? p.schedule})`;
  }
  showGamma(false);

  function draw() {
    const p = preset();
    const hasGamma = !el('implied-gamma-label').hidden;
    const request = { loss: p.name, range: RANGE };
    if (schedule.value) request.schedule = schedule.value;
    if (hasGamma) request.gamma = gamma.value === '' ? Number.NaN : Number(gamma.value);
    const c = attempt(section, error, () => wasm.impliedComparison(request));
    if (c === null) return;
    state.set('iloss', p.name);
    state.set('isched', schedule.value);
    state.set('igamma', hasGamma ? gamma.value : '');
    state.set('ilog', log.checked ? 1 : 0);

    const row = weightings.find((w) => w.name === p.table_weighting);
    renderTex(el('implied-formula'), `\\text{loss: }${p.latex}\\qquad\\Rightarrow\\qquad \\text{Table 1: } w(\\lambda) = ${row?.latex ?? '?'}`);
    const scheduleLabel = schedules.find((s) => s.name === c.schedule)?.label ?? c.schedule;
    const scale = log.checked ? { logY: true, yRange: [1e-8, 2] } : { yRange: [0, 1.05] };
    lineChart(el('chart-implied'), {
      xLabel: 'λ',
      yLabel: 'w(λ) / max',
      series: [
        { label: `derived (${scheduleLabel})`, color: '#1f77b4' },
        { label: `Table 1: ${row?.label ?? p.table_weighting}`, color: '#d62728', dash: [8, 6] },
      ],
      data: [c.lambda, c.implied, c.table],
      ...scale,
    });
    const verdict = el('implied-verdict');
    const proportional = c.log_ratio_spread < 1e-6;
    verdict.dataset.proportional = String(proportional);
    verdict.textContent = (proportional
      ? `The derived weighting is the Table 1 row: their ratio is constant to ${fmt(c.log_ratio_spread, 2)} in log across λ ∈ [−20, 20].`
      : `With this schedule the derived weighting is not the Table 1 row (which assumes ${p.schedule}): their ratio varies by a factor of ${fmt(Math.exp(Math.min(c.log_ratio_spread, 700)), 3)}.`)
      + ` Derived weighting ${c.implied_monotonic ? 'is' : 'is not'} monotone, so the loss ${c.implied_monotonic ? 'is' : 'is not'} an ELBO of noise-augmented data (Theorem 1).`;
    section.dataset.frames = String(Number(section.dataset.frames ?? 0) + 1);
  }

  loss.addEventListener('change', () => {
    showGamma(true);
    draw();
  });
  for (const input of [schedule, gamma, log]) input.addEventListener('change', draw);
  draw();
}
