// A small-scale Table 2 and Figure 4, trained in the page: one run per objective, the same
// network, data, seed and steps; each run yields to the browser every frame, like the trainer.
import { lineChart } from './charts.js';

// Table 2's objectives: the baseline (ε-MSE + cosine ⇔ sech(λ/2)), EDM, and the monotone ones.
const TABLE_2 = [
  { name: 'iddpm', label: 'ε-MSE + cosine (baseline)' },
  { name: 'edm', label: 'EDM' },
  { name: 'v-cosine', label: 'v-MSE + cosine' },
  { name: 'sigmoid', label: 'sigmoid(−λ+2)', params: { k: 2 } },
  { name: 'edm-monotonic', label: 'EDM-monotonic' },
];
// Figure 4: one weighting, two training schedules.
const FIGURE_4 = [
  { schedule: 'cosine', label: 'fixed cosine schedule' },
  { schedule: 'adaptive', label: 'adaptive schedule (App. F)' },
];
const FIG4_WEIGHTING = { name: 'sigmoid', params: { k: 2 } };
const COLLECT_EVERY = 25;

// The comparison's settings in the URL, so a link reproduces the runs.
export const COMPARE_STATE = [
  { key: 'c_dataset', type: 'string', def: 'moons', field: 'dataset' },
  { key: 'c_steps', type: 'number', def: 1000, field: 'steps' },
  { key: 'c_width', type: 'number', def: 128, field: 'width' },
  { key: 'c_depth', type: 'number', def: 3, field: 'depth' },
  { key: 'c_batch', type: 'number', def: 256, field: 'batch' },
  { key: 'c_adaptive', type: 'number', def: 0, field: 'adaptive' },
];

const nextFrame = () => new Promise((resolve) => {
  let done = false;
  const finish = () => { if (!done) { done = true; resolve(); } };
  requestAnimationFrame(finish);
  setTimeout(finish, 50);
});

export function initCompare(wasm, state) {
  const form = document.getElementById('compare-form');
  const field = (name) => form.elements.namedItem(name);
  const error = document.getElementById('compare-error');
  const status = document.getElementById('compare-status');
  const tbody = document.querySelector('#compare-results tbody');
  const chart = document.getElementById('chart-compare-fig4');
  const buttons = Object.fromEntries(['table', 'fig4', 'stop'].map((b) => [b, document.getElementById(`compare-${b}`)]));
  const monotone = Object.fromEntries(wasm.weightingCatalog().map((w) => [w.name, w.monotonic]));
  for (const name of wasm.trainerCatalog().datasets.filter((d) => d !== 'points')) field('dataset').append(new Option(name, name));
  for (const { key, field: name } of COMPARE_STATE) {
    const input = field(name);
    const value = state.get(key);
    if (input.type === 'checkbox') input.checked = value === 1;
    else if (name !== 'dataset' || [...input.options].some((o) => o.value === value)) input.value = value;
    input.addEventListener('change', () => {
      const raw = input.type === 'checkbox' ? (input.checked ? 1 : 0) : input.value;
      // Invalid numbers are refused when a run starts; the URL keeps only what parses.
      if (name === 'dataset' || input.type === 'checkbox') state.set(key, raw);
      else if (raw.trim() !== '' && Number.isFinite(Number(raw))) state.set(key, Number(raw));
    });
  }
  let stopped = false;

  // The shared configuration, or null with the message shown.
  function baseConfig() {
    const config = wasm.trainPreset('default');
    const int = (name) => (field(name).value.trim() === '' ? NaN : Math.round(Number(field(name).value)));
    config.dataset = field('dataset').value;
    config.steps = int('steps');
    config.batch = int('batch');
    config.model.width = int('width');
    config.model.depth = int('depth');
    const problem = wasm.validateTrainConfig(config);
    error.textContent = problem ? problem.message : '';
    return problem ? null : config;
  }

  // Trains one configuration to the end; resolves to its losses and evaluation (null if stopped).
  async function train(config, label) {
    const handle = await wasm.TrainerHandle.create(config);
    const losses = [[], []];
    while (!stopped && handle.stepCount() < config.steps) {
      handle.step(Math.min(COLLECT_EVERY, config.steps - handle.stepCount()));
      await nextFrame();
      const p = await handle.collect();
      p.steps.forEach((s, i) => { losses[0].push(s); losses[1].push(p.losses[i]); });
      status.textContent = `${label}: step ${handle.stepCount()} / ${config.steps}`;
    }
    if (stopped) return null;
    const evaluation = await handle.evaluate(256);
    return { losses, evaluation, finalLoss: handle.meanLoss(Math.max(1, config.steps >> 3)) };
  }

  async function runAll(kind) {
    const config = baseConfig();
    if (!config) return;
    stopped = false;
    status.textContent = 'Compiling GPU kernels…';
    buttons.table.disabled = true;
    buttons.fig4.disabled = true;
    buttons.stop.disabled = false;
    try {
      if (kind === 'table') {
        tbody.replaceChildren();
        for (const objective of TABLE_2) {
          const run = structuredClone(config);
          run.weighting = { name: objective.name, params: objective.params ?? {} };
          if (field('adaptive').checked) run.schedule = { name: 'adaptive', params: {} };
          const result = await train(run, objective.label);
          if (!result) break;
          const row = tbody.insertRow();
          row.dataset.weighting = objective.name;
          for (const text of [objective.label, monotone[objective.name] ? '✓' : '—',
            result.evaluation.energy_distance.toFixed(4), result.evaluation.bpd.toFixed(3), result.finalLoss.toFixed(4)]) {
            row.insertCell().textContent = text;
          }
        }
      } else {
        const curves = [];
        for (const variant of FIGURE_4) {
          const run = structuredClone(config);
          run.weighting = FIG4_WEIGHTING;
          run.schedule = { name: variant.schedule, params: {} };
          const result = await train(run, variant.label);
          if (!result) break;
          curves.push(result.losses);
        }
        if (curves.length === FIGURE_4.length) {
          // Both runs log the same steps, so one x axis serves both curves.
          lineChart(chart, {
            xLabel: 'step', yLabel: 'weighted loss (Eq. 7)', logY: true,
            series: FIGURE_4.map((v) => ({ label: v.label })),
            data: [curves[0][0], ...curves.map((c) => c[1])],
          });
        }
      }
      status.textContent = stopped ? 'Stopped.' : 'Done.';
    } catch (e) {
      status.textContent = `Could not run: ${e.message ?? e}`;
    }
    buttons.table.disabled = false;
    buttons.fig4.disabled = false;
    buttons.stop.disabled = true;
  }

  buttons.table.addEventListener('click', () => runAll('table'));
  buttons.fig4.addEventListener('click', () => runAll('fig4'));
  buttons.stop.addEventListener('click', () => { stopped = true; });
}
