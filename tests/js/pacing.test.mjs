// The trainer page's step pacing (www/js/pacing.js): a pure function of the times it is told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKLOG_MS, FRAME_MS, MAX_STEPS_PER_FRAME, StepPacer } from '../../www/js/pacing.js';

test('a fast host and a fast device reach the most steps a frame and stay there', () => {
  const pacer = new StepPacer();
  for (let frame = 0; frame < 20; frame += 1) {
    pacer.frameDone(FRAME_MS / 2);
    pacer.readbackDone(1);
  }
  assert.equal(pacer.perFrame, MAX_STEPS_PER_FRAME);
});

test('a slow host halves the steps of a frame that ran over its time, never below one', () => {
  const pacer = new StepPacer();
  for (let frame = 0; frame < 6; frame += 1) pacer.frameDone(1);
  assert.equal(pacer.perFrame, 64);
  pacer.frameDone(2 * FRAME_MS);
  assert.equal(pacer.perFrame, 32);
  for (let frame = 0; frame < 10; frame += 1) pacer.frameDone(2 * FRAME_MS);
  assert.equal(pacer.perFrame, 1);
});

// A device that runs `rate` steps per ms; the host queues steps each frame of `frameMs`, and a
// readback every `readbackEvery` frames waits for whatever is still queued.
function simulate(rate, frames, { frameMs = 16, readbackEvery = 15 } = {}) {
  const pacer = new StepPacer();
  let backlog = 0;
  const waits = [];
  for (let frame = 1; frame <= frames; frame += 1) {
    backlog = Math.max(0, backlog + pacer.perFrame - rate * frameMs);
    pacer.frameDone(frameMs);
    if (frame % readbackEvery === 0) {
      const wait = backlog / rate;
      waits.push(wait);
      backlog = 0;
      pacer.readbackDone(wait);
    }
  }
  return { pacer, waits };
}

test('a slow device is queued about what it finishes, so readbacks never wait for seconds', () => {
  // 0.05 steps/ms = 50 steps/s: without the device bound the host would queue 1024 a frame.
  const { pacer, waits } = simulate(0.05, 600);
  const late = waits.slice(waits.length / 2);
  assert.ok(Math.max(...late) < 4 * BACKLOG_MS, `waits ${late.map((w) => w.toFixed(0))}`);
  assert.ok(pacer.perFrame <= 4, `${pacer.perFrame} steps a frame for a device that finishes 0.8`);
  assert.ok(pacer.perFrame >= 1);
});

test('a device of middling speed is kept fed: the pace settles near what it can finish', () => {
  const rate = 5; // steps per ms: 80 a 16 ms frame
  const { pacer, waits } = simulate(rate, 900);
  const late = waits.slice(waits.length / 2);
  assert.ok(Math.max(...late) < 4 * BACKLOG_MS, `waits ${late.map((w) => w.toFixed(0))}`);
  assert.ok(pacer.perFrame >= 40, `${pacer.perFrame} steps a frame, the device finishes 80`);
});

test('a readback with no measured wait changes nothing', () => {
  const pacer = new StepPacer();
  pacer.frameDone(1);
  pacer.readbackDone(Number.NaN);
  pacer.readbackDone(undefined);
  assert.equal(pacer.perFrame, 2);
  assert.equal(pacer.ceiling, MAX_STEPS_PER_FRAME);
});
