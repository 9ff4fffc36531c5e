// The first page as a reader sees it: equations, Figure 2, Figure 3, Table 1 and the forward
// process heat-map, in headless Chromium with WebGPU.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, canvasStats, openPage, setRange, startSite } from './harness.mjs';

let site;
before(async () => {
  site = await startSite();
});
after(async () => {
  await site?.close();
});

const MONOTONE = ['elbo', 'v-cosine', 'fm-ot', 'indi', 'sigmoid', 'edm-monotonic', 'low-bit'];
const NON_MONOTONE = ['iddpm', 'edm', 'p2', 'min-snr'];

test('the page loads without console errors, with maths, charts, Table 1 and the heat-map drawn', async () => {
  const { page, errors, close } = await openPage(site);
  try {
    assert.ok((await page.locator('.katex').count()) >= 10, 'KaTeX typeset the equations');
    for (const id of ['chart-lambda-t', 'chart-p-lambda', 'chart-w-monotone', 'chart-w-nonmonotone']) {
      const stats = await canvasStats(page, `#${id} canvas`);
      assert.ok(stats.differing > 2000, `${id}: only ${stats.differing} drawn pixels`);
      assert.ok(stats.distinct > 8, `${id}: the curves are drawn in several colours`);
    }
    for (const name of MONOTONE) {
      assert.equal(await page.textContent(`tr[data-weighting="${name}"] td.monotone`), '✓', `${name} is monotone`);
    }
    for (const name of NON_MONOTONE) {
      assert.equal(await page.textContent(`tr[data-weighting="${name}"] td.monotone`), '—', `${name} is not monotone`);
    }
    const heat = await canvasStats(page, '#heatmap');
    assert.ok(heat.differing > heat.pixels / 20, 'the heat-map is not blank');
    assert.ok(heat.distinct > 50, 'the heat-map shows a gradient');
    assert.equal(await page.getAttribute('#heatmap', 'data-backend'), 'webgpu');
    await page.screenshot({ path: `${ARTIFACTS}/page.png`, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('moving the λ slider redraws the heat-map, and the URL carries the state', async () => {
  const { page, errors, close } = await openPage(site);
  try {
    const before = await canvasStats(page, '#heatmap');
    const frames = Number(await page.getAttribute('#heatmap', 'data-frames'));
    await setRange(page, '#lambda', -4);
    await page.waitForFunction((n) => Number(document.querySelector('#heatmap').dataset.frames) > n, frames);
    const after = await canvasStats(page, '#heatmap');
    assert.notEqual(after.fingerprint, before.fingerprint, 'the picture changed');
    assert.match(page.url(), /lambda=-4/);
    await page.screenshot({ path: `${ARTIFACTS}/forward-lambda-minus-4.png` });

    // Round trip: the same URL opens with the same λ and the same picture.
    const again = await openPage(site, new URL(page.url()).search);
    try {
      assert.equal(await again.page.inputValue('#lambda'), '-4');
      assert.equal((await canvasStats(again.page, '#heatmap')).fingerprint, after.fingerprint);
    } finally {
      await again.close();
    }
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('weighting parameters and schedule choices round-trip through the URL', async () => {
  const { page, close } = await openPage(site, '?k=4&schedules=cosine,fm-ot&lmin=-10&lmax=10');
  try {
    assert.equal(await page.inputValue('#param-sigmoid-k'), '4');
    assert.equal(await page.inputValue('#lambda-min'), '-10');
    const checked = await page.$$eval('#schedule-toggles input:checked', (boxes) => boxes.map((b) => b.value));
    assert.deepEqual(checked, ['cosine', 'fm-ot']);
  } finally {
    await close();
  }
});

test('bad input shows a message and keeps the last good picture', async () => {
  const { page, errors, close } = await openPage(site);
  try {
    const before = await canvasStats(page, '#heatmap');
    await page.click('#forward details summary');
    await page.fill('#mixture-json', '{"weights": [1], "means": [[0, 0]]');
    await page.click('#mixture-apply');
    await page.waitForFunction(() => document.querySelector('#forward-error').textContent.length > 0);
    assert.match(await page.textContent('#forward-error'), /json|JSON|expected|EOF/);
    assert.equal((await canvasStats(page, '#heatmap')).fingerprint, before.fingerprint);

    await page.fill('#mixture-json', '{"weights": [1], "means": [[0, 0, 0]], "stds": [1]}');
    await page.click('#mixture-apply');
    await page.waitForFunction(() => /dimension/.test(document.querySelector('#forward-error').textContent));

    await page.fill('#lambda-min', '5');
    await page.fill('#lambda-max', '1');
    await page.dispatchEvent('#lambda-max', 'change');
    await page.waitForFunction(() => document.querySelector('#schedule-error').textContent.length > 0);
    const drawnCharts = await canvasStats(page, '#chart-p-lambda canvas');
    assert.ok(drawnCharts.differing > 2000, 'the previous chart stays');

    // A good mixture afterwards clears the message.
    await page.fill('#mixture-json', '{"weights": [0.5, 0.5], "means": [[-1, 0], [1, 0]], "stds": [0.3, 0.3]}');
    await page.click('#mixture-apply');
    await page.waitForFunction(() => document.querySelector('#forward-error').textContent === '');
    assert.notEqual((await canvasStats(page, '#heatmap')).fingerprint, before.fingerprint);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('without WebGPU the page says so and draws on the CPU', async () => {
  const { page, errors, close } = await openPage(site, '', { withoutWebGPU: true });
  try {
    assert.match(await page.textContent('#status'), /WebGPU/);
    assert.equal(await page.getAttribute('#heatmap', 'data-backend'), 'cpu');
    const heat = await canvasStats(page, '#heatmap');
    assert.ok(heat.differing > heat.pixels / 20, 'the CPU heat-map is drawn');
    await page.screenshot({ path: `${ARTIFACTS}/no-webgpu.png` });
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('readable on a 360 px wide screen', async () => {
  const { page, errors, close } = await openPage(site, '', { viewport: { width: 360, height: 800 } });
  try {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px`);
    await page.screenshot({ path: `${ARTIFACTS}/narrow.png`, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('Figures 6 and 7: MNIST spectra against noise, redrawn as λ moves, λ in the URL', async () => {
  const { page, errors, close } = await openPage(site, '?flambda=4#fourier');
  try {
    await page.waitForFunction(() => Number(document.querySelector('#fourier-digits').dataset.frames) >= 1);
    assert.equal(await page.inputValue('#fourier-lambda'), '4');
    for (const id of ['chart-fourier-spectrum', 'chart-fourier-bands']) {
      const stats = await canvasStats(page, `#${id} canvas`);
      assert.ok(stats.differing > 2000, `${id}: only ${stats.differing} drawn pixels`);
    }
    const digits = await canvasStats(page, '#fourier-digits');
    assert.ok(digits.distinct > 20, 'the noised digits are drawn');
    // At λ = 4 the noise drowns only the top frequencies; at λ = −4 it reaches far lower.
    const drownedAt = async () => Number((await page.textContent('#fourier-readout')).match(/from (\d+) cycles/)?.[1] ?? Infinity);
    const high = await drownedAt();
    const frames = Number(await page.getAttribute('#fourier-digits', 'data-frames'));
    await setRange(page, '#fourier-lambda', -4);
    await page.waitForFunction((n) => Number(document.querySelector('#fourier-digits').dataset.frames) > n, frames);
    const low = await drownedAt();
    assert.ok(low < high, `drowned from ${high} at λ=4, from ${low} at λ=−4`);
    assert.notEqual((await canvasStats(page, '#fourier-digits')).fingerprint, digits.fingerprint);
    assert.match(page.url(), /flambda=-4/);
    await page.locator('#fourier').screenshot({ path: `${ARTIFACTS}/fourier.png` });
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('each figure can be shown alone for an <iframe>, and its link carries its state', async () => {
  const { page, errors, close } = await openPage(site, '?widget=weightings&k=4');
  try {
    assert.equal(await page.isVisible('#weightings'), true);
    for (const other of ['#schedules', '#table-1', '#forward', '#fourier']) {
      assert.equal(await page.isVisible(other), false, `${other} hidden when embedding Figure 3`);
    }
    assert.equal(await page.isVisible('.site-header h1'), false, 'embedded: no site header');
    assert.ok((await canvasStats(page, '#chart-w-monotone canvas')).differing > 1000, 'Figure 3 drawn alone');
    await page.click('#weightings button[data-copy-widget]');
    const link = new URL(await page.inputValue('#weightings .link-out'));
    assert.equal(link.searchParams.get('widget'), 'weightings');
    assert.equal(link.searchParams.get('k'), '4');
    assert.equal(link.searchParams.has('view'), false, 'the figures are the default view');
    await page.screenshot({ path: `${ARTIFACTS}/embed-figure3.png` });
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
  // An unknown figure name is reported, and every figure is shown.
  const other = await openPage(site, '?widget=fig99');
  try {
    assert.match(await other.page.textContent('#status'), /no widget “fig99”/);
    assert.equal(await other.page.isVisible('#forward'), true);
    assert.deepEqual(other.errors, []);
  } finally {
    await other.close();
  }
});
