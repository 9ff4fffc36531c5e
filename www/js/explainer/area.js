// Theorem 1's area picture (Eq. 28–31, App. B): the curve (L(λ;x), w(λ)) of one data point of a
// Gaussian mixture, or of a model trained in the trainer (its per-λ loss averaged over the data),
// its area cut into vertical strips (w dL) and horizontal strips (L dw), and the numbers of both
// sides. Every number comes from the Rust core (`areaPicture`, `areaPictureFromLoss`).
import { lineChart } from '../charts.js';
import { attempt, coalesce, dataControls, fmt, numberOf, prepareCanvas } from './common.js';
import { TRAINED_LOSS_KEY } from '../trainer.js';

export const AREA_STATE = [
  { key: 'asrc', type: 'string', def: 'mixture' },
  { key: 'amix', type: 'string', def: 'three-blobs' },
  { key: 'ax', type: 'string', def: '0.2,0.3' },
  { key: 'aw', type: 'string', def: 'sigmoid' },
  { key: 'ap', type: 'string', def: '' },
  { key: 'almin', type: 'number', def: -10 },
  { key: 'almax', type: 'number', def: 10 },
  { key: 'astrips', type: 'number', def: 8 },
];

// Strip counts the Animate button steps through.
const ANIMATION = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64];
const COLORS = {
  end: 'rgba(255, 127, 14, 0.55)',
  strip: 'rgba(31, 119, 180, 0.35)',
  stripEdge: 'rgba(31, 119, 180, 0.9)',
  positive: 'rgba(44, 160, 44, 0.35)',
  positiveEdge: 'rgba(44, 160, 44, 0.9)',
  negative: 'rgba(214, 39, 40, 0.7)',
  negativeEdge: 'rgba(214, 39, 40, 0.95)',
};

export function initArea(wasm, state) {
  const el = (id) => document.getElementById(id);
  const data = dataControls('area', wasm, state, { mixture: 'amix', x: 'ax', weighting: 'aw', param: 'ap' }, () => redraw());
  const inputs = { lmin: el('area-lmin'), lmax: el('area-lmax'), strips: el('area-strips') };
  const error = el('area-error');
  inputs.lmin.value = state.get('almin');
  inputs.lmax.value = state.get('almax');
  inputs.strips.value = state.get('astrips');
  const stripsOut = el('area-strips-value');
  const source = el('area-source');
  source.value = state.get('asrc') === 'trained' ? 'trained' : 'mixture';
  const caption = el('area-source-caption');
  // The mixture's λ range, kept while the (disabled) range inputs show the trained model's.
  const mixtureRange = { lmin: inputs.lmin.value, lmax: inputs.lmax.value };

  // The mixture's own controls only mean something for the mixture; a trained model brings
  // its λ range from training.
  function showSource() {
    const mixture = source.value === 'mixture';
    for (const id of ['area-mixture', 'area-x', 'area-lmin', 'area-lmax']) el(id).disabled = !mixture;
    if (mixture) {
      inputs.lmin.value = mixtureRange.lmin;
      inputs.lmax.value = mixtureRange.lmax;
    }
  }

  function compute() {
    const strips = Number(inputs.strips.value);
    if (source.value === 'mixture') {
      caption.textContent = 'Data: an exact Gaussian mixture; its optimal denoiser gives L(λ;x) in closed form.';
      return wasm.areaPicture({
        ...data.request(),
        lambda_min: numberOf(inputs.lmin),
        lambda_max: numberOf(inputs.lmax),
        strips,
      });
    }
    const stored = localStorage.getItem(TRAINED_LOSS_KEY);
    if (!stored) {
      throw new Error('No trained model in this browser yet: train one in the trainer (?view=trainer) and come back; its per-λ loss is kept here after every step it reports.');
    }
    let loss;
    try {
      loss = JSON.parse(stored);
    } catch {
      throw new Error('The kept per-λ loss of the trained model is unreadable; train again in the trainer to replace it.');
    }
    const { weighting } = data.request();
    const picture = wasm.areaPictureFromLoss({ loss, weighting, strips });
    inputs.lmin.value = String(loss.lambda_min);
    inputs.lmax.value = String(loss.lambda_max);
    picture.curve_label = 'L(λ) (nats, mean over the data)';
    caption.textContent = `Data: the model trained on ${loss.dataset} with the ${loss.weighting} weighting (step ${loss.step}); `
      + `L(λ) is its per-λ loss f(λ) = E‖ε − ε̂‖², averaged over the data, integrated from the prior term (Eq. 9), on its training range [${loss.lambda_min}, ${loss.lambda_max}].`;
    return picture;
  }

  function saveState() {
    state.set('asrc', source.value);
    data.save();
    if (source.value === 'mixture') {
      Object.assign(mixtureRange, { lmin: inputs.lmin.value, lmax: inputs.lmax.value });
      state.set('almin', Number(inputs.lmin.value));
      state.set('almax', Number(inputs.lmax.value));
    }
    state.set('astrips', Number(inputs.strips.value));
  }

  const section = el('explain-area');
  // The strip picked by dragging across either panel (or the arrow keys): highlighted on both,
  // so the same slice of λ is seen as w·dL on the left and L·dw on the right.
  let picked = null;
  let last = null;
  function draw() {
    stripsOut.value = inputs.strips.value;
    const picture = attempt(section, error, compute);
    if (picture === null) return;
    saveState();
    last = picture;
    if (picked !== null) picked = Math.min(picked, picture.strips.length - 1);
    paint();
    fillNumbers(picture);
    drawDensity(picture);
    section.dataset.frames = String(Number(section.dataset.frames ?? 0) + 1);
  }
  const redraw = coalesce(draw);

  function paint() {
    drawPlane(el('area-left'), last, 'vertical', picked);
    drawPlane(el('area-right'), last, 'horizontal', picked);
    const readout = el('area-pick');
    if (picked === null) {
      readout.textContent = 'Drag across either panel, or focus one and press ← →, to pick a strip.';
      delete readout.dataset.strip;
      return;
    }
    const s = last.strips[picked];
    readout.textContent = `Strip ${picked + 1} of ${last.strips.length}: λ from ${s.lambda_lo.toFixed(2)} to ${s.lambda_hi.toFixed(2)}. `
      + `Vertical w·ΔL = ${fmt(s.w_mid, 4)} × ${fmt(s.l_hi - s.l_lo, 4)} = ${fmt(s.vertical, 4)}; `
      + `horizontal L·Δw = ${fmt(s.l_mid, 4)} × ${fmt(s.w_lo - s.w_hi, 4)} = ${fmt(s.horizontal, 4)}`
      + (s.horizontal < 0 ? ' (negative: w rises with λ here).' : '.');
    readout.dataset.strip = String(picked);
  }

  // The strip under the pointer: the left panel cuts L into slices, the right panel cuts w.
  function stripAt(canvas, event) {
    const box = canvas.getBoundingClientRect();
    const { X, Y } = axes(last, box.width, Math.round(box.width * 0.7));
    const x = event.clientX - box.left;
    const y = event.clientY - box.top;
    const strips = last.strips;
    if (canvas.id === 'area-left') {
      const i = strips.findIndex((s) => x <= X(s.l_hi));
      return i < 0 ? strips.length - 1 : i;
    }
    // Horizontal strips: the one whose w-range holds the pointer's height, else the nearest.
    let best = 0;
    let distance = Infinity;
    strips.forEach((s, i) => {
      const top = Y(Math.max(s.w_lo, s.w_hi));
      const bottom = Y(Math.min(s.w_lo, s.w_hi));
      const d = y < top ? top - y : y > bottom ? y - bottom : 0;
      if (d < distance) [best, distance] = [i, d];
    });
    return best;
  }
  for (const canvas of [el('area-left'), el('area-right')]) {
    canvas.tabIndex = 0;
    const pick = (event) => {
      if (!last) return;
      picked = stripAt(canvas, event);
      paint();
    };
    canvas.addEventListener('pointerdown', (event) => {
      canvas.setPointerCapture?.(event.pointerId);
      pick(event);
    });
    canvas.addEventListener('pointermove', (event) => {
      if (event.buttons) pick(event);
    });
    canvas.addEventListener('keydown', (event) => {
      if (!last || !['ArrowLeft', 'ArrowRight', 'Escape'].includes(event.key)) return;
      event.preventDefault();
      const n = last.strips.length;
      if (event.key === 'Escape') picked = null;
      else if (picked === null) picked = event.key === 'ArrowRight' ? 0 : n - 1;
      else picked = Math.max(0, Math.min(n - 1, picked + (event.key === 'ArrowRight' ? 1 : -1)));
      paint();
    });
  }

  for (const key of ['lmin', 'lmax']) inputs[key].addEventListener('change', redraw);
  source.addEventListener('change', () => {
    showSource();
    redraw();
  });
  // A run in another tab of the trainer updates the kept loss: follow it.
  addEventListener('storage', (event) => {
    if (event.key === TRAINED_LOSS_KEY && source.value === 'trained') redraw();
  });
  showSource();
  inputs.strips.addEventListener('input', redraw);

  const animate = el('area-animate');
  let timer = null;
  function stop() {
    clearTimeout(timer);
    timer = null;
    animate.setAttribute('aria-pressed', 'false');
    animate.textContent = 'Animate';
  }
  animate.addEventListener('click', () => {
    if (timer !== null) {
      stop();
      return;
    }
    animate.setAttribute('aria-pressed', 'true');
    animate.textContent = 'Stop';
    let i = 0;
    const step = () => {
      inputs.strips.value = ANIMATION[i];
      draw();
      i += 1;
      if (i < ANIMATION.length && !section.dataset.error) timer = setTimeout(step, 700);
      else stop();
    };
    step();
  });

  draw();
}

function fillNumbers(p) {
  const table = document.getElementById('area-table');
  const set = (key, value) => {
    table.querySelector(`[data-out="${key}"]`).textContent = typeof value === 'number' ? fmt(value) : value;
  };
  const t = p.terms;
  set('prior', t.prior_term);
  set('rect', t.rect_term);
  set('weighted', t.weighted_loss);
  set('mixture', t.mixture_term);
  set('n', String(p.strips.length));
  set('riemann-weighted', p.riemann_weighted_loss);
  set('riemann-mixture', p.riemann_mixture);
  set('lhs', p.lhs);
  set('rhs', p.rhs);
  const relative = Math.abs(p.difference) / Math.max(Math.abs(p.lhs), Math.abs(p.rhs), 1e-300);
  const verdict = document.getElementById('area-verdict');
  verdict.textContent = `left − right = ${fmt(p.difference, 3)} (relative ${fmt(relative, 3)}). `
    + (p.monotonic
      ? 'w decreases with λ: every horizontal strip is positive, and the right side is a proper mixture of ELBOs.'
      : `w rises with λ on ${p.negative_intervals.map(([a, b]) => `[${a.toFixed(1)}, ${b.toFixed(1)}]`).join(', ')}: those horizontal strips count negatively.`);
  verdict.dataset.relative = String(relative);
}

function drawDensity(p) {
  const label = p.monotonic ? 'p_w(λ)' : '−w′(λ)/w(λ_min)';
  lineChart(document.getElementById('chart-area-pw'), {
    xLabel: 'λ',
    yLabel: label,
    series: [{ label, color: p.monotonic ? '#2ca02c' : '#d62728' }],
    data: [p.lambda, p.p_w],
  });
  document.getElementById('area-pw-caption').textContent = p.monotonic
    ? `p_w(λ): the distribution of augmentation noise levels (Eq. 12), plus a point mass of ${fmt(p.dirac_mass, 3)} at λ_max.`
    : 'Not monotone: the "mixture weights" −w′(λ)/w(λ_min) are negative where w rises with λ (dw/dt < 0).';
}

// The panels' margins and their maps from (L, w) to CSS pixels.
function axes(p, width, height) {
  const m = { left: 52, right: 10, top: 10, bottom: 34 };
  const lMax = Math.max(...p.curve_l) * 1.04 || 1;
  const wMax = Math.max(...p.curve_w, 1e-9) * 1.08;
  const X = (l) => m.left + (l / lMax) * (width - m.left - m.right);
  const Y = (w) => height - m.bottom - (w / wMax) * (height - m.top - m.bottom);
  return { m, lMax, wMax, X, Y };
}

// One panel of the L–w plane: the curve and one decomposition of the area under it, with the
// picked strip (if any) outlined.
function drawPlane(canvas, p, mode, picked) {
  const { ctx, width, height } = prepareCanvas(canvas);
  const { m, lMax, wMax, X, Y } = axes(p, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const rect = (l0, l1, w0, w1, fill, edge) => {
    const x0 = X(Math.min(l0, l1));
    const x1 = X(Math.max(l0, l1));
    const y0 = Y(Math.max(w0, w1));
    const y1 = Y(Math.min(w0, w1));
    ctx.fillStyle = fill;
    ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
    if (edge) {
      ctx.strokeStyle = edge;
      ctx.lineWidth = 1;
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    }
  };
  const first = p.strips[0];
  const last = p.strips[p.strips.length - 1];
  if (mode === 'vertical') {
    rect(0, first.l_lo, 0, first.w_lo, COLORS.end, COLORS.end);
    for (const s of p.strips) rect(s.l_lo, s.l_hi, 0, s.w_mid, COLORS.strip, COLORS.stripEdge);
  } else {
    rect(0, last.l_hi, 0, last.w_hi, COLORS.end, COLORS.end);
    // Negative strips last, on top: where w rises and falls again, they cancel part of the
    // positive strips at the same heights.
    for (const s of p.strips) if (s.horizontal >= 0) rect(0, s.l_mid, s.w_hi, s.w_lo, COLORS.positive, COLORS.positiveEdge);
    for (const s of p.strips) if (s.horizontal < 0) rect(0, s.l_mid, s.w_hi, s.w_lo, COLORS.negative, COLORS.negativeEdge);
  }
  if (picked !== null && picked !== undefined && p.strips[picked]) {
    const s = p.strips[picked];
    const [l0, l1, w0, w1] = mode === 'vertical' ? [s.l_lo, s.l_hi, 0, s.w_mid] : [0, s.l_mid, s.w_hi, s.w_lo];
    ctx.fillStyle = 'rgba(255, 191, 0, 0.55)';
    ctx.strokeStyle = '#7a5500';
    ctx.lineWidth = 2;
    const x0 = X(Math.min(l0, l1));
    const y0 = Y(Math.max(w0, w1));
    // At least 2 px, so a thin strip stays visible.
    const wide = Math.max(2, X(Math.max(l0, l1)) - x0);
    const tall = Math.max(2, Y(Math.min(w0, w1)) - y0);
    ctx.fillRect(x0, y0, wide, tall);
    ctx.strokeRect(x0, y0, wide, tall);
  }
  // Axes with a few ticks.
  ctx.strokeStyle = '#1b1d22';
  ctx.fillStyle = '#1b1d22';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(m.left, m.top);
  ctx.lineTo(m.left, height - m.bottom);
  ctx.lineTo(width - m.right, height - m.bottom);
  ctx.stroke();
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const l of ticks(lMax)) {
    ctx.fillText(String(l), X(l), height - m.bottom + 4);
  }
  ctx.fillText(p.curve_label ?? 'L(λ;x) (nats)', (m.left + width - m.right) / 2, height - 14);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const w of ticks(wMax)) ctx.fillText(String(w), m.left - 10, Y(w));
  ctx.save();
  ctx.translate(11, (m.top + height - m.bottom) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText('w(λ)', 0, 0);
  ctx.restore();
  // Where w rises with λ (dw/dt < 0) the negative strips can be too thin to see: mark their
  // w-range with a red bar beside the axis.
  ctx.fillStyle = COLORS.negativeEdge;
  for (const s of mode === 'horizontal' ? p.strips : []) {
    if (s.horizontal < 0) ctx.fillRect(m.left - 8, Y(s.w_hi), 5, Y(s.w_lo) - Y(s.w_hi));
  }
  // The curve, from (L(λ_min), w(λ_min)) to (L(λ_max), w(λ_max)); red where w rises with λ.
  ctx.lineWidth = 2;
  for (let i = 1; i < p.curve_l.length; i += 1) {
    ctx.strokeStyle = p.curve_w[i] > p.curve_w[i - 1] * (1 + 1e-9) ? COLORS.negativeEdge : '#1b1d22';
    ctx.beginPath();
    ctx.moveTo(X(p.curve_l[i - 1]), Y(p.curve_w[i - 1]));
    ctx.lineTo(X(p.curve_l[i]), Y(p.curve_w[i]));
    ctx.stroke();
  }
}

// About five round tick values in [0, max].
function ticks(max) {
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = 0; v <= max + 1e-12; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}
