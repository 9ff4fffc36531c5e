// Times the trainer page in headless Chromium on WebGPU: the VDM 2D colab preset for N steps on
// one engine (fused WGSL kernels, the page's default, or burn).
// Usage: node scripts/bench-browser.mjs [STEPS] [fused|burn]   (after `trunk build --release`)
import os from 'node:os';
import { startSite, openPage } from '../tests/e2e/harness.mjs';

const steps = Number(process.argv[2] ?? 20);
const engine = process.argv[3] ?? 'fused';
const site = await startSite();
try {
  const { page, close } = await openPage(site, `?view=trainer&preset=vdm-colab&t_steps=${steps}&t_engine=${engine}`);
  // GPUAdapterInfo's fields are getters on its prototype: read them one by one.
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    const info = a?.info ?? {};
    return a ? {
      vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
      isFallbackAdapter: info.isFallbackAdapter ?? a.isFallbackAdapter,
    } : null;
  });
  await page.click('#train-start');
  await page.waitForFunction(() => /^Done|^Paused/.test(document.querySelector('#train-status').textContent)
    || document.querySelector('#train-status').dataset.kind === 'error', null, { timeout: 0 });
  const result = await page.$eval('#train-status', (s) => ({
    status: s.textContent,
    engine: document.querySelector('#train-engine').textContent,
    first_step_s: Number(s.dataset.firstStepS),
    steps_per_s: Number(s.dataset.stepsPerS),
  }));
  await close();
  console.log(JSON.stringify({
    preset: 'vdm-colab',
    backend: 'browser WebGPU (headless Chromium)',
    adapter: adapter ? { vendor: adapter.vendor, architecture: adapter.architecture, device: adapter.device, description: adapter.description, fallback: adapter.isFallbackAdapter } : null,
    steps,
    ...result,
    projected_20k_s: 20000 / result.steps_per_s,
    machine: `${os.cpus()[0]?.model}, ${os.cpus().length} cores, ${os.platform()}`,
  }, null, 2));
} finally {
  await site.close();
}
