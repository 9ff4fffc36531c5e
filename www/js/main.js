// Page entry: waits for the WebAssembly module, then builds each section from the Rust core.
import { typeset } from './math.js';
import { createState } from './state.js';
import { keepChartsSized } from './charts.js';
import { initSchedules } from './schedules.js';
import { initWeightings } from './weightings.js';
import { initForward } from './forward.js';
import { initFourier } from './fourier.js';
import { initTrainer, TRAINER_STATE } from './trainer.js';
import { COMPARE_STATE, initCompare } from './compare.js';
import { initExplainer, EXPLAINER_STATE } from './explainer/index.js';
import { setupCopyLinks, showOnlyWidget } from './embed.js';

// The figures view's own settings (what a figure's link carries).
const FIGURE_FIELDS = [
  { key: 'schedules', type: 'list', def: ['cosine', 'edm-train', 'edm-sample'] },
  { key: 'lmin', type: 'number', def: -20 },
  { key: 'lmax', type: 'number', def: 20 },
  { key: 'res', type: 'number', def: 128 },
  { key: 'k', type: 'number', def: 2 },
  { key: 'p2g', type: 'number', def: 1 },
  { key: 'msg', type: 'number', def: 5 },
  { key: 'wlog', type: 'number', def: 1 },
  { key: 'mixture', type: 'string', def: 'eight-gaussians' },
  { key: 'lambda', type: 'number', def: 2 },
  { key: 'flambda', type: 'number', def: 0 },
];

const STATE_FIELDS = [
  { key: 'view', type: 'string', def: 'figures' },
  ...FIGURE_FIELDS,
  ...TRAINER_STATE,
  ...COMPARE_STATE,
  ...EXPLAINER_STATE,
];

function wasmBindings() {
  if (window.wasmBindings) return Promise.resolve(window.wasmBindings);
  return new Promise((resolve) => {
    addEventListener('TrunkApplicationStarted', () => resolve(window.wasmBindings), { once: true });
  });
}

const status = document.getElementById('status');
const report = (message) => {
  status.textContent = message;
  status.classList.add('notice');
};

// One page, several views (`?view=figures|trainer|explain`), so one wasm bundle serves them all.
function showView(view) {
  for (const main of document.querySelectorAll('main[data-view]')) main.hidden = main.dataset.view !== view;
  for (const nav of document.querySelectorAll('[data-view-only]')) nav.hidden = nav.dataset.viewOnly !== view;
  for (const link of document.querySelectorAll('[data-view-link]')) {
    if (link.dataset.viewLink === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function main() {
  const state = createState(STATE_FIELDS);
  const view = ['trainer', 'explain'].includes(state.get('view')) ? state.get('view') : 'figures';
  showView(view);
  typeset();
  if (view !== 'explain') {
    // The explainer shows its widgets alone itself (it starts them lazily); the other views
    // embed a section the same way.
    showOnlyWidget(view, state.get('widget'), report);
    setupCopyLinks(view, (name) => (view === 'figures' ? FIGURE_FIELDS : name === 'trainer' ? TRAINER_STATE : COMPARE_STATE));
  }
  const wasm = await wasmBindings();
  if (!status.classList.contains('notice')) status.textContent = '';
  keepChartsSized();
  initTrainer(wasm, state);
  initCompare(wasm, state);
  if (view === 'figures') {
    initSchedules(wasm, state);
    initWeightings(wasm, state);
    await initFourier(wasm, state);
    await initForward(wasm, state, report);
  }
  if (view === 'explain') initExplainer(wasm, state, report);
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  report(`ELBO Lab could not start: ${e.message ?? e}`);
  console.error(e);
});
