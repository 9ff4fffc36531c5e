// The explainer view (`?view=explain`): each widget alone as an <iframe> would show it, its main
// control changing the drawing, its URL state round-tripping, bad settings shown as messages.
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

const frames = (page, id) => page.$eval(`#${id}`, (s) => Number(s.dataset.frames ?? 0));
const waitFrames = (page, id, n) =>
  page.waitForFunction(([i, k]) => Number(document.getElementById(i).dataset.frames ?? 0) > k, [id, n]);

// Pixels that are clearly red (the negative strips) in a canvas.
const redPixels = (page, selector) => page.$eval(selector, (canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] > 200 && data[i + 1] < 170 && data[i + 2] < 170) n += 1;
  return n;
});

test('the area widget alone: both decompositions drawn, both sides agree, strips follow the slider', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=area');
  try {
    assert.equal(await page.isVisible('#explain-area'), true);
    assert.equal(await page.isVisible('#explain-implied'), false, 'only the chosen widget is shown');
    assert.equal(await page.isVisible('.site-header h1'), false, 'embedded: no site header');
    assert.ok((await page.locator('#explain-area .katex').count()) >= 5, 'equations typeset');
    for (const id of ['area-left', 'area-right']) {
      const stats = await canvasStats(page, `#${id}`);
      assert.ok(stats.differing > stats.pixels / 20, `${id} is not blank (${stats.differing} pixels)`);
      assert.ok(stats.distinct > 4, `${id} has strips and a curve`);
    }
    const pw = await canvasStats(page, '#chart-area-pw canvas');
    assert.ok(pw.differing > 1000, 'p_w chart drawn');
    const relative = Number(await page.getAttribute('#area-verdict', 'data-relative'));
    assert.ok(relative < 1e-6, `left and right agree (relative ${relative})`);
    const lhs = Number(await page.textContent('[data-out="lhs"]'));
    const rhs = Number(await page.textContent('[data-out="rhs"]'));
    assert.ok(lhs > 0 && Math.abs(lhs - rhs) < 1e-6 * lhs, `${lhs} vs ${rhs}`);
    await page.screenshot({ path: `${ARTIFACTS}/explain-area.png`, fullPage: true });

    const before = await canvasStats(page, '#area-left');
    const riemannBefore = await page.textContent('[data-out="riemann-weighted"]');
    const n = await frames(page, 'explain-area');
    await setRange(page, '#area-strips', 32);
    await waitFrames(page, 'explain-area', n);
    const after = await canvasStats(page, '#area-left');
    assert.notEqual(after.fingerprint, before.fingerprint, 'more strips, another picture');
    assert.equal(await page.textContent('[data-out="n"]'), '32');
    assert.notEqual(await page.textContent('[data-out="riemann-weighted"]'), riemannBefore);
    // The finer Riemann sum is closer to the exact integral.
    const exact = Number(await page.textContent('[data-out="weighted"]'));
    const fine = Number(await page.textContent('[data-out="riemann-weighted"]'));
    assert.ok(Math.abs(fine - exact) < Math.abs(Number(riemannBefore) - exact), `${fine} / ${riemannBefore} vs ${exact}`);
    assert.match(page.url(), /astrips=32/);

    // Copy link: the widget's own address with its settings.
    await page.click('#area-controls .copy-link');
    const link = await page.inputValue('#area-controls .link-out');
    assert.match(link, /view=explain/);
    assert.match(link, /widget=area/);
    assert.match(link, /astrips=32/);

    // Pick a strip by dragging across the left panel, then move it with the keyboard: the same
    // λ-slice is outlined on both panels and its two areas read out.
    const unpicked = await canvasStats(page, '#area-right');
    const box = await page.locator('#area-left').boundingBox();
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 4 });
    await page.mouse.up();
    const pickedAt = Number(await page.getAttribute('#area-pick', 'data-strip'));
    assert.ok(pickedAt > 0 && pickedAt < 31, `a middle strip picked (${pickedAt})`);
    assert.match(await page.textContent('#area-pick'), /Strip \d+ of 32: λ from .* horizontal L·Δw = /);
    assert.notEqual((await canvasStats(page, '#area-right')).fingerprint, unpicked.fingerprint, 'outlined on the other panel too');
    await page.focus('#area-left');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('#area-pick', 'data-strip'), String(pickedAt + 1));
    await page.keyboard.press('Escape');
    assert.equal(await page.getAttribute('#area-pick', 'data-strip'), null);
    assert.equal((await canvasStats(page, '#area-right')).fingerprint, unpicked.fingerprint);

    const again = await openPage(site, new URL(link).search);
    try {
      assert.equal(await again.page.inputValue('#area-strips'), '32');
      assert.equal((await canvasStats(again.page, '#area-left')).fingerprint, after.fingerprint);
      assert.deepEqual(again.errors, []);
    } finally {
      await again.close();
    }
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('a non-monotone weighting shows negative strips; a bad data point shows a message', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=area&aw=edm&astrips=24');
  try {
    await page.screenshot({ path: `${ARTIFACTS}/explain-area-edm.png` });
    assert.equal(await page.inputValue('#area-weighting'), 'edm');
    assert.match(await page.textContent('#area-verdict'), /negatively/);
    assert.ok(await redPixels(page, '#area-right') > 200, 'negative horizontal strips drawn in red');

    const n = await frames(page, 'explain-area');
    await page.selectOption('#area-weighting', 'sigmoid');
    await waitFrames(page, 'explain-area', n);
    assert.equal(await redPixels(page, '#area-right'), 0, 'a monotone weighting has no negative strip');
    assert.match(await page.textContent('#area-pw-caption'), /point mass/);

    await setRange(page, '#area-x', '1.0,abc');
    await page.waitForFunction(() => document.getElementById('area-error').textContent !== '');
    assert.match(await page.textContent('#area-error'), /not a number/);
    await setRange(page, '#area-x', '1.0,0.5,2');
    await page.waitForFunction(() => /dimension/.test(document.getElementById('area-error').textContent));
    await setRange(page, '#area-x', '1.0,0.5');
    await page.waitForFunction(() => document.getElementById('area-error').textContent === '');
    assert.match(page.url(), /ax=1.0%2C0.5|ax=1.0,0.5/);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('Animate steps through the strip counts and can be stopped from the keyboard', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=area&amix=gaussian');
  try {
    const n = await frames(page, 'explain-area');
    await page.focus('#area-animate');
    await page.keyboard.press('Enter');
    assert.equal(await page.getAttribute('#area-animate', 'aria-pressed'), 'true');
    await waitFrames(page, 'explain-area', n + 3);
    await page.keyboard.press('Enter');
    assert.equal(await page.getAttribute('#area-animate', 'aria-pressed'), 'false');
    assert.ok(Number(await page.inputValue('#area-strips')) >= 3);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('the implied-weighting widget: a loss lands on its Table 1 row until its schedule changes', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=implied');
  try {
    assert.equal(await page.isVisible('#explain-area'), false);
    assert.equal(await page.getAttribute('#implied-verdict', 'data-proportional'), 'true');
    const before = await canvasStats(page, '#chart-implied canvas');
    assert.ok(before.differing > 2000, 'chart drawn');
    await page.screenshot({ path: `${ARTIFACTS}/explain-implied.png`, fullPage: true });

    for (const loss of ['v-cosine', 'edm', 'flow-matching', 'min-snr', 'p2', 'indi', 'elbo']) {
      const n = await frames(page, 'explain-implied');
      await page.selectOption('#implied-loss', loss);
      await waitFrames(page, 'explain-implied', n);
      assert.equal(await page.getAttribute('#implied-verdict', 'data-proportional'), 'true', loss);
    }
    await page.selectOption('#implied-loss', 'eps-cosine');
    const n = await frames(page, 'explain-implied');
    await page.selectOption('#implied-schedule', 'edm-train');
    await waitFrames(page, 'explain-implied', n);
    assert.equal(await page.getAttribute('#implied-verdict', 'data-proportional'), 'false');
    const after = await canvasStats(page, '#chart-implied canvas');
    assert.notEqual(after.fingerprint, before.fingerprint);
    assert.match(page.url(), /isched=edm-train/);
    await page.screenshot({ path: `${ARTIFACTS}/explain-implied-edm-schedule.png` });

    const again = await openPage(site, new URL(page.url()).search);
    try {
      assert.equal(await again.page.inputValue('#implied-schedule'), 'edm-train');
      assert.equal(await again.page.getAttribute('#implied-verdict', 'data-proportional'), 'false');
    } finally {
      await again.close();
    }

    await page.selectOption('#implied-loss', 'min-snr');
    await setRange(page, '#implied-gamma', -1);
    await page.waitForFunction(() => document.getElementById('implied-error').textContent !== '');
    assert.match(await page.textContent('#implied-error'), /gamma/);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('the estimator widget: every schedule estimates the same loss, the adaptive one most tightly', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=estimator');
  try {
    assert.equal(await page.isVisible('#explain-area'), false);
    const rows = await page.$$eval('#estimator-table tbody tr', (trs) => trs.map((tr) => ({
      name: tr.dataset.schedule,
      estimate: Number(tr.querySelector('td').dataset.value),
      sd: Number(tr.querySelectorAll('td')[1].dataset.value),
      meter: Number(tr.querySelector('meter').value),
      gradient: Number(tr.querySelectorAll('td')[3].dataset.value),
      gradientNoise: Number(tr.querySelectorAll('td')[4].dataset.value),
      gradientMeter: Number(tr.querySelectorAll('meter')[1].value),
    })));
    assert.equal(rows.length, 9);
    const exact = Number(await page.getAttribute('#estimator-exact', 'data-value'));
    const exactGradient = Number(await page.getAttribute('#estimator-exact', 'data-gradient'));
    assert.match(await page.textContent('#estimator-exact'), /L_w = \d/);
    assert.ok(exactGradient > 0, 'the bias gradient of one data point is not zero');
    for (const row of rows) {
      assert.ok(Math.abs(row.estimate - exact) < 5 * row.sd, `${row.name}: ${row.estimate} vs ${exact} ± ${row.sd}`);
      // |‖ĝ‖ - ‖g‖| ≤ ‖ĝ - g‖, whose RMS is the gradient noise.
      assert.ok(Math.abs(row.gradient - exactGradient) < 5 * row.gradientNoise, `${row.name}: gradient ${row.gradient} vs ${exactGradient} ± ${row.gradientNoise}`);
      assert.ok(row.gradientNoise > 0 && row.gradientMeter > 0 && row.gradientMeter <= 1, `${row.name}: gradient meter ${row.gradientMeter}`);
    }
    assert.ok(rows.some((r) => r.gradientMeter === 1), 'the gradient meter is scaled to the noisiest gradient');
    const gradientBest = rows.find((r) => r.name === 'gradient-optimal');
    for (const row of rows.filter((r) => ['adaptive', 'optimal'].includes(r.name))) {
      assert.ok(gradientBest.gradientNoise <= row.gradientNoise, `gradient noise: best ${gradientBest.gradientNoise} vs ${row.name} ${row.gradientNoise}`);
    }
    const adaptive = rows.find((r) => r.name === 'adaptive');
    for (const row of rows.filter((r) => !['adaptive', 'optimal', 'gradient-optimal'].includes(r.name))) {
      assert.ok(adaptive.sd < row.sd, `adaptive ${adaptive.sd} vs ${row.name} ${row.sd}`);
    }
    assert.ok(rows.some((r) => r.meter === 1), 'the meter is scaled to the widest spread');
    const chartBefore = await canvasStats(page, '#chart-estimator canvas');
    assert.ok(chartBefore.differing > 2000, 'p(λ) chart drawn');
    await page.screenshot({ path: `${ARTIFACTS}/explain-estimator.png`, fullPage: true });

    // More samples: the same expectation, a smaller spread.
    const n = await frames(page, 'explain-estimator');
    await page.selectOption('#estimator-samples', '10000');
    await waitFrames(page, 'explain-estimator', n);
    const sdAfter = Number(await page.$eval('#estimator-table tr[data-schedule="cosine"] td:nth-of-type(2)', (td) => td.dataset.value));
    const sdBefore = rows.find((r) => r.name === 'cosine').sd;
    assert.ok(Math.abs(sdAfter / sdBefore - Math.sqrt(0.1)) < 1e-6, `${sdAfter} vs ${sdBefore}`);
    assert.match(page.url(), /en=10000/);

    // Resample: another seed, other estimates.
    const estimateBefore = await page.$eval('#estimator-table tr[data-schedule="cosine"] td', (td) => td.dataset.value);
    const m = await frames(page, 'explain-estimator');
    await page.click('#estimator-resample');
    await waitFrames(page, 'explain-estimator', m);
    assert.notEqual(await page.$eval('#estimator-table tr[data-schedule="cosine"] td', (td) => td.dataset.value), estimateBefore);
    assert.match(page.url(), /eseed=2/);

    // The chart follows the chosen schedule.
    const drawn = Number(await page.getAttribute('#chart-estimator', 'data-drawn'));
    const chartBeforeShow = await canvasStats(page, '#chart-estimator canvas');
    await page.selectOption('#estimator-show', 'edm-train');
    await page.waitForFunction((k) => Number(document.getElementById('chart-estimator').dataset.drawn) > k, drawn);
    assert.notEqual((await canvasStats(page, '#chart-estimator canvas')).fingerprint, chartBeforeShow.fingerprint);
    assert.match(page.url(), /eshow=edm-train/);

    const again = await openPage(site, new URL(page.url()).search);
    try {
      assert.equal(await again.page.inputValue('#estimator-samples'), '10000');
      assert.equal(await again.page.inputValue('#estimator-seed'), '2');
      assert.equal(await again.page.inputValue('#estimator-show'), 'edm-train');
    } finally {
      await again.close();
    }

    await setRange(page, '#estimator-x', '');
    await page.waitForFunction(() => document.getElementById('estimator-error').textContent !== '');
    assert.match(await page.textContent('#estimator-error'), /point/);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('the augmentation widget: perturbed data drawn, denoising loss = likelihood of augmented data', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=augment');
  try {
    assert.equal(await page.isVisible('#explain-augment'), true);
    assert.equal(await page.isVisible('#explain-estimator'), false);
    const relative = Number(await page.getAttribute('#augment-verdict', 'data-relative'));
    assert.ok(relative < 1e-6, `both sides agree (relative ${relative})`);
    const z = Number(await page.getAttribute('#augment-verdict', 'data-z'));
    assert.ok(Math.abs(z) < 4.5, `the sampled right side is ${z} s.e. away`);
    assert.match(await page.textContent('#augment-note'), /Logistic\(2, 1\)/);
    const before = await canvasStats(page, '#augment-canvas');
    assert.ok(before.differing > before.pixels / 50, `scatter drawn (${before.differing} pixels)`);
    assert.ok(before.distinct > 20, 'augmented points coloured by noise level');
    assert.ok((await canvasStats(page, '#chart-augment canvas')).differing > 2000, 'p_w chart drawn');
    await page.screenshot({ path: `${ARTIFACTS}/explain-augment.png`, fullPage: true });

    // k moves the augmentation noise: another picture, the identity still holds.
    const n = await frames(page, 'explain-augment');
    await setRange(page, '#augment-param', 6);
    await waitFrames(page, 'explain-augment', n);
    const after = await canvasStats(page, '#augment-canvas');
    assert.notEqual(after.fingerprint, before.fingerprint);
    assert.match(await page.textContent('#augment-note'), /Logistic\(6, 1\)/);
    assert.ok(Number(await page.getAttribute('#augment-verdict', 'data-relative')) < 1e-6);
    assert.match(page.url(), /gp=6/);

    const again = await openPage(site, new URL(page.url()).search);
    try {
      assert.equal(await again.page.inputValue('#augment-param'), '6');
      assert.equal((await canvasStats(again.page, '#augment-canvas')).fingerprint, after.fingerprint);
    } finally {
      await again.close();
    }

    // A non-monotone weighting is refused with Theorem 1's reason.
    await page.selectOption('#augment-weighting', 'edm');
    await page.waitForFunction(() => document.getElementById('augment-error').textContent !== '');
    assert.match(await page.textContent('#augment-error'), /not monotone/);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('the KL–Fisher widget: the KL rises by the integrated Fisher divergence', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=klfisher');
  try {
    await page.screenshot({ path: `${ARTIFACTS}/explain-klfisher.png`, fullPage: true });
    const gap = Number(await page.getAttribute('#klfisher-verdict', 'data-gap'));
    assert.ok(gap < 1e-6, `gap ${gap}`);
    for (const id of ['chart-klfisher-integral', 'chart-klfisher-slope']) {
      // Two thin curves on a transparent canvas (grid lines are black at low alpha).
      assert.ok((await canvasStats(page, `#${id} canvas`)).differing > 500, `${id} drawn`);
    }
    const before = await canvasStats(page, '#chart-klfisher-slope canvas');
    const n = await frames(page, 'explain-klfisher');
    await page.selectOption('#klfisher-mixture', 'gaussian');
    await waitFrames(page, 'explain-klfisher', n);
    const after = await canvasStats(page, '#chart-klfisher-slope canvas');
    assert.notEqual(after.fingerprint, before.fingerprint);
    assert.ok(Number(await page.getAttribute('#klfisher-verdict', 'data-gap')) < 1e-6);
    assert.match(page.url(), /kmix=gaussian/);
    const again = await openPage(site, new URL(page.url()).search);
    try {
      assert.equal(await again.page.inputValue('#klfisher-mixture'), 'gaussian');
    } finally {
      await again.close();
    }
    await setRange(page, '#klfisher-lmin', 30);
    await page.waitForFunction(() => document.getElementById('klfisher-error').textContent !== '');
    assert.match(await page.textContent('#klfisher-error'), /range/);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('the Fig. 5 widget: each added bit carries one bit, further right', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=lowbit');
  try {
    await page.screenshot({ path: `${ARTIFACTS}/explain-lowbit.png`, fullPage: true });
    const read = () => page.$$eval('#lowbit-table tbody tr', (rows) => rows.map((r) => ({
      info: Number(r.children[1].dataset.value),
      peak: Number(r.children[2].textContent),
    })));
    let rows = await read();
    assert.equal(rows.length, 5);
    for (const r of rows) assert.ok(Math.abs(r.info - 1) < 1e-4, `${r.info} bits`);
    assert.ok(rows.every((r, i) => i === 0 || r.peak > rows[i - 1].peak), 'later bits live at higher λ');
    for (const id of ['chart-lowbit-dl', 'chart-lowbit-bits']) {
      assert.ok((await canvasStats(page, `#${id} canvas`)).differing > 1000, `${id} drawn`);
    }
    const before = await canvasStats(page, '#chart-lowbit-dl canvas');
    const n = await frames(page, 'explain-lowbit');
    await page.selectOption('#lowbit-bits', '8');
    await waitFrames(page, 'explain-lowbit', n);
    rows = await read();
    assert.equal(rows.length, 8);
    assert.notEqual((await canvasStats(page, '#chart-lowbit-dl canvas')).fingerprint, before.fingerprint);
    assert.match(page.url(), /lbits=8/);
    const again = await openPage(site, new URL(page.url()).search);
    try {
      assert.equal(await again.page.inputValue('#lowbit-bits'), '8');
      assert.equal(await again.page.locator('#lowbit-table tbody tr').count(), 8);
    } finally {
      await again.close();
    }
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('the explainer needs no WebGPU: its maths runs in WebAssembly on the CPU', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=area', { withoutWebGPU: true });
  try {
    assert.equal(await page.evaluate(() => 'gpu' in navigator), false);
    const stats = await canvasStats(page, '#area-right');
    assert.ok(stats.differing > stats.pixels / 20);
    assert.ok(Number(await page.getAttribute('#area-verdict', 'data-relative')) < 1e-6);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('an unknown widget name is reported on the page and every widget is shown', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=nope');
  try {
    assert.match(await page.textContent('#status'), /no widget “nope”/);
    assert.equal(await page.isVisible('#explain-area'), true);
    assert.equal(await page.isVisible('#explain-lowbit'), true);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('the whole explainer is readable at 360 px wide', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain', { viewport: { width: 360, height: 740 } });
  try {
    assert.equal(await page.isVisible('#explain-area'), true);
    assert.equal(await page.isVisible('#explain-implied'), true);
    assert.equal(await page.isVisible('#explain-estimator'), true);
    assert.equal(await page.isVisible('#explain-augment'), true);
    assert.equal(await page.isVisible('#explain-klfisher'), true);
    assert.equal(await page.isVisible('#explain-lowbit'), true);
    assert.equal(await page.isVisible('main[data-view="figures"]'), false);
    await page.waitForFunction(() => Number(document.getElementById('explain-area').dataset.frames ?? 0) > 0);
    const left = await canvasStats(page, '#area-left');
    assert.ok(left.differing > left.pixels / 20);
    // Widgets further down start when scrolled to: visit each, as a reader would, so that the
    // width check and the screenshot see every table and chart drawn.
    for (const id of ['explain-implied', 'explain-estimator', 'explain-augment', 'explain-klfisher', 'explain-lowbit']) {
      await page.locator(`#${id}`).scrollIntoViewIfNeeded();
      await page.waitForFunction((s) => Number(document.getElementById(s).dataset.frames ?? 0) > 0, id, { timeout: 60_000 });
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
    assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
    await page.screenshot({ path: `${ARTIFACTS}/explain-360.png`, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('the area widget without a trained model says where to train one and keeps its picture', async () => {
  const { page, errors, close } = await openPage(site, '?view=explain&widget=area');
  try {
    const before = await canvasStats(page, '#area-left');
    await page.selectOption('#area-source', 'trained');
    await page.waitForFunction(() => /No trained model/.test(document.getElementById('area-error').textContent));
    assert.match(await page.textContent('#area-error'), /trainer/);
    assert.equal((await canvasStats(page, '#area-left')).fingerprint, before.fingerprint, 'the last picture stays');
    assert.equal(await page.isDisabled('#area-x'), true, 'the mixture point does not apply to a trained model');
    // A corrupted kept loss is refused with a message too.
    await page.evaluate(() => localStorage.setItem('elbo-lab.trained-loss', '{"lambda_min": 5, "lambda_max": -5}'));
    await page.selectOption('#area-source', 'mixture');
    await page.selectOption('#area-source', 'trained');
    await page.waitForFunction(() => /invalid|λ/.test(document.getElementById('area-error').textContent));
    assert.equal((await canvasStats(page, '#area-left')).fingerprint, before.fingerprint);
    // A well-formed kept loss is drawn on its own λ range, which the disabled range inputs show;
    // back on the mixture, they show the mixture's range again.
    await page.evaluate(() => {
      const bins = Array.from({ length: 40 }, (_, i) => 2 / (1 + Math.exp(-8 + 14 * (i + 0.5) / 40)));
      localStorage.setItem('elbo-lab.trained-loss', JSON.stringify({
        lambda_min: -8, lambda_max: 6, bins, prior: 0.01, dataset: 'moons', weighting: 'elbo', step: 100,
      }));
    });
    await page.selectOption('#area-source', 'mixture');
    const frames = Number(await page.getAttribute('#explain-area', 'data-frames'));
    await page.selectOption('#area-source', 'trained');
    await page.waitForFunction((k) => Number(document.getElementById('explain-area').dataset.frames) > k
      && /trained on moons/.test(document.getElementById('area-source-caption').textContent), frames);
    assert.equal(await page.textContent('#area-error'), '');
    assert.deepEqual([await page.inputValue('#area-lmin'), await page.inputValue('#area-lmax')], ['-8', '6']);
    assert.equal(await page.isDisabled('#area-lmin'), true);
    assert.ok(Number(await page.getAttribute('#area-verdict', 'data-relative')) < 1e-6);
    await page.selectOption('#area-source', 'mixture');
    assert.deepEqual([await page.inputValue('#area-lmin'), await page.inputValue('#area-lmax')], ['-10', '10']);
    assert.doesNotMatch(page.url(), /almin=-8/);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});
