// Figures 6 and 7 (App. J): the power spectra of MNIST digits against white noise across λ.
// The digits (first 1000 of the test set) are fetched once; the spectra are computed in Rust.
import { lineChart } from './charts.js';

const DIGITS_URL = 'vendor/mnist/t10k-images-1000.idx';
const SHOWN_DIGITS = [0, 1, 2];

export async function initFourier(wasm, state) {
  const slider = document.getElementById('fourier-lambda');
  const sliderValue = document.getElementById('fourier-lambda-value');
  const error = document.getElementById('fourier-error');
  const readout = document.getElementById('fourier-readout');
  const canvas = document.getElementById('fourier-digits');

  let view;
  try {
    const response = await fetch(DIGITS_URL);
    if (!response.ok) throw new Error(`${DIGITS_URL}: HTTP ${response.status}`);
    view = new wasm.FourierView(new Uint8Array(await response.arrayBuffer()), 1000);
  } catch (e) {
    error.textContent = `The MNIST digits could not be loaded (${e.message ?? e}); the Fourier figures need them.`;
    return;
  }

  const bands = view.bandLogSnr(-10, 10, 81);
  slider.value = state.get('flambda');

  function drawDigits(lambda) {
    const context = canvas.getContext('2d');
    const cell = document.createElement('canvas');
    cell.width = 28;
    cell.height = 28;
    context.imageSmoothingEnabled = false;
    SHOWN_DIGITS.forEach((index, i) => {
      const rgba = view.noisyDigit(index, lambda, 7 + index);
      cell.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), 28, 28), 0, 0);
      context.drawImage(cell, i * canvas.height, 0, canvas.height, canvas.height);
    });
    canvas.dataset.frames = String(Number(canvas.dataset.frames ?? 0) + 1);
  }

  function render() {
    const lambda = Number(slider.value);
    if (!Number.isFinite(lambda)) {
      error.textContent = 'λ must be a number.';
      return;
    }
    error.textContent = '';
    sliderValue.textContent = lambda.toFixed(1);
    state.set('flambda', lambda);
    const at = view.at(lambda);
    lineChart(document.getElementById('chart-fourier-spectrum'), {
      xLabel: 'frequency (cycles per image)', yLabel: 'power', logY: true,
      series: [{ label: 'α²·S(F(x)) digits' }, { label: 'σ²·S(F(ε)) noise', color: '#ff7f0e' }],
      data: [at.frequency, at.data, at.noise],
    });
    lineChart(document.getElementById('chart-fourier-bands'), {
      xLabel: 'λ (pixel log-SNR)', yLabel: 'λ̃ of the band',
      series: [...bands.bands.map((b) => ({ label: b.label })), { label: 'λ̃ = λ', color: '#7f7f7f', dash: [4, 4] }],
      data: [bands.lambda, ...bands.bands.map((b) => b.log_snr), bands.lambda],
    });
    readout.textContent = at.drowned_from == null
      ? `λ = ${lambda.toFixed(1)}: the digits outweigh the noise at every frequency.`
      : `λ = ${lambda.toFixed(1)}: noise outweighs the digits from ${at.drowned_from} cycles per image upwards.`;
    drawDigits(lambda);
  }

  slider.addEventListener('input', render);
  render();
}
