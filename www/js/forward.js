// The forward process: the exact log-density of a noised 2D Gaussian mixture, drawn by a WebGPU
// kernel (or the CPU path when WebGPU is absent), redrawn as the λ slider moves.

const SIZE = 256;
const EXTENT = 3.5;

export async function initForward(wasm, state, report) {
  const presets = wasm.mixturePresets();
  const select = document.getElementById('mixture');
  const slider = document.getElementById('lambda');
  const sliderValue = document.getElementById('lambda-value');
  const jsonBox = document.getElementById('mixture-json');
  const apply = document.getElementById('mixture-apply');
  const error = document.getElementById('forward-error');
  const canvas = document.getElementById('heatmap');
  const backendLabel = document.getElementById('heatmap-backend');
  const context = canvas.getContext('2d');

  for (const preset of presets) select.append(new Option(preset.label, preset.name));
  select.append(new Option('Your own (JSON)', 'custom'));

  const view = await wasm.DensityView.create();
  let gpuAvailable = !view.notice();
  if (!gpuAvailable) report(`WebGPU is not available: ${view.notice()}. The heat-map is computed on the CPU.`);

  // The mixture actually drawn; only replaced once a new one renders successfully.
  let mixture = presets.find((p) => p.name === state.get('mixture'))?.gmm ?? presets[0].gmm;
  select.value = presets.some((p) => p.name === state.get('mixture')) ? state.get('mixture') : presets[0].name;
  jsonBox.value = JSON.stringify(JSON.parse(mixture));
  slider.value = state.get('lambda');

  // One render in flight at a time; slider moves during it collapse into one follow-up render.
  let busy = false;
  let queued = null;
  async function render(candidate, lambda) {
    if (busy) {
      queued = [candidate, lambda];
      return;
    }
    busy = true;
    try {
      const frame = await view.render(candidate, lambda, SIZE, EXTENT);
      context.putImageData(new ImageData(frame.rgba, SIZE, SIZE), 0, 0);
      mixture = candidate;
      error.textContent = '';
      sliderValue.value = lambda.toFixed(1);
      document.getElementById('alpha2').textContent = frame.alpha2.toPrecision(4);
      document.getElementById('sigma2').textContent = frame.sigma2.toPrecision(4);
      backendLabel.textContent = frame.backend === 'webgpu' ? view.backend() : 'CPU (f64)';
      canvas.dataset.frames = String(Number(canvas.dataset.frames ?? 0) + 1);
      canvas.dataset.backend = frame.backend;
      if (gpuAvailable && frame.backend === 'cpu') {
        gpuAvailable = false;
        report(`The GPU stopped working: ${view.notice()}. The heat-map is now computed on the CPU.`);
      }
    } catch (e) {
      error.textContent = e.message ?? String(e);
    } finally {
      busy = false;
    }
    if (queued) {
      const next = queued;
      queued = null;
      await render(...next);
    }
  }

  slider.addEventListener('input', () => {
    state.set('lambda', Number(slider.value));
    render(mixture, Number(slider.value));
  });
  select.addEventListener('change', () => {
    if (select.value === 'custom') return;
    const preset = presets.find((p) => p.name === select.value);
    state.set('mixture', preset.name);
    jsonBox.value = JSON.stringify(JSON.parse(preset.gmm));
    render(preset.gmm, Number(slider.value));
  });
  apply.addEventListener('click', () => {
    select.value = 'custom';
    render(jsonBox.value, Number(slider.value));
  });

  await render(mixture, Number(slider.value));
  return view;
}
