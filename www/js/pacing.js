// How many training steps the trainer page queues per animation frame. Two things bound it:
// - the host: queuing steps (drawing batches, encoding GPU work) must leave the frame to the
//   browser, so the count doubles while a frame's work stays under FRAME_MS and halves above;
// - the device: queued GPU work is only waited for at each readback, so a count the GPU cannot
//   keep up with shows as a long wait there. The ceiling scales down so the backlog found at a
//   readback stays near BACKLOG_MS (the GPU stays fed, the page and its compositor stay fluid),
//   and grows back while readbacks come quickly.
// A fast GPU thus gets up to MAX_STEPS_PER_FRAME steps a frame, a slow one as few as it finishes.
export const FRAME_MS = 30;
export const BACKLOG_MS = 100;
export const MAX_STEPS_PER_FRAME = 1024;

export class StepPacer {
  constructor({ frameMs = FRAME_MS, backlogMs = BACKLOG_MS, max = MAX_STEPS_PER_FRAME } = {}) {
    this.frameMs = frameMs;
    this.backlogMs = backlogMs;
    this.max = max;
    this.ceiling = max;
    this.perFrame = 1;
  }

  // After a frame that queued `perFrame` steps and took `ms` (its work and the wait for it).
  frameDone(ms) {
    const wanted = ms < this.frameMs ? this.perFrame * 2 : this.perFrame >> 1;
    this.perFrame = Math.max(1, Math.min(wanted, this.ceiling));
  }

  // After a readback that waited `ms` for the queued steps to finish on the device.
  readbackDone(ms) {
    if (!(ms >= 0)) return;
    this.ceiling = ms > this.backlogMs
      ? Math.max(1, Math.floor(this.perFrame * (this.backlogMs / ms)))
      : Math.min(this.max, this.ceiling * 2);
    this.perFrame = Math.min(this.perFrame, this.ceiling);
  }
}
