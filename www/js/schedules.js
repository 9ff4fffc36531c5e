// Figure 2: noise schedules λ(t) and their densities p(λ), from the Rust theory core.
import { lineChart, PALETTE } from './charts.js';

export function initSchedules(wasm, state) {
  const catalog = wasm.scheduleCatalog();
  const toggles = document.getElementById('schedule-toggles');
  const inputs = {
    min: document.getElementById('lambda-min'),
    max: document.getElementById('lambda-max'),
    resolution: document.getElementById('resolution'),
  };
  const error = document.getElementById('schedule-error');
  inputs.min.value = state.get('lmin');
  inputs.max.value = state.get('lmax');
  inputs.resolution.value = state.get('res');

  catalog.forEach((schedule, i) => {
    const label = document.createElement('label');
    label.className = 'toggle';
    label.style.setProperty('--swatch', PALETTE[i % PALETTE.length]);
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = schedule.name;
    box.checked = state.get('schedules').includes(schedule.name);
    box.addEventListener('change', draw);
    label.append(box, ` ${schedule.label}`);
    toggles.append(label);
  });
  for (const input of Object.values(inputs)) input.addEventListener('change', draw);

  function draw() {
    const chosen = [...toggles.querySelectorAll('input:checked')].map((box) => box.value);
    const range = {
      lambda_min: Number(inputs.min.value),
      lambda_max: Number(inputs.max.value),
      points: 401,
    };
    const resolution = Number(inputs.resolution.value);
    let curves;
    try {
      curves = chosen.map((name) =>
        wasm.scheduleCurve({ name, params: name === 'shifted-cosine' ? { resolution } : {} }, range));
    } catch (e) {
      // Keep the last good picture; say what is wrong next to the controls.
      error.textContent = e.message ?? String(e);
      return;
    }
    error.textContent = '';
    state.set('lmin', range.lambda_min);
    state.set('lmax', range.lambda_max);
    state.set('res', resolution);
    state.set('schedules', chosen);
    const series = chosen.map((name) => {
      const index = catalog.findIndex((s) => s.name === name);
      return { label: catalog[index].label, color: PALETTE[index % PALETTE.length] };
    });
    const t = curves[0]?.t ?? [0, 1];
    lineChart(document.getElementById('chart-lambda-t'), {
      xLabel: 't', yLabel: 'λ', series,
      data: [t, ...curves.map((c) => c.lambda)],
    });
    // Each schedule has its own λ grid (uniform in t); join them onto one x axis.
    const joined = curves.length
      ? window.uPlot.join(curves.map((c) => [c.lambda.slice().reverse(), c.p_lambda.slice().reverse()]))
      : [[range.lambda_min, range.lambda_max]];
    lineChart(document.getElementById('chart-p-lambda'), {
      xLabel: 'λ', yLabel: 'p(λ)', series, data: joined,
    });
  }

  draw();
}
