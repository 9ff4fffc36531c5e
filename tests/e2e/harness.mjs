// Shared set-up for the end-to-end tests: serve the release build on loopback, drive the system
// Chromium with WebGPU enabled, collect console errors, save screenshots as artifacts.
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

export const ARTIFACTS = 'test-results';

const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function startSite() {
  await mkdir(ARTIFACTS, { recursive: true });
  const server = await startServer('dist', 0);
  const base = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  return {
    base,
    browser,
    async close() {
      await browser.close();
      await new Promise((done) => server.close(done));
    },
  };
}

// Opens the page and waits until every section has rendered once. `withoutWebGPU` removes
// navigator.gpu before any page script runs, as in a browser that lacks WebGPU.
export async function openPage(site, query = '', { withoutWebGPU = false, viewport } = {}) {
  const context = await site.browser.newContext({ viewport: viewport ?? { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`HTTP ${response.status()} for ${response.url()}`);
  });
  if (withoutWebGPU) {
    await page.addInitScript(() => {
      delete Navigator.prototype.gpu;
    });
  }
  await page.goto(`${site.base}${query}`);
  // The first WebGPU frame compiles its shader on a CPU rasteriser: allow time.
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  return { page, errors, close: () => context.close() };
}

// Pixels of a canvas as a summary: how many differ from the first pixel (the background), and a
// cheap fingerprint for "did the picture change".
export async function canvasStats(page, selector) {
  return page.$eval(selector, (canvas) => {
    const { width, height } = canvas;
    const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    let differing = 0;
    let fingerprint = 0;
    const distinct = new Set();
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2]) differing += 1;
      fingerprint = (fingerprint * 31 + data[i] + 7 * data[i + 1] + 13 * data[i + 2]) % 1_000_000_007;
      if (distinct.size < 4096) distinct.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    }
    return { pixels: width * height, differing, fingerprint, distinct: distinct.size };
  });
}

export async function setRange(page, selector, value) {
  await page.$eval(selector, (input, v) => {
    input.value = String(v);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}
