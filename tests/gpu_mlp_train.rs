//! The fused training step (`shaders/mlp_train.wgsl`) run natively on the machine's Vulkan device
//! (lavapipe in CI) against its CPU twin (`gpu::mlp_train::reference`), region by region.
#![cfg(not(target_arch = "wasm32"))]

use elbo_lab::engine::optim::StepScalars;
use elbo_lab::gpu::mlp_train::layout::{ArenaLayout, MlpShape, Step};
use elbo_lab::gpu::mlp_train::{reference, FusedMlp, StepBatch};
use elbo_lab::gpu::GpuContext;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

fn context() -> GpuContext {
    pollster::block_on(GpuContext::new()).expect(
        "a Vulkan adapter (lavapipe: apt-get install mesa-vulkan-drivers) is needed for GPU tests",
    )
}

/// Sizes that are not multiples of the 64×64 matmul tile, so every edge path runs.
const SHAPE: MlpShape = MlpShape {
    dim: 2,
    width: 70,
    depth: 2,
    fourier_octaves: 3,
    lambda_frequencies: 5,
    batch: 37,
};

fn normal(rng: &mut StdRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| scale * rng.sample::<f32, _>(StandardNormal))
        .collect()
}

/// The fused step's scalars for step `t` (1-based) after `before` steps, as the trainer makes them.
fn step_scalars(t: u64, before: u64, lr: f64, ema_decay: f64, clip: f64) -> Step {
    StepScalars::new(t, before, lr, ema_decay, clip).fused()
}

/// A training state's values, `[weights | adam_m | adam_v | ema]`: random weights, zero
/// moments, the EMA equal to the weights.
fn initial_state(rng: &mut StdRng, n: usize) -> Vec<f32> {
    let params = normal(rng, n, 0.3);
    [params.clone(), vec![0.0; 2 * n], params].concat()
}

/// z, λ ∈ [−12, 12], target and coefficients of one batch, in the slot layout.
struct Batch {
    z: Vec<f32>,
    lambda: Vec<f32>,
    target: Vec<f32>,
    coef: Vec<f32>,
}

impl Batch {
    fn random(rng: &mut StdRng) -> Self {
        let b = SHAPE.batch;
        Self {
            z: normal(rng, 2 * b, 1.5),
            lambda: (0..b).map(|_| rng.random_range(-12.0..12.0)).collect(),
            target: normal(rng, 2 * b, 1.0),
            coef: (0..b).map(|_| rng.random_range(0.1..3.0)).collect(),
        }
    }

    fn view(&self) -> StepBatch<'_> {
        StepBatch {
            z: &self.z,
            lambda: &self.lambda,
            target: &self.target,
            coef: &self.coef,
        }
    }

    fn slot(&self) -> Vec<f64> {
        [&self.z, &self.lambda, &self.target, &self.coef]
            .into_iter()
            .flatten()
            .map(|v| f64::from(*v))
            .collect()
    }
}

fn twin_arena(layout: &ArenaLayout, state: &[f32]) -> Vec<f64> {
    let mut arena = vec![0.0; layout.len];
    // The arena keeps the four copies contiguous, in the state's order.
    assert_eq!(
        [layout.adam_m, layout.adam_v, layout.ema],
        [1, 2, 3].map(|k| layout.params + k * layout.n_params)
    );
    for (i, v) in state.iter().enumerate() {
        arena[layout.params + i] = f64::from(*v);
    }
    let freqs = elbo_lab::gpu::mlp_train::layout::lambda_frequencies(SHAPE.lambda_frequencies);
    for (i, f) in freqs.iter().enumerate() {
        arena[layout.constants + i] = f64::from(*f);
    }
    arena
}

/// Largest |gpu − twin| over a region, relative to the region's largest |twin| value.
fn relative_error(gpu: &[f32], twin: &[f64], at: usize, n: usize) -> f64 {
    let scale = twin[at..at + n]
        .iter()
        .fold(1e-30, |m, v| f64::max(m, v.abs()));
    (at..at + n)
        .map(|i| (f64::from(gpu[i]) - twin[i]).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn one_fused_step_matches_the_cpu_twin_pass_by_pass() {
    let ctx = context();
    let mut mlp = pollster::block_on(FusedMlp::new(&ctx, SHAPE)).unwrap();
    let layout = mlp.layout().clone();
    let mut rng = StdRng::seed_from_u64(11);
    let state = initial_state(&mut rng, layout.n_params);
    let batch = Batch::random(&mut rng);
    let step = step_scalars(1, 0, 1e-3, 0.999, 1.0);
    mlp.upload_state(&state).unwrap();
    mlp.push_step(&batch.view(), step).unwrap();
    let gpu = pollster::block_on(mlp.read_arena()).unwrap();
    let errors_gpu = pollster::block_on(mlp.read_errors()).unwrap();

    let mut twin = twin_arena(&layout, &state);
    let mut errors = vec![0.0; SHAPE.batch];
    let passes = mlp.passes().to_vec();
    let (adam, forward_backward) = passes.split_last().unwrap();
    for pass in forward_backward {
        reference::run_pass(pass, &step, &mut twin, &batch.slot(), &mut errors);
    }
    // Forward and backward in f32 against f64: the features, activations, prediction and
    // gradients agree to 1e-4 of each region's scale (K ≤ 70-long dot products, 37-long sums).
    let b = SHAPE.batch;
    let regions = [
        ("features", layout.features, b * SHAPE.features()),
        ("pre-activation 1", layout.pre[0], b * SHAPE.width),
        ("activation 2", layout.post[1], b * SHAPE.width),
        ("prediction", layout.output, b * SHAPE.dim),
        ("gradients", layout.grads, layout.n_params),
    ];
    for (name, at, n) in regions {
        let err = relative_error(&gpu, &twin, at, n);
        assert!(err < 1e-4, "{name}: relative error {err:e}");
    }
    for (i, (g, t)) in errors_gpu.iter().zip(&errors).enumerate() {
        assert!(
            (f64::from(*g) - t).abs() <= 1e-4 * t.max(1.0),
            "example {i}: {g} vs {t}"
        );
    }
    let bias_grads = layout.grads + layout.bias[0];
    let err = relative_error(&gpu, &twin, bias_grads, SHAPE.width);
    assert!(err < 1e-4, "first bias gradient: relative error {err:e}");
    let norm_gpu = f64::from(gpu[layout.partial + 256]);
    let norm_twin = twin[layout.partial + 256];
    assert!(
        (norm_gpu / norm_twin - 1.0).abs() < 1e-4,
        "Σg² {norm_gpu} vs {norm_twin}"
    );

    // Adam + EMA from the GPU's own gradient, so a gradient that is 0 up to rounding cannot
    // flip the sign of its (normalised) first step.
    for i in 0..layout.n_params {
        twin[layout.grads + i] = f64::from(gpu[layout.grads + i]);
    }
    twin[layout.partial + 256] = norm_gpu;
    reference::run_pass(adam, &step, &mut twin, &batch.slot(), &mut errors);
    for (name, at) in [
        ("weights", layout.params),
        ("Adam m", layout.adam_m),
        ("Adam v", layout.adam_v),
        ("EMA", layout.ema),
    ] {
        let err = relative_error(&gpu, &twin, at, layout.n_params);
        assert!(err < 1e-5, "{name}: relative error {err:e}");
    }
}

#[test]
fn chunks_of_steps_keep_each_steps_batch_and_errors_apart() {
    let ctx = context();
    let mut mlp = pollster::block_on(FusedMlp::new(&ctx, SHAPE)).unwrap();
    let layout = mlp.layout().clone();
    let mut rng = StdRng::seed_from_u64(5);
    let state = initial_state(&mut rng, layout.n_params);
    mlp.upload_state(&state).unwrap();
    let mut twin = twin_arena(&layout, &state);
    let passes = mlp.passes().to_vec();
    let mut twin_errors = Vec::new();
    // 40 steps: one full chunk of 32 and a partial one, read back in two pieces.
    let mut gpu_errors = Vec::new();
    for s in 0..40u64 {
        let batch = Batch::random(&mut rng);
        let step = step_scalars(s + 1, s, 1e-3, 0.9, 1.0);
        mlp.push_step(&batch.view(), step).unwrap();
        let mut errors = vec![0.0; SHAPE.batch];
        for pass in &passes {
            reference::run_pass(
                pass,
                &Step { slot: 0, ..step },
                &mut twin,
                &batch.slot(),
                &mut errors,
            );
        }
        twin_errors.extend(errors);
        if s == 20 {
            gpu_errors.extend(pollster::block_on(mlp.read_errors()).unwrap());
        }
    }
    gpu_errors.extend(pollster::block_on(mlp.read_errors()).unwrap());
    assert_eq!(gpu_errors.len(), twin_errors.len());
    // Forty Adam steps of f32 against f64 drift apart a little; the errors of every step still
    // agree to 1e-3 relative (a batch or slot mix-up would be off by O(1)).
    for (i, (g, t)) in gpu_errors.iter().zip(&twin_errors).enumerate() {
        assert!(
            (f64::from(*g) - t).abs() <= 1e-3 * t.max(1.0),
            "value {i} (step {}): {g} vs {t}",
            i / SHAPE.batch
        );
    }
    let state_gpu = pollster::block_on(mlp.read_state()).unwrap();
    let worst = state_gpu[3 * layout.n_params..]
        .iter()
        .enumerate()
        .map(|(i, v)| (f64::from(*v) - twin[layout.ema + i]).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-3, "EMA after 40 steps differs by {worst:e}");
}

#[test]
fn a_snapshot_restores_the_state_and_drops_the_steps_after_it() {
    let ctx = context();
    let mut mlp = pollster::block_on(FusedMlp::new(&ctx, SHAPE)).unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let state = initial_state(&mut rng, mlp.layout().n_params);
    mlp.upload_state(&state).unwrap();
    for s in 0..3u64 {
        let batch = Batch::random(&mut rng);
        mlp.push_step(&batch.view(), step_scalars(s + 1, s, 1e-2, 0.9, 1.0))
            .unwrap();
    }
    let moved = pollster::block_on(mlp.read_state()).unwrap();
    let n = mlp.layout().n_params;
    assert_ne!(moved[..n], state[..n], "three steps must move the weights");
    mlp.restore_snapshot();
    assert!(pollster::block_on(mlp.read_errors()).unwrap().is_empty());
    assert_eq!(pollster::block_on(mlp.read_state()).unwrap(), state);
    assert!(mlp.upload_state(&state[3..]).is_err());
}

mod trainer {
    //! The fused step behind the engine's `Trainer`, against burn's own step.
    use super::context;
    use elbo_lab::api::WeightingSpec;
    use elbo_lab::engine::config::{MlpConfig, ModelConfig};
    use elbo_lab::engine::device::{native_device, NativeBackend};
    use elbo_lab::engine::sample::{SamplerConfig, SamplerKind};
    use elbo_lab::engine::{tensor_sampler, EngineError, TrainConfig, Trainer};

    fn config(target: &str) -> TrainConfig {
        TrainConfig {
            dataset: "moons".into(),
            target: target.into(),
            batch: 96,
            lr: 3e-3,
            model: ModelConfig::Mlp(MlpConfig {
                depth: 2,
                width: 48,
                ..MlpConfig::default()
            }),
            n_train: 2048,
            n_test: 256,
            ..TrainConfig::default()
        }
    }

    fn fused(config: TrainConfig) -> Trainer {
        let cpu = native_device(NativeBackend::Cpu).unwrap();
        let mut trainer = Trainer::new(config, &cpu).unwrap();
        pollster::block_on(trainer.use_fused(&context())).unwrap();
        assert!(trainer.fused_adapter().is_some());
        trainer
    }

    #[test]
    fn the_fused_trainer_takes_the_same_steps_as_burn() {
        // Same seed, so the same batches, λ's and noise: the two differ only in f32 rounding
        // (GPU against NdArray) and in how Adam's first, sign-like steps amplify it.
        for target in ["eps", "v"] {
            let cpu = native_device(NativeBackend::Cpu).unwrap();
            let mut burn = Trainer::new(config(target), &cpu).unwrap();
            let mut fast = fused(config(target));
            burn.train_blocking(60, 7).unwrap();
            fast.train_blocking(60, 7).unwrap();
            assert_eq!(fast.step_count(), 60);
            assert_eq!(fast.history.len(), burn.history.len());
            for (a, b) in fast.history.iter().zip(&burn.history) {
                assert_eq!(a.step, b.step);
                assert!(
                    (a.loss - b.loss).abs() <= 2e-3 * b.loss.abs().max(1.0),
                    "{target} step {}: fused {} vs burn {}",
                    a.step,
                    a.loss,
                    b.loss
                );
            }
            // After sync_host (train_blocking ends with it) the EMA models sample alike.
            let sampler = SamplerConfig::with_steps(SamplerKind::Ddim, 16);
            let a = pollster::block_on(tensor_sampler::generate(&fast, &sampler, 64, 3)).unwrap();
            let b = pollster::block_on(tensor_sampler::generate(&burn, &sampler, 64, 3)).unwrap();
            let worst = a
                .iter()
                .flatten()
                .zip(b.iter().flatten())
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(worst < 2e-2, "{target}: samples differ by {worst}");
        }
    }

    #[test]
    fn a_checkpoint_of_a_fused_run_loads_on_burn_and_back() {
        let mut fast = fused(config("eps"));
        fast.train_blocking(25, 25).unwrap();
        let bytes = pollster::block_on(elbo_lab::engine::checkpoint::save(&mut fast)).unwrap();
        let cpu = native_device(NativeBackend::Cpu).unwrap();
        let mut restored = elbo_lab::engine::checkpoint::load(&bytes, &cpu).unwrap();
        assert_eq!(restored.step_count(), 25);
        pollster::block_on(restored.use_fused(&context())).unwrap();
        // Weights, EMA and Adam state went up to the GPU and come back bit for bit.
        let again = pollster::block_on(elbo_lab::engine::checkpoint::save(&mut restored)).unwrap();
        assert_eq!(again, bytes);
        // …and training goes on from there.
        restored.train_blocking(5, 5).unwrap();
        let last = restored.history.last().unwrap();
        assert!(last.step == 30 && last.loss.is_finite(), "{last:?}");
    }

    #[test]
    fn a_fused_run_that_diverges_returns_to_its_last_good_weights() {
        let mut config = config("x");
        config.weighting = WeightingSpec {
            name: "expr".into(),
            params: Default::default(),
            expression: Some("exp(80)".into()),
        };
        let mut fast = fused(config);
        match fast.train_blocking(20, 5).unwrap_err() {
            EngineError::Diverged { restored, .. } => assert_eq!(restored, fast.step_count()),
            other => panic!("expected divergence, got {other}"),
        }
        pollster::block_on(fast.sync_host()).unwrap();
        let sampler = SamplerConfig::with_steps(SamplerKind::Ddim, 8);
        let points = pollster::block_on(tensor_sampler::generate(&fast, &sampler, 16, 1)).unwrap();
        assert!(points.iter().flatten().all(|v| v.is_finite()));
    }
}

#[test]
fn a_network_too_large_for_the_device_is_refused_with_its_size() {
    let ctx = context();
    let huge = MlpShape {
        width: 4096,
        depth: 16,
        batch: 1024,
        ..SHAPE
    };
    match pollster::block_on(FusedMlp::new(&ctx, huge)) {
        Err(elbo_lab::gpu::GpuError::TooLarge {
            needed_mib,
            allowed_mib,
        }) => assert!(needed_mib > allowed_mib, "{needed_mib} vs {allowed_mib}"),
        Err(other) => panic!("expected TooLarge, got {other}"),
        Ok(_) => panic!("a 4 GiB arena was accepted"),
    }
}
