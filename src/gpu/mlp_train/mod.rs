//! The denoiser's training step fused into WGSL (shaders/mlp_train.wgsl): features, forward,
//! loss gradient, backward, gradient clipping, Adam and the EMA, for a chunk of steps per
//! submission, with nothing read back until the caller asks (at display rate).
//!
//! Why: burn launches ~100 kernels per step of this MLP and spends a minute compiling and tuning
//! them; here one step is 13 dispatches (2 × 512) of 6 pipelines compiled once, and the host uploads
//! each step's batch (prepared by the theory core, as for burn) and reads the per-example errors.
//! The CPU twin of every pass is in `reference.rs`; `layout.rs` is the plan both execute.

pub mod layout;
pub mod reference;

use layout::{ArenaLayout, Kernel, MlpShape, Pass, Step};

use super::kernel::{self, Binding, Compiled, ValidationScope};
use super::{GpuContext, GpuError};

/// Steps encoded into one submission at most (fewer for large batches, see `chunk_for`).
const MAX_CHUNK: usize = 32;
/// Batch floats uploaded per submission at most (16 MiB).
const MAX_CHUNK_FLOATS: usize = 4 << 20;
/// Dynamic uniform offsets must be multiples of this (WebGPU's largest allowed alignment).
const UNIFORM_STRIDE: u64 = 256;

/// One step's batch as the host prepared it (engine/objective.rs), all f32.
pub struct StepBatch<'a> {
    pub z: &'a [f32],
    pub lambda: &'a [f32],
    pub target: &'a [f32],
    pub coef: &'a [f32],
}

pub struct FusedMlp {
    ctx: GpuContext,
    shape: MlpShape,
    layout: ArenaLayout,
    passes: Vec<Pass>,
    /// The pipeline of each of `passes`, looked up once here rather than per dispatch.
    pass_pipelines: Vec<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    arena: wgpu::Buffer,
    snapshot: wgpu::Buffer,
    batch: wgpu::Buffer,
    errors: wgpu::Buffer,
    steps: wgpu::Buffer,
    chunk: usize,
    queued_batch: Vec<f32>,
    queued_steps: Vec<Step>,
    /// Staging buffers holding the errors of submitted steps, oldest first, with their step count.
    submitted: Vec<(wgpu::Buffer, usize)>,
    spare: Vec<wgpu::Buffer>,
}

fn chunk_for(shape: &MlpShape) -> usize {
    (MAX_CHUNK_FLOATS / shape.slot_len().max(1)).clamp(1, MAX_CHUNK)
}

/// The pipeline each pass runs, given one per kernel in `Kernel::ALL`'s order.
fn pipelines_of(
    passes: &[Pass],
    pipelines: &[wgpu::ComputePipeline; Kernel::ALL.len()],
) -> Result<Vec<wgpu::ComputePipeline>, GpuError> {
    passes
        .iter()
        .map(|pass| {
            Kernel::ALL
                .iter()
                .zip(pipelines)
                .find(|(kernel, _)| **kernel == pass.kernel)
                .map(|(_, pipeline)| pipeline.clone())
                .ok_or_else(|| {
                    GpuError::Validation(format!("no pipeline compiled for {:?}", pass.kernel))
                })
        })
        .collect()
}

impl FusedMlp {
    /// Compiles the pipelines and allocates the arena for `shape`. Refuses a network whose arena
    /// exceeds the device's storage-buffer limit (the caller then trains with burn instead).
    pub async fn new(ctx: &GpuContext, shape: MlpShape) -> Result<Self, GpuError> {
        ctx.check_alive()?;
        if shape.dim == 0 || shape.width == 0 || shape.depth == 0 || shape.batch == 0 {
            return Err(GpuError::InvalidInput(format!("empty network {shape:?}")));
        }
        let layout = ArenaLayout::new(&shape);
        let chunk = chunk_for(&shape);
        let limits = ctx.device.limits();
        // The shaders address the arena in u32 words, which caps it below 16 GiB on any device.
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(4 * (u64::from(u32::MAX) - 1));
        let arena_bytes = 4 * layout.len as u64;
        let batch_bytes = 4 * (chunk * shape.slot_len()) as u64;
        if arena_bytes > max_binding || batch_bytes > max_binding {
            return Err(GpuError::TooLarge {
                needed_mib: arena_bytes.max(batch_bytes) >> 20,
                allowed_mib: max_binding >> 20,
            });
        }
        let Compiled {
            layout: bind_layout,
            pipelines,
        } = kernel::compile(
            ctx,
            "mlp_train",
            wgpu::include_wgsl!("../../../shaders/mlp_train.wgsl"),
            &[
                Binding::UniformDynamic,
                Binding::UniformDynamic,
                Binding::StorageReadWrite,
                Binding::StorageReadOnly,
                Binding::StorageReadWrite,
            ],
            Kernel::ALL.map(Kernel::entry_point),
        )
        .await?;
        let passes = layout::step_passes(&shape, &layout);
        let pass_pipelines = pipelines_of(&passes, &pipelines)?;
        let scope = ValidationScope::push(ctx);
        let buffer = |label, bytes, usage| kernel::buffer(ctx, label, bytes, usage);
        use wgpu::BufferUsages as U;
        let arena = buffer(
            "mlp_train arena",
            arena_bytes,
            U::STORAGE | U::COPY_SRC | U::COPY_DST,
        );
        let snapshot = buffer(
            "mlp_train snapshot",
            4 * layout.state_len() as u64,
            U::COPY_SRC | U::COPY_DST,
        );
        let batch = buffer("mlp_train batch", batch_bytes, U::STORAGE | U::COPY_DST);
        let errors = buffer(
            "mlp_train errors",
            4 * (chunk * shape.batch) as u64,
            U::STORAGE | U::COPY_SRC,
        );
        let ops = buffer(
            "mlp_train ops",
            UNIFORM_STRIDE * passes.len() as u64,
            U::UNIFORM | U::COPY_DST,
        );
        let steps = buffer(
            "mlp_train steps",
            UNIFORM_STRIDE * chunk as u64,
            U::UNIFORM | U::COPY_DST,
        );
        for (i, pass) in passes.iter().enumerate() {
            ctx.queue.write_buffer(
                &ops,
                i as u64 * UNIFORM_STRIDE,
                bytemuck::bytes_of(&pass.op),
            );
        }
        let frequencies = layout::lambda_frequencies(shape.lambda_frequencies);
        ctx.queue.write_buffer(
            &arena,
            4 * layout.constants as u64,
            bytemuck::cast_slice(&frequencies),
        );
        let bind_group = kernel::bind_group(
            ctx,
            "mlp_train",
            &bind_layout,
            &[
                kernel::uniform_window(&ops, std::mem::size_of::<layout::Op>()),
                kernel::uniform_window(&steps, std::mem::size_of::<Step>()),
                arena.as_entire_binding(),
                batch.as_entire_binding(),
                errors.as_entire_binding(),
            ],
        );
        scope.pop().await?;
        Ok(Self {
            ctx: ctx.clone(),
            shape,
            layout,
            passes,
            pass_pipelines,
            bind_group,
            arena,
            snapshot,
            batch,
            errors,
            steps,
            chunk,
            queued_batch: Vec::new(),
            queued_steps: Vec::new(),
            submitted: Vec::new(),
            spare: Vec::new(),
        })
    }

    pub fn shape(&self) -> &MlpShape {
        &self.shape
    }

    pub fn adapter_name(&self) -> &str {
        &self.ctx.adapter_name
    }

    /// Replaces weights, moments and EMA (e.g. the freshly initialised burn model's, or a
    /// checkpoint's), and makes them the snapshot that `restore_snapshot` returns to. `state` is
    /// `[weights | adam_m | adam_v | ema]`, each in burn's parameter order: the training state's
    /// layout (engine/state.rs), which the arena keeps contiguous from `layout.params`.
    pub fn upload_state(&mut self, state: &[f32]) -> Result<(), GpuError> {
        if state.len() != self.layout.state_len() {
            return Err(GpuError::InvalidInput(format!(
                "{} state values for a network of {} parameters (4 copies expected)",
                state.len(),
                self.layout.n_params
            )));
        }
        self.discard_pending();
        self.ctx.queue.write_buffer(
            &self.arena,
            4 * self.layout.params as u64,
            bytemuck::cast_slice(state),
        );
        self.save_snapshot();
        self.ctx.check_alive()
    }

    /// Queues one step; a full chunk is submitted at once (no readback).
    pub fn push_step(&mut self, batch: &StepBatch, step: Step) -> Result<(), GpuError> {
        let (b, d) = (self.shape.batch, self.shape.dim);
        if batch.z.len() != b * d
            || batch.target.len() != b * d
            || batch.lambda.len() != b
            || batch.coef.len() != b
        {
            return Err(GpuError::InvalidInput(format!(
                "a step needs {b} examples of dimension {d}"
            )));
        }
        self.queued_batch.extend_from_slice(batch.z);
        self.queued_batch.extend_from_slice(batch.lambda);
        self.queued_batch.extend_from_slice(batch.target);
        self.queued_batch.extend_from_slice(batch.coef);
        let slot = self.queued_steps.len() as u32;
        self.queued_steps.push(Step { slot, ..step });
        if self.queued_steps.len() == self.chunk {
            self.submit()?;
        }
        Ok(())
    }

    /// Encodes and submits the queued steps: one compute pass, every pass of every step, then a
    /// copy of their errors into a staging buffer for a later `read_errors`.
    pub fn submit(&mut self) -> Result<(), GpuError> {
        self.ctx.check_alive()?;
        let n = self.queued_steps.len();
        if n == 0 {
            return Ok(());
        }
        let queue = &self.ctx.queue;
        queue.write_buffer(&self.batch, 0, bytemuck::cast_slice(&self.queued_batch));
        for (s, step) in self.queued_steps.iter().enumerate() {
            queue.write_buffer(
                &self.steps,
                s as u64 * UNIFORM_STRIDE,
                bytemuck::bytes_of(step),
            );
        }
        let error_bytes = 4 * (self.chunk * self.shape.batch) as u64;
        let staging = self.spare.pop().unwrap_or_else(|| {
            kernel::readback_buffer(&self.ctx, "mlp_train errors readback", error_bytes)
        });
        let mut encoder = kernel::encoder(&self.ctx, "mlp_train steps");
        {
            let mut pass = kernel::compute_pass(&mut encoder, "mlp_train");
            for s in 0..n {
                let planned = self.passes.iter().zip(&self.pass_pipelines);
                for (i, (planned, pipeline)) in planned.enumerate() {
                    pass.set_pipeline(pipeline);
                    pass.set_bind_group(
                        0,
                        &self.bind_group,
                        &[
                            (i as u64 * UNIFORM_STRIDE) as u32,
                            (s as u64 * UNIFORM_STRIDE) as u32,
                        ],
                    );
                    let [x, y, z] = planned.groups;
                    pass.dispatch_workgroups(x, y, z);
                }
            }
        }
        let used = 4 * (n * self.shape.batch) as u64;
        encoder.copy_buffer_to_buffer(&self.errors, 0, &staging, 0, used);
        queue.submit([encoder.finish()]);
        self.submitted.push((staging, n));
        self.queued_batch.clear();
        self.queued_steps.clear();
        Ok(())
    }

    /// ‖y − ŷ‖² of every example of every step pushed since the last call, step after step
    /// (one await per submitted chunk; nothing else waits on the GPU).
    pub async fn read_errors(&mut self) -> Result<Vec<f32>, GpuError> {
        self.submit()?;
        let submitted = std::mem::take(&mut self.submitted);
        let mut out = Vec::new();
        for (staging, n) in submitted {
            let values = kernel::read_f32(&self.ctx, &staging).await?;
            out.extend_from_slice(&values[..n * self.shape.batch]);
            self.spare.push(staging);
        }
        Ok(out)
    }

    /// Weights, moments and EMA as they are after every submitted step, in `upload_state`'s layout.
    pub async fn read_state(&mut self) -> Result<Vec<f32>, GpuError> {
        self.submit()?;
        let bytes = 4 * self.layout.state_len() as u64;
        let at = 4 * self.layout.params as u64;
        kernel::read_region(&self.ctx, "mlp_train state", &self.arena, at, bytes).await
    }

    /// Keeps the current state on the GPU as the one to return to after a divergence.
    pub fn save_snapshot(&self) {
        let bytes = 4 * self.layout.state_len() as u64;
        self.copy(
            &self.arena,
            4 * self.layout.params as u64,
            &self.snapshot,
            0,
            bytes,
        );
    }

    /// Returns to the last snapshot, dropping every step pushed since.
    pub fn restore_snapshot(&mut self) {
        self.discard_pending();
        let bytes = 4 * self.layout.state_len() as u64;
        self.copy(
            &self.snapshot,
            0,
            &self.arena,
            4 * self.layout.params as u64,
            bytes,
        );
    }

    fn discard_pending(&mut self) {
        self.queued_batch.clear();
        self.queued_steps.clear();
        let submitted = std::mem::take(&mut self.submitted);
        self.spare.extend(submitted.into_iter().map(|(b, _)| b));
    }

    fn copy(&self, from: &wgpu::Buffer, at: u64, to: &wgpu::Buffer, to_at: u64, bytes: u64) {
        let mut encoder = kernel::encoder(&self.ctx, "mlp_train copy");
        encoder.copy_buffer_to_buffer(from, at, to, to_at, bytes);
        self.ctx.queue.submit([encoder.finish()]);
    }

    /// The whole arena (tests compare it with the CPU twin region by region).
    #[doc(hidden)]
    pub async fn read_arena(&mut self) -> Result<Vec<f32>, GpuError> {
        self.submit()?;
        let bytes = 4 * self.layout.len as u64;
        kernel::read_region(&self.ctx, "mlp_train arena", &self.arena, 0, bytes).await
    }

    pub fn layout(&self) -> &ArenaLayout {
        &self.layout
    }

    pub fn passes(&self) -> &[Pass] {
        &self.passes
    }
}
