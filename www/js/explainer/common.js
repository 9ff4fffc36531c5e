// Helpers shared by the explainer's widgets: number formatting, redraw coalescing, canvases,
// the shared data controls.

// Fixed significant digits, switching to exponent form for very small or large magnitudes.
export function fmt(value, digits = 8) {
  if (!Number.isFinite(value)) return String(value);
  const a = Math.abs(value);
  if (a !== 0 && (a < 1e-4 || a >= 1e6)) return value.toExponential(3);
  return value.toPrecision(digits);
}

// Runs `draw` at most once per animation frame however often it is asked for.
export function coalesce(draw) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  };
}

// One computation of a widget: on failure its message goes next to the controls and the last
// good drawing stays (the caller returns on null); on success the message is cleared.
export function attempt(section, error, compute) {
  try {
    const result = compute();
    error.textContent = '';
    delete section.dataset.error;
    return result;
  } catch (e) {
    error.textContent = e.message ?? String(e);
    section.dataset.error = 'true';
    return null;
  }
}

// Canvas with a device-pixel-ratio backing store; returns the context in CSS pixels.
export function prepareCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 520;
  const height = Math.round(width * 0.7);
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, width, height };
}

// The mixture / data point / weighting (+ its first parameter) controls that several widgets
// share, by id prefix (`PREFIX-mixture`, `PREFIX-x`, `PREFIX-weighting`, `PREFIX-param`). `keys`
// names their URL state keys. Returns the request part `{gmm, x, weighting}` and a saver.
export function dataControls(prefix, wasm, state, keys, onChange) {
  const el = (id) => document.getElementById(`${prefix}-${id}`);
  const inputs = { mixture: el('mixture'), x: el('x'), weighting: el('weighting'), param: el('param') };
  const presets = wasm.mixturePresets();
  const catalog = wasm.weightingCatalog().filter((w) => w.name !== 'expr');
  for (const p of presets) inputs.mixture.append(new Option(p.label, p.name));
  for (const w of catalog) inputs.weighting.append(new Option(w.label, w.name));
  inputs.mixture.value = presets.some((p) => p.name === state.get(keys.mixture)) ? state.get(keys.mixture) : presets[0].name;
  inputs.x.value = state.get(keys.x);
  inputs.weighting.value = catalog.some((w) => w.name === state.get(keys.weighting)) ? state.get(keys.weighting) : 'sigmoid';
  inputs.param.value = state.get(keys.param);

  const paramInfo = () => catalog.find((w) => w.name === inputs.weighting.value)?.params?.[0];
  // The weighting's first parameter (sigmoid k, P2 γ, Min-SNR γ), if it has one.
  function showParam(keepValue) {
    const info = catalog.find((w) => w.name === inputs.weighting.value);
    const param = paramInfo();
    el('param-label').hidden = !param;
    if (!param) return;
    el('param-name').textContent = param.key === 'gamma' ? 'γ' : param.key;
    inputs.param.setAttribute('aria-label', `${info.label} parameter ${param.key}`);
    if (!keepValue || inputs.param.value === '') inputs.param.value = param.default;
  }
  showParam(true);
  inputs.weighting.addEventListener('change', () => {
    showParam(false);
    onChange();
  });
  for (const key of ['mixture', 'x', 'param']) inputs[key].addEventListener('change', onChange);

  return {
    inputs,
    request() {
      const params = {};
      const param = paramInfo();
      if (param) params[param.key] = inputs.param.value === '' ? Number.NaN : Number(inputs.param.value);
      return {
        gmm: presets.find((p) => p.name === inputs.mixture.value).gmm,
        x: inputs.x.value,
        weighting: { name: inputs.weighting.value, params },
      };
    },
    save() {
      state.set(keys.mixture, inputs.mixture.value);
      state.set(keys.x, inputs.x.value);
      state.set(keys.weighting, inputs.weighting.value);
      state.set(keys.param, paramInfo() ? inputs.param.value : '');
    },
  };
}

// A number input's value, NaN when empty (so the Rust core names the problem).
export const numberOf = (input) => (input.value === '' ? Number.NaN : Number(input.value));
