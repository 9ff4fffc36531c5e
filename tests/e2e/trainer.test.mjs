// The trainer view as a user meets it: settings in the URL, bad input refused next to its
// control, training on Chromium's WebGPU that actually learns, checkpoints that round-trip.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ARTIFACTS, canvasStats, openPage, startSite } from './harness.mjs';

let site;
before(async () => {
  site = await startSite();
});
after(async () => {
  await site?.close();
});

// A short run: the default preset on moons with a smaller, faster network. The browser here
// draws WebGPU on a CPU rasteriser (SwiftShader): the default preset runs at ~0.5 steps/s there,
// so the 300+ steps it needs to beat a Gaussian fit do not fit in a test; that stronger bar is
// checked natively (tests/engine.rs) and the speed on a real GPU by `make bench`.
const SHORT_RUN = '?view=trainer&preset=default&t_dataset=moons&t_width=32&t_depth=2&t_batch=64&t_lr=0.01&t_steps=STEPS';

test('the trainer form takes its settings from the URL and writes changes back', async () => {
  const { page, errors, close } = await openPage(site, '?view=trainer&preset=v-prediction&t_dataset=rings&t_lr=0.001&t_seed=7&t_engine=burn');
  try {
    assert.equal(await page.inputValue('#train-engine-select'), 'burn');
    assert.equal(await page.inputValue('#train-preset'), 'v-prediction');
    assert.equal(await page.inputValue('#train-dataset'), 'rings');
    assert.equal(await page.inputValue('#train-target'), 'v');
    assert.equal(await page.inputValue('#train-form [name="lr"]'), '0.001');
    await page.selectOption('#train-weighting', 'sigmoid');
    await page.waitForFunction(() => /t_weighting=sigmoid/.test(location.search));
    assert.match(page.url(), /t_seed=7/);
    assert.equal(await page.isHidden('main[data-view="figures"]'), true);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('a NaN learning rate and a bad CSV are refused next to their controls, and the page stays alive', async () => {
  const { page, errors, close } = await openPage(site, '?view=trainer');
  try {
    await page.fill('#train-form [name="lr"]', 'not-a-number');
    await page.click('#train-start');
    await page.waitForFunction(() => document.querySelector('[data-error-for="lr"]').textContent.length > 0);
    assert.match(await page.textContent('[data-error-for="lr"]'), /learning rate/);
    assert.match(await page.textContent('#train-status'), /Ready/);

    await page.setInputFiles('#train-csv', { name: 'points.csv', mimeType: 'text/csv', buffer: Buffer.from('x,y\n1,2\n3\n') });
    await page.waitForFunction(() => document.querySelector('[data-error-for="dataset"]').textContent.length > 0);
    assert.match(await page.textContent('[data-error-for="dataset"]'), /line 3/);

    // Settings are checked in order, so fix the learning rate before testing the λ range.
    await page.fill('#train-form [name="lr"]', '0.002');
    await page.fill('#train-form [name="lambda_min"]', '4');
    await page.fill('#train-form [name="lambda_max"]', '-4');
    await page.dispatchEvent('#train-form [name="lambda_max"]', 'change');
    await page.waitForFunction(() => document.querySelector('[data-error-for="lambda"]').textContent.length > 0);
    // Still interactive: switching view works.
    await page.click('a[data-view-link="figures"]');
    await page.waitForSelector('main[data-view="figures"]:not([hidden])');
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('training moons on WebGPU learns: the energy distance to held-out data falls below the bar', async () => {
  const steps = Number(process.env.E2E_TRAIN_STEPS ?? 120);
  const { page, errors, close } = await openPage(site, SHORT_RUN.replace('STEPS', String(steps)));
  try {
    await page.click('#train-start');
    await page.waitForFunction(() => /^Done/.test(document.querySelector('#train-status').textContent)
      || document.querySelector('#train-status').dataset.kind === 'error', null, { timeout: 600_000 });
    assert.doesNotMatch(await page.textContent('#train-status'), /error|diverged/i);
    // The default engine: the fused WGSL step, on the page's own WebGPU adapter (not a fallback).
    assert.match(await page.textContent('#train-engine'), /^fused WGSL on /);
    // The page reports the first step (kernel compilation) apart from the steady rate, which
    // `make bench` reads; both are measured, whatever their size.
    const timing = await page.$eval('#train-status', (s) => [Number(s.dataset.firstStepS), Number(s.dataset.stepsPerS)]);
    assert.ok(timing.every((v) => Number.isFinite(v) && v > 0), `first step ${timing[0]} s, ${timing[1]} steps/s`);
    const distance = Number(await page.getAttribute('#train-samples', 'data-energy-distance'));
    // The bar: a run that learned nothing scores ≈ 20 (an untrained ε-model's samples diverge; the
    // page after 40 steps measured 19.6). This configuration reaches ≈ 0.09 natively (1000
    // samples) and measured 0.36 in this page (256 samples, a few outliers dominate) after 120
    // steps. 1.0 demands that the model learned where the data is and how spread it is; the finer
    // bar (beating a Gaussian with the data's mean and covariance, ≈ 0.025) takes ~300 steps of
    // the default preset and is checked natively (tests/engine.rs).
    assert.ok(distance < 1.0, `energy distance ${distance}`);
    const samples = await canvasStats(page, '#train-samples');
    assert.ok(samples.differing > 500, 'samples are drawn');
    assert.ok((await canvasStats(page, '#chart-loss canvas')).differing > 500, 'the loss chart is drawn');

    // The model's own density by its probability-flow ODE, and the exact held-out NLL. An
    // untrained ε-model (ε̂ = 0) leaves every point where it is, so its ODE density is the prior
    // squeezed by α(λ_min) ≈ e^{-6} per axis: ≈ 8.6 bits/dim. Below 4 means the flow carries the
    // data onto the prior.
    await page.click('#train-density-run');
    await page.waitForFunction(() => document.querySelector('#train-density').dataset.frames === '1'
      || document.querySelector('#train-status').dataset.kind === 'error', null, { timeout: 300_000 });
    const nll = Number(await page.getAttribute('#train-density', 'data-nll-bpd'));
    assert.ok(Number.isFinite(nll) && nll < 4, `ODE NLL ${nll} bits/dim`);
    assert.match(await page.textContent('#train-density-nll'), /bits\/dim/);
    assert.ok((await canvasStats(page, '#train-density')).differing > 500, 'the density map is drawn');
    await page.screenshot({ path: `${ARTIFACTS}/trainer.png`, fullPage: true });

    // Save a checkpoint, reset, load it back: the step count returns.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#train-save')]);
    const path = `${ARTIFACTS}/run.elbolab`;
    await download.saveAs(path);
    await page.click('#train-reset');
    await page.setInputFiles('#train-load', path);
    await page.waitForFunction((n) => new RegExp(`step ${n}`).test(document.querySelector('#train-status').textContent), steps, { timeout: 120_000 });

    // A corrupted file is refused and the loaded run is kept.
    const bytes = await readFile(path);
    bytes[bytes.length >> 1] ^= 0x55;
    await page.setInputFiles('#train-load', { name: 'broken.elbolab', mimeType: 'application/octet-stream', buffer: bytes });
    await page.waitForFunction(() => /Could not load/.test(document.querySelector('#train-status').textContent));
    assert.match(await page.textContent('#train-status'), /checksum/);
    // The explainer's area picture for the model just trained: its per-λ loss, kept in this
    // browser, drawn as Theorem 1's two decompositions, which agree as for exact data.
    const href = await page.getAttribute('#train-area-link', 'href');
    assert.match(href, /asrc=trained/);
    await page.click('#train-area-link');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    await page.waitForFunction(() => Number(document.getElementById('explain-area').dataset.frames ?? 0) > 0
      || document.getElementById('area-error').textContent !== '');
    assert.equal(await page.textContent('#area-error'), '');
    assert.equal(await page.inputValue('#area-source'), 'trained');
    assert.match(await page.textContent('#area-source-caption'), /trained on moons/);
    const relative = Number(await page.getAttribute('#area-verdict', 'data-relative'));
    assert.ok(relative < 1e-6, `both sides agree for the trained model (relative ${relative})`);
    for (const id of ['area-left', 'area-right']) {
      assert.ok((await canvasStats(page, `#${id}`)).differing > 2000, `${id} drawn for the trained model`);
    }
    await page.screenshot({ path: `${ARTIFACTS}/area-trained.png`, fullPage: true });

    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('points drawn with the mouse become the dataset, and a step trains on them (burn engine)', async () => {
  // The burn engine, which the page keeps as the alternative to the fused step, on this run.
  const { page, errors, close } = await openPage(site, '?view=trainer&t_width=16&t_depth=1&t_batch=32&t_engine=burn');
  try {
    await page.click('.draw-points summary');
    const box = await page.locator('#train-draw').boundingBox();
    // A stroke across the canvas, then a second one: each adds points along its path.
    for (const [y0, y1] of [[0.3, 0.7], [0.7, 0.3]]) {
      await page.mouse.move(box.x + 0.1 * box.width, box.y + y0 * box.height);
      await page.mouse.down();
      for (let i = 1; i <= 20; i += 1) {
        const f = i / 20;
        await page.mouse.move(box.x + (0.1 + 0.8 * f) * box.width, box.y + (y0 + (y1 - y0) * f) * box.height);
      }
      await page.mouse.up();
    }
    const drawn = Number(await page.getAttribute('#train-draw', 'data-points'));
    assert.ok(drawn >= 20, `${drawn} points drawn`);
    assert.match(await page.textContent('#train-draw-count'), new RegExp(`${drawn} points`));
    assert.equal(await page.inputValue('#train-dataset'), 'points');
    await page.click('#train-step');
    await page.waitForFunction(() => /Paused at step 1\b/.test(document.querySelector('#train-status').textContent)
      || document.querySelector('#train-status').dataset.kind === 'error', null, { timeout: 180_000 });
    assert.doesNotMatch(await page.textContent('#train-status'), /error|could not/i);
    assert.equal(await page.textContent('#train-engine'), 'burn on WebGPU');
    const frames = await page.getAttribute('#train-samples', 'data-frames');
    assert.ok(Number(frames) >= 1, 'the samples view was drawn from the run on the drawn points');
    await page.click('#train-draw-clear');
    assert.equal(await page.getAttribute('#train-draw', 'data-points'), '0');
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('the small-scale Table 2 trains one row per objective, and Figure 4 draws both schedules', async () => {
  // Tiny runs: this checks the pipeline (every objective trains and is evaluated in the page);
  // what the numbers say is checked natively, where runs are long enough to mean something. The
  // settings come from the URL of the comparison embedded alone.
  const { page, errors, close } = await openPage(site, '?view=trainer&widget=compare&c_steps=4&c_width=16&c_depth=1&c_batch=32');
  try {
    assert.equal(await page.isVisible('#trainer'), false, 'embedded: only the comparison');
    assert.equal(await page.inputValue('#compare-form [name="steps"]'), '4');
    assert.equal(await page.inputValue('#compare-form [name="width"]'), '16');
    assert.equal(await page.inputValue('#compare-form [name="depth"]'), '1');
    await page.click('#compare button[data-copy-widget="compare"]');
    const link = new URL(await page.inputValue('#compare .link-out'));
    assert.equal(link.searchParams.get('c_batch'), '32');
    assert.equal(link.searchParams.get('widget'), 'compare');
    await page.click('#compare-table');
    await page.waitForFunction(() => /^(Done|Could not)/.test(document.querySelector('#compare-status').textContent), null, { timeout: 600_000 });
    assert.equal(await page.textContent('#compare-status'), 'Done.');
    const rows = await page.$$eval('#compare-results tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.deepEqual(rows.map((r) => r[0]), ['ε-MSE + cosine (baseline)', 'EDM', 'v-MSE + cosine', 'sigmoid(−λ+2)', 'EDM-monotonic']);
    assert.deepEqual(rows.map((r) => r[1]), ['—', '—', '✓', '✓', '✓'], 'monotonicity from the registry');
    for (const row of rows) for (const cell of row.slice(2)) assert.ok(Number.isFinite(Number(cell)), `${row}`);

    await page.click('#compare-fig4');
    await page.waitForFunction(() => /^(Done|Could not)/.test(document.querySelector('#compare-status').textContent)
      && Number(document.querySelector('#chart-compare-fig4').dataset.drawn) >= 1, null, { timeout: 600_000 });
    assert.ok((await canvasStats(page, '#chart-compare-fig4 canvas')).differing > 500, 'Figure 4 is drawn');
    await page.locator('#compare').screenshot({ path: `${ARTIFACTS}/compare.png` });

    // Invalid settings are refused with a message; nothing runs.
    await page.fill('#compare-form [name="batch"]', '0');
    await page.click('#compare-table');
    assert.match(await page.textContent('#compare-error'), /batch/i);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});
