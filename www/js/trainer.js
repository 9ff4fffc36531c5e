// The trainer view: a scheduler, not a loop. It runs a few steps, yields to the browser, and
// reads back (async) only at display rate; every setting lives in the URL.
import { lineChart } from './charts.js';
import { StepPacer } from './pacing.js';

const WEIGHTING_PARAM = { sigmoid: 'k', p2: 'gamma', 'min-snr': 'gamma' };
const COLLECT_MS = 250;
const SAMPLE_MS = 2000;
const EVAL_MS = 5000;
const SAMPLE_COUNT = 512;
// The density map: cells per side and RK4 steps of the likelihood ODE (each step is four
// network passes with a tangent per input dimension, over every cell).
const DENSITY_CELLS = 48;
const DENSITY_ODE_STEPS = 32;
const FORM_FIELDS = ['dataset', 'weighting', 'wparam', 'schedule', 'target', 'lambda_min', 'lambda_max',
  'steps', 'batch', 'lr', 'seed', 'width', 'depth', 'engine', 'sampler', 'sampler_steps'];

export const TRAINER_STATE = [
  { key: 'preset', type: 'string', def: 'default' },
  ...FORM_FIELDS.map((key) => ({ key: `t_${key}`, type: 'string', def: '' })),
];

const nextFrame = () => new Promise((resolve) => {
  // rAF pauses in background tabs; the timeout keeps training going there, just slower.
  let done = false;
  const finish = () => { if (!done) { done = true; resolve(); } };
  requestAnimationFrame(finish);
  setTimeout(finish, 50);
});

export function initTrainer(wasm, state) {
  const form = document.getElementById('train-form');
  const field = (name) => form.elements.namedItem(name);
  const status = document.getElementById('train-status');
  const engineLabel = document.getElementById('train-engine');
  const progress = document.getElementById('train-progress');
  const buttons = Object.fromEntries(['start', 'pause', 'step', 'reset', 'save'].map((b) => [b, document.getElementById(`train-${b}`)]));
  const samplesCanvas = document.getElementById('train-samples');
  const trajectoryCanvas = document.getElementById('train-trajectories');
  const quality = document.getElementById('train-quality');
  const densityCanvas = document.getElementById('train-density');
  const densityButton = document.getElementById('train-density-run');
  const densityText = document.getElementById('train-density-nll');

  // Menus from the Rust registries.
  const presetSelect = document.getElementById('train-preset');
  const catalog = wasm.trainerCatalog();
  for (const name of catalog.presets) presetSelect.append(new Option(name, name));
  for (const name of catalog.datasets) {
    field('dataset').append(new Option(name === 'points' ? 'your points (drawn or CSV)' : name, name));
  }
  for (const w of wasm.weightingCatalog().filter((w) => w.name !== 'expr')) field('weighting').append(new Option(w.label, w.name));
  for (const s of wasm.scheduleCatalog()) field('schedule').append(new Option(s.label, s.name));
  field('schedule').append(new Option('adaptive (App. F)', 'adaptive'));

  let points = null;
  let handle = null;
  let running = false;
  let generation = 0;
  let lossSeries = [[], []];
  let bpdSeries = [[], []];
  let heldOut = [];

  function fillForm(config) {
    field('dataset').value = config.dataset;
    field('weighting').value = config.weighting.name;
    const key = WEIGHTING_PARAM[config.weighting.name];
    field('wparam').value = key && config.weighting.params[key] !== undefined ? config.weighting.params[key] : '';
    field('schedule').value = config.schedule.name;
    field('target').value = config.target;
    field('lambda_min').value = config.lambda_min;
    field('lambda_max').value = config.lambda_max;
    field('steps').value = config.steps;
    field('batch').value = config.batch;
    field('lr').value = config.lr;
    field('seed').value = config.seed;
    field('width').value = config.model.width;
    field('depth').value = config.model.depth;
    if (!field('sampler_steps').value) field('sampler_steps').value = 128;
  }

  function readForm() {
    const config = wasm.trainPreset(presetSelect.value);
    const number = (name) => (field(name).value.trim() === '' ? NaN : Number(field(name).value));
    config.dataset = field('dataset').value;
    config.points = config.dataset === 'points' ? points : null;
    const weighting = field('weighting').value;
    const key = WEIGHTING_PARAM[weighting];
    config.weighting = { name: weighting, params: key && field('wparam').value !== '' ? { [key]: number('wparam') } : {} };
    config.schedule = { name: field('schedule').value, params: {} };
    config.target = field('target').value;
    config.lambda_min = number('lambda_min');
    config.lambda_max = number('lambda_max');
    config.steps = Math.max(0, Math.round(number('steps')));
    config.batch = Math.max(0, Math.round(number('batch')));
    config.lr = number('lr');
    config.seed = Math.max(0, Math.round(number('seed')));
    config.model.width = Math.max(0, Math.round(number('width')));
    config.model.depth = Math.max(0, Math.round(number('depth')));
    return config;
  }

  function showErrors(problem) {
    for (const p of form.querySelectorAll('[data-error-for]')) p.textContent = '';
    if (!problem) return;
    const slot = form.querySelector(`[data-error-for="${problem.field}"]`) ?? form.querySelector('[data-error-for="config"]');
    slot.textContent = problem.message;
  }

  // A valid configuration, or null with the message shown next to the offending control.
  function validConfig() {
    const config = readForm();
    if (config.dataset === 'points' && !points) {
      showErrors({ field: 'dataset', message: 'Upload a CSV of points (x,y per line) first.' });
      return null;
    }
    let problem;
    try {
      problem = wasm.validateTrainConfig(config);
    } catch (e) {
      problem = { field: 'config', message: e.message ?? String(e) };
    }
    showErrors(problem);
    return problem ? null : config;
  }

  function saveToUrl() {
    state.set('preset', presetSelect.value);
    for (const key of FORM_FIELDS) state.set(`t_${key}`, String(field(key).value));
  }

  function setStatus(text, kind = '') {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  // Where the steps run; says so when the fused kernels were asked for but unavailable.
  function showEngine() {
    engineLabel.textContent = handle ? handle.engine() : '';
  }

  function setRunning(on) {
    running = on;
    buttons.start.disabled = on;
    buttons.step.disabled = on;
    buttons.pause.disabled = !on;
    buttons.save.disabled = on || !handle;
    densityButton.disabled = on || !handle;
  }

  async function ensureHandle() {
    if (handle) return handle;
    const config = validConfig();
    if (!config) return null;
    saveToUrl();
    setStatus('Compiling GPU kernels: the first step can take several seconds…');
    handle = await wasm.TrainerHandle.create(config, field('engine').value);
    showEngine();
    heldOut = handle.heldOut();
    lossSeries = [[], []];
    bpdSeries = [[], []];
    return handle;
  }

  async function collect() {
    const p = await handle.collect();
    for (let i = 0; i < p.steps.length; i += 1) {
      lossSeries[0].push(p.steps[i]);
      lossSeries[1].push(p.losses[i]);
    }
    progress.value = p.step / Math.max(1, readForm().steps);
    lineChart(document.getElementById('chart-loss'), { xLabel: 'step', yLabel: 'loss', series: [{ label: 'loss' }], data: lossSeries });
    const scale = (ys) => {
      const finite = ys.filter(Number.isFinite);
      const max = finite.length ? Math.max(...finite) : 1;
      return ys.map((y) => (Number.isFinite(y) && max > 0 ? y / max : null));
    };
    lineChart(document.getElementById('chart-lambda-loss'), {
      xLabel: 'λ', yLabel: 'scaled', logY: true, yRange: [1e-4, 2],
      series: [{ label: 'f(λ)' }, { label: 'w(λ)' }, { label: 'p(λ)' }],
      data: [p.histogram_lambda, scale(p.histogram), scale(p.w), scale(p.p_lambda)],
    });
    keepTrainedLoss(handle);
    const link = document.getElementById('train-area-link');
    const wparam = field('wparam').value;
    link.search = `?view=explain&widget=area&asrc=trained&aw=${encodeURIComponent(field('weighting').value)}`
      + (wparam === '' ? '' : `&ap=${encodeURIComponent(wparam)}`);
    return p;
  }

  // The square of data space every 2D view shows: the held-out data with a margin.
  function viewBox(points) {
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const pad = 0.15 * Math.max(x1 - x0, y1 - y0, 1e-6);
    const span = Math.max(x1 - x0, y1 - y0) + 2 * pad;
    return { left: x0 - pad, bottom: y0 - pad, span };
  }

  function drawPoints(canvas, groups) {
    const context = canvas.getContext('2d');
    const box = viewBox(heldOut.length ? heldOut : groups.flatMap((g) => g.points));
    const map = ([x, y]) => [((x - box.left) / box.span) * canvas.width, canvas.height - ((y - box.bottom) / box.span) * canvas.height];
    context.fillStyle = '#fff';
    context.fillRect(0, 0, canvas.width, canvas.height);
    for (const group of groups) {
      context.fillStyle = group.color;
      context.strokeStyle = group.color;
      if (group.lines) {
        context.globalAlpha = 0.5;
        for (const line of group.lines) {
          context.beginPath();
          line.forEach((p, i) => (i ? context.lineTo(...map(p)) : context.moveTo(...map(p))));
          context.stroke();
        }
        context.globalAlpha = 1;
      }
      for (const p of group.points) {
        const [u, v] = map(p);
        context.fillRect(u - 1.5, v - 1.5, 3, 3);
      }
    }
    canvas.dataset.frames = String(Number(canvas.dataset.frames ?? 0) + 1);
  }

  async function drawSamples() {
    const sampler = field('sampler').value;
    const steps = Math.max(1, Math.round(Number(field('sampler_steps').value) || 128));
    const result = await handle.sample(SAMPLE_COUNT, sampler, steps, 1);
    drawPoints(samplesCanvas, [{ color: '#b8bcc6', points: heldOut }, { color: '#e8710a', points: result.points }]);
    const paths = result.trajectories[0].map((_, i) => result.trajectories.map((frame) => frame[i]));
    drawPoints(trajectoryCanvas, [{ color: '#b8bcc6', points: heldOut }, { color: '#2b59c3', points: result.points.slice(0, paths.length), lines: paths }]);
  }

  async function evaluate() {
    const e = await handle.evaluate(256);
    const step = handle.stepCount();
    bpdSeries[0].push(step);
    bpdSeries[1].push(e.bpd);
    lineChart(document.getElementById('chart-bpd'), { xLabel: 'step', yLabel: 'bits/dim', series: [{ label: '−ELBO' }], data: bpdSeries });
    const terms = `prior ${e.bpd_prior.toFixed(3)}, reconstruction ${e.bpd_recon.toFixed(3)}, diffusion ${e.bpd_diffusion.toFixed(3)}`;
    // 8-bit data: bits of a probability mass (discrete decoder), which no rescaling changes.
    const scale = e.discrete ? '8-bit data, discrete decoder' : `standardisation ${e.bpd_jacobian.toFixed(3)}`;
    quality.textContent = `energy distance ${e.energy_distance.toFixed(4)}; ${e.bpd.toFixed(3)} bits/dim (${terms}, ${scale})`;
    samplesCanvas.dataset.energyDistance = String(e.energy_distance);
    return e;
  }

  // The model's density on a grid over the samples' view, and the exact held-out likelihood.
  async function drawDensity() {
    const box = viewBox(heldOut);
    const size = DENSITY_CELLS;
    const map = await handle.densityMap([box.left, box.left + box.span, box.bottom, box.bottom + box.span], size, DENSITY_ODE_STEPS, 256);
    const image = new ImageData(new Uint8ClampedArray(map.rgba), size, size);
    const cells = document.createElement('canvas');
    cells.width = size;
    cells.height = size;
    cells.getContext('2d').putImageData(image, 0, 0);
    const context = densityCanvas.getContext('2d');
    context.imageSmoothingEnabled = false;
    context.drawImage(cells, 0, 0, densityCanvas.width, densityCanvas.height);
    densityCanvas.dataset.nllBpd = String(map.nll_bpd);
    densityCanvas.dataset.frames = String(Number(densityCanvas.dataset.frames ?? 0) + 1);
    densityText.textContent = `held-out NLL ${map.nll_bpd.toFixed(3)} ± ${map.nll_bpd_stderr.toFixed(3)} bits/dim (${map.ode_steps} RK4 steps)`;
  }

  async function refreshViews() {
    await collect();
    await drawSamples();
    await evaluate();
  }

  function fail(e) {
    setRunning(false);
    setStatus(e.message ?? String(e), 'error');
  }

  async function run(maxSteps = Infinity) {
    const gen = ++generation;
    try {
      if (!(await ensureHandle())) return;
      setRunning(true);
      const target = Math.min(readForm().steps, handle.stepCount() + maxSteps);
      const pacer = new StepPacer();
      let [lastCollect, lastSample, lastEval] = [0, 0, 0];
      // Views refresh at least every SAMPLE_MS / EVAL_MS, but never spend more than a quarter
      // of the time: on a slow GPU a sampling pass can cost seconds.
      let [sampleEvery, evalEvery] = [SAMPLE_MS, EVAL_MS];
      const timed = async (work) => {
        const t0 = performance.now();
        await work();
        return performance.now() - t0;
      };
      const started = performance.now();
      const startStep = handle.stepCount();
      let firstStepTimed = startStep > 0;
      // The steady rate counts from the end of the first step, which compiles the GPU kernels;
      // a collect (an awaited readback) marks when the queued steps have really run.
      let steady = { time: started, step: startStep };
      const measureRate = () => {
        const steps = handle.stepCount() - steady.step;
        const seconds = (performance.now() - steady.time) / 1000;
        if (steps > 0 && seconds > 0) status.dataset.stepsPerS = String(steps / seconds);
        return steps > 0 && seconds > 0 ? ` · ${(steps / seconds).toFixed(1)} steps/s` : '';
      };
      while (running && gen === generation && handle.stepCount() < target) {
        const before = performance.now();
        handle.step(Math.min(pacer.perFrame, target - handle.stepCount()));
        await nextFrame();
        const now = performance.now();
        pacer.frameDone(now - before);
        if (now - lastCollect > COLLECT_MS || !firstStepTimed) {
          const waited = await timed(collect);
          // The first readback also waits for the kernels' compilation: not a backlog.
          if (firstStepTimed) pacer.readbackDone(waited);
          if (!firstStepTimed) {
            // The first step compiles the GPU kernels: report it apart from the steady rate.
            firstStepTimed = true;
            status.dataset.firstStepS = String((performance.now() - started) / 1000);
            steady = { time: performance.now(), step: handle.stepCount() };
          }
          lastCollect = performance.now();
          setStatus(`step ${handle.stepCount()} / ${readForm().steps}${measureRate()}`);
        }
        if (now - lastSample > sampleEvery) {
          sampleEvery = Math.max(SAMPLE_MS, 3 * (await timed(drawSamples)));
          lastSample = performance.now();
        }
        if (now - lastEval > evalEvery) {
          evalEvery = Math.max(EVAL_MS, 3 * (await timed(evaluate)));
          lastEval = performance.now();
        }
      }
      if (gen === generation) {
        await collect();
        measureRate();
        await refreshViews();
        setRunning(false);
        setStatus(handle.stepCount() >= readForm().steps ? `Done: ${handle.stepCount()} steps.` : `Paused at step ${handle.stepCount()}.`, 'done');
      }
    } catch (e) {
      fail(e);
    }
  }

  densityButton.addEventListener('click', async () => {
    densityButton.disabled = true;
    setStatus('Integrating the probability-flow ODE over the grid…');
    try {
      await drawDensity();
      setStatus(`Density of the model at step ${handle.stepCount()}.`, 'done');
    } catch (e) {
      setStatus(`Could not compute the density: ${e.message ?? e}`, 'error');
    }
    densityButton.disabled = running || !handle;
  });

  initDrawing((drawn) => {
    points = drawn.length ? drawn : null;
    if (points) field('dataset').value = 'points';
    showErrors(null);
  });

  buttons.start.addEventListener('click', () => run());
  buttons.step.addEventListener('click', () => run(1));
  buttons.pause.addEventListener('click', () => { running = false; });
  buttons.reset.addEventListener('click', () => {
    generation += 1;
    running = false;
    handle = null;
    showEngine();
    setRunning(false);
    progress.value = 0;
    setStatus('Ready.');
  });
  buttons.save.addEventListener('click', async () => {
    try {
      const bytes = await handle.checkpoint();
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
      link.download = `elbo-lab-step-${handle.stepCount()}.elbolab`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (e) {
      fail(e);
    }
  });
  document.getElementById('train-load').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    try {
      const loaded = await wasm.TrainerHandle.fromCheckpoint(new Uint8Array(await file.arrayBuffer()), field('engine').value);
      generation += 1;
      running = false;
      handle = loaded;
      showEngine();
      fillForm(handle.config());
      heldOut = handle.heldOut();
      lossSeries = [[], []];
      bpdSeries = [[], []];
      await refreshViews();
      setRunning(false);
      setStatus(`Loaded a checkpoint at step ${handle.stepCount()}.`, 'done');
    } catch (e) {
      // The current run (if any) is untouched.
      setStatus(`Could not load that file: ${e.message ?? e}`, 'error');
    }
  });
  document.getElementById('train-csv').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    try {
      points = wasm.parsePointsCsv(await file.text());
      field('dataset').value = 'points';
      showErrors(null);
      setStatus(`${points.length} points loaded.`);
    } catch (e) {
      // Keep whatever points were loaded before.
      showErrors({ field: 'dataset', message: e.message ?? String(e) });
    }
  });
  presetSelect.addEventListener('change', () => {
    fillForm(wasm.trainPreset(presetSelect.value));
    saveToUrl();
  });
  form.addEventListener('change', (event) => {
    if (event.target === presetSelect || event.target.type === 'file') return;
    if (validConfig()) saveToUrl();
  });

  // Initial form: the preset, then any values carried by the URL.
  presetSelect.value = state.get('preset');
  fillForm(wasm.trainPreset(presetSelect.value));
  for (const key of FORM_FIELDS) {
    const value = state.get(`t_${key}`);
    if (value !== '') field(key).value = value;
  }
  validConfig();
}

// Press and drag on the drawing canvas to add points (data coordinates in [-2, 2]², y up);
// `onChange` receives every point drawn so far.
function initDrawing(onChange) {
  const canvas = document.getElementById('train-draw');
  const count = document.getElementById('train-draw-count');
  const drawn = [];
  let drawing = false;
  let last = null;
  const toData = (event) => {
    const rect = canvas.getBoundingClientRect();
    const u = (event.clientX - rect.left) / rect.width;
    const v = (event.clientY - rect.top) / rect.height;
    return [4 * u - 2, 2 - 4 * v];
  };
  const paint = () => {
    const context = canvas.getContext('2d');
    context.fillStyle = '#fff';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.fillStyle = '#e8710a';
    for (const [x, y] of drawn) context.fillRect(((x + 2) / 4) * canvas.width - 1.5, ((2 - y) / 4) * canvas.height - 1.5, 3, 3);
    count.textContent = drawn.length ? `${drawn.length} points drawn` : 'no points yet';
    canvas.dataset.points = String(drawn.length);
  };
  const add = (event) => {
    const p = toData(event);
    // One point per few pixels of travel, so a slow stroke does not pile points up.
    if (last && Math.hypot(p[0] - last[0], p[1] - last[1]) < 0.04) return;
    drawn.push(p);
    last = p;
    paint();
  };
  canvas.addEventListener('pointerdown', (event) => {
    drawing = true;
    last = null;
    canvas.setPointerCapture(event.pointerId);
    add(event);
  });
  canvas.addEventListener('pointermove', (event) => { if (drawing) add(event); });
  const finish = () => {
    if (!drawing) return;
    drawing = false;
    onChange(drawn.slice());
  };
  canvas.addEventListener('pointerup', finish);
  canvas.addEventListener('pointercancel', finish);
  document.getElementById('train-draw-clear').addEventListener('click', () => {
    drawn.length = 0;
    paint();
    onChange([]);
  });
  paint();
}

// The explainer's area widget draws Theorem 1 for the model trained here (another view of the
// page, so another page load): keep its per-λ loss in this browser after every collect.
export const TRAINED_LOSS_KEY = 'elbo-lab.trained-loss';
function keepTrainedLoss(handle) {
  try {
    const loss = handle.trainedLoss();
    // A run just loaded from a checkpoint has not measured its per-λ loss yet: keep what is
    // there rather than replace it with nothing.
    if (!loss.bins.some((b) => b !== null && b !== undefined)) return;
    localStorage.setItem(TRAINED_LOSS_KEY, JSON.stringify(loss));
  } catch (e) {
    // Storage full or disabled (private mode): the trainer works on; the explainer says so.
    console.warn(`the per-λ loss could not be kept for the explainer: ${e.message ?? e}`);
  }
}
