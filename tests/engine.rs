//! The training engine on burn's CPU backend (NdArray): objectives train, the ELBO estimator
//! agrees with the theory core, checkpoints round-trip, divergence restores the last good weights.
#![cfg(not(target_arch = "wasm32"))]

use burn::prelude::Device;
use elbo_lab::api::{ScheduleSpec, WeightingSpec};
use elbo_lab::engine::checkpoint::{self, CheckpointError};
use elbo_lab::engine::config::{MlpConfig, ModelConfig, TrainConfig};
use elbo_lab::engine::device::{native_device, NativeBackend};
use elbo_lab::engine::elbo::{Decoder, ElboRows};
use elbo_lab::engine::metrics::energy_distance;
use elbo_lab::engine::sample::{SamplerConfig, SamplerKind};
use elbo_lab::engine::{tensor_sampler, EngineError, Trainer};
use elbo_lab::theory::weighting::WEIGHTING_NAMES;
use elbo_lab::theory::Gmm;

fn cpu() -> Device {
    native_device(NativeBackend::Cpu).unwrap()
}

fn weighting(name: &str, params: &[(&str, f64)]) -> WeightingSpec {
    WeightingSpec {
        name: name.into(),
        params: params.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        expression: None,
    }
}

/// A small, quick configuration on 8 Gaussians.
fn small(weighting_name: &str, target: &str) -> TrainConfig {
    TrainConfig {
        dataset: "8-gaussians".into(),
        weighting: weighting(weighting_name, &[]),
        target: target.into(),
        steps: 1500,
        batch: 128,
        lr: 3e-3,
        model: ModelConfig::Mlp(MlpConfig {
            depth: 2,
            width: 64,
            ..MlpConfig::default()
        }),
        n_train: 4096,
        n_test: 512,
        ..TrainConfig::default()
    }
}

/// The "learned nothing useful" bar: a Gaussian with the data's mean and covariance (N(0, I) in
/// standardised space), which any model that learned the shape of the data must beat.
fn gaussian_fit_quality(trainer: &Trainer) -> f64 {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let gaussian: Vec<[f64; 2]> = (0..512)
        .map(|_| {
            trainer.standardizer().inverse([
                StandardNormal.sample(&mut rng),
                StandardNormal.sample(&mut rng),
            ])
        })
        .collect();
    energy_distance(&gaussian, &trainer.test_points()).unwrap()
}

fn quality(trainer: &Trainer) -> f64 {
    let sampler = SamplerConfig::with_steps(SamplerKind::Ddim, 256);
    let samples = pollster::block_on(tensor_sampler::generate(trainer, &sampler, 512, 3)).unwrap();
    let held_out = trainer.test_points();
    energy_distance(&samples, &held_out).unwrap()
}

#[test]
fn the_loss_falls_and_samples_approach_the_data() {
    let mut trainer = Trainer::new(small("elbo", "eps"), &cpu()).unwrap();
    let untrained = gaussian_fit_quality(&trainer);
    trainer.train_blocking(1500, 50).unwrap();
    let first: f64 = trainer.history[..50].iter().map(|p| p.loss).sum::<f64>() / 50.0;
    let last: f64 = trainer.history[1450..].iter().map(|p| p.loss).sum::<f64>() / 50.0;
    assert!(last < 0.7 * first, "loss {first} → {last}");
    let trained = quality(&trainer);
    eprintln!("energy distance: Gaussian fit {untrained:.4}, trained {trained:.4}");
    assert!(
        trained < 0.25 * untrained,
        "energy distance: Gaussian fit {untrained}, trained {trained}"
    );
}

/// The one pairing left out: InDI's weight falls like e^{−3λ/2} for λ > 0 (App. D.4), so an
/// ε-predicting network is never trained at the high log-SNRs where the last sampling steps
/// happen. (Its native x-prediction is covered.) Measured: energy distance ≈ 0.10–0.14 after
/// 1000–3000 steps, worse than the Gaussian fit.
const MISMATCHED: [(&str, &str); 1] = [("indi", "eps")];

/// Steps each pairing gets. The ELBO with x-prediction regresses x with the factor e^λ of
/// Eq. 122, five orders of magnitude across λ ∈ [−12, 12]: it learns, but slowly (measured:
/// 0.048 after 2000 steps, 0.026 after 5000).
fn budget(weighting: &str, target: &str) -> u64 {
    if (weighting, target) == ("elbo", "x") {
        5000
    } else {
        2000
    }
}

#[test]
fn every_weighting_and_target_trains_on_8_gaussians() {
    let untrained = gaussian_fit_quality(&Trainer::new(small("elbo", "eps"), &cpu()).unwrap());
    // Every registered weighting except `expr`, which has no formula of its own.
    let weightings: Vec<&str> = WEIGHTING_NAMES
        .iter()
        .copied()
        .filter(|n| *n != "expr")
        .collect();
    let pairs: Vec<(&str, &str)> = ["eps", "x", "v", "f"]
        .iter()
        .flat_map(|t| weightings.iter().map(move |w| (*w, *t)))
        .filter(|pair| !MISMATCHED.contains(pair))
        .collect();
    // Two threads: NdArray runs single-threaded, and the machine has two cores.
    let results: Vec<(String, f64)> = std::thread::scope(|scope| {
        let halves: Vec<_> = pairs
            .chunks(pairs.len().div_ceil(2))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(name, target)| {
                            let mut config = small(name, target);
                            // App. F: the adaptive schedule makes p(λ) follow w(λ)·E‖ε − ε̂‖², so
                            // every weighting is sampled where it matters, with no hand tuning.
                            config.schedule = ScheduleSpec {
                                name: "adaptive".into(),
                                params: Default::default(),
                            };
                            config.steps = budget(name, target);
                            let steps = config.steps;
                            let mut trainer = Trainer::new(config, &cpu()).unwrap();
                            trainer.train_blocking(steps, 100).unwrap();
                            (format!("{name} × {target}"), quality(&trainer))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let failures: Vec<String> = results
        .iter()
        .inspect(|(pair, q)| eprintln!("{pair}: {q:.4}"))
        .filter(|(_, q)| q.is_nan() || *q >= 0.5 * untrained)
        .map(|(pair, q)| format!("{pair}: {q:.4} (Gaussian fit {untrained:.4})"))
        .collect();
    assert!(
        failures.is_empty(),
        "did not reach the quality bar:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_adaptive_schedule_follows_the_weighted_loss() {
    let mut config = small("sigmoid", "eps");
    config.weighting = weighting("sigmoid", &[("k", 2.0)]);
    config.schedule = ScheduleSpec {
        name: "adaptive".into(),
        params: Default::default(),
    };
    config.steps = 3000;
    let mut trainer = Trainer::new(config, &cpu()).unwrap();
    // The bins' EMA has decay 0.999 (App. H): after 3000 updates 95% of the initial value is gone.
    trainer.train_blocking(3000, 10).unwrap();
    // sigmoid(−λ + 2) is ~0 for large λ, so the adaptive p(λ) must put little mass there.
    let schedule = &trainer.objective.schedule;
    // It starts uniform (ratio 1). Rarely sampled bins are updated rarely (App. F's EMA only sees
    // the bins a batch hits), so after 3000 steps of batch 128 the ratio is ≈ 0.34, not yet the
    // ≈ 10⁻³ of a fully adapted p ∝ w·f.
    assert!(
        schedule.p(10.0) < 0.5 * schedule.p(-2.0),
        "p(10) = {}, p(−2) = {}",
        schedule.p(10.0),
        schedule.p(-2.0)
    );
}

#[test]
fn elbo_estimator_with_the_exact_denoiser_matches_the_theory_core() {
    let json = r#"{"weights":[0.6,0.4],"means":[[-1.0,0.2],[1.2,-0.5]],"stds":[0.3,0.5]}"#;
    let gmm = Gmm::from_json(json).unwrap();
    let points = vec![[0.1, 0.3], [-1.0, 0.0], [1.5, -0.8]];
    let (lambda_min, lambda_max) = (-12.0, 12.0);
    for x in points {
        let rows = ElboRows::new(x.repeat(400), 2, lambda_min, lambda_max, 11);
        let mut eps_hat = Vec::with_capacity(rows.z.len());
        for (i, l) in rows.lambda.iter().enumerate() {
            let z = [f64::from(rows.z[2 * i]), f64::from(rows.z[2 * i + 1])];
            eps_hat.extend(gmm.noisy(*l).eps_star(&z));
        }
        let estimate = rows
            .finish(&eps_hat, &Decoder::Gaussian { log_std_sum: 0.0 })
            .unwrap();
        let exact = elbo_lab::api::density_terms(json, &x, lambda_min, lambda_max).unwrap();
        let nats = estimate.bpd * 2.0 * std::f64::consts::LN_2;
        let stderr = estimate.bpd_stderr * 2.0 * std::f64::consts::LN_2;
        assert!(
            (nats - exact.neg_elbo).abs() < 4.0 * stderr + 1e-3,
            "x = {x:?}: {nats} ± {stderr} vs {}",
            exact.neg_elbo
        );
    }
}

/// VDM's discrete decoder: with the noise far below the level spacing the reconstruction costs
/// nothing; with the noise far above it every one of the 256 levels is equally likely (8 bits).
#[test]
fn the_discrete_decoder_spans_zero_to_eight_bits() {
    let standardizer = elbo_lab::data::Standardizer {
        mean: [0.0, 0.0],
        std: [0.5, 0.5],
    };
    let decoder = Decoder::swirl(&standardizer);
    let on_grid: Vec<[f64; 2]> = [(3u8, 200u8), (128, 17), (255, 0)]
        .iter()
        .map(|(a, b)| {
            standardizer.forward([
                elbo_lab::data::toy2d::swirl_value(*a),
                elbo_lab::data::toy2d::swirl_value(*b),
            ])
        })
        .collect();
    let recon_bits = |lambda_min: f64, lambda_max: f64| {
        let rows = ElboRows::new(on_grid.concat(), 2, lambda_min, lambda_max, 4);
        let eps_hat = vec![0.0; rows.z.len()];
        rows.finish(&eps_hat, &decoder).unwrap()
    };
    let sharp = recon_bits(-12.0, 20.0);
    assert!(sharp.discrete && sharp.bpd_jacobian == 0.0);
    assert!(
        sharp.bpd_recon >= 0.0 && sharp.bpd_recon < 1e-3,
        "{sharp:?}"
    );
    let blurred = recon_bits(-20.0, -10.0);
    assert!((blurred.bpd_recon - 8.0).abs() < 0.01, "{blurred:?}");
    // In between it is neither.
    let middle = recon_bits(-12.0, 12.0).bpd_recon;
    assert!(middle > sharp.bpd_recon && middle < 8.0, "{middle}");
}

#[test]
fn a_checkpoint_round_trips_and_bad_bytes_are_refused() {
    let mut trainer = Trainer::new(small("elbo", "v"), &cpu()).unwrap();
    trainer.train_blocking(30, 10).unwrap();
    let bytes = pollster::block_on(checkpoint::save(&mut trainer)).unwrap();
    let mut restored = checkpoint::load(&bytes, &cpu()).unwrap();
    assert_eq!(restored.step_count(), 30);
    assert_eq!(restored.config, trainer.config);
    let sampler = SamplerConfig::with_steps(SamplerKind::Ddim, 16);
    let a = pollster::block_on(tensor_sampler::generate(&trainer, &sampler, 64, 5)).unwrap();
    let b = pollster::block_on(tensor_sampler::generate(&restored, &sampler, 64, 5)).unwrap();
    assert_eq!(a, b, "the restored EMA model samples identically");
    // Saving the restored run gives the same bytes: weights, EMA and Adam state all came back.
    assert_eq!(
        pollster::block_on(checkpoint::save(&mut restored)).unwrap(),
        bytes
    );

    let mut corrupted = bytes.clone();
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0x55;
    assert!(matches!(
        checkpoint::load(&corrupted, &cpu()),
        Err(EngineError::Checkpoint(CheckpointError::Checksum))
    ));
    assert!(matches!(
        checkpoint::load(&bytes[..bytes.len() - 9], &cpu()),
        Err(EngineError::Checkpoint(_))
    ));
    assert!(
        matches!(checkpoint::load(b"not a checkpoint at all", &cpu()), Err(EngineError::Checkpoint(CheckpointError::NotACheckpoint(m))) if m.contains("magic"))
    );
}

#[test]
fn divergence_stops_training_and_restores_the_last_good_weights() {
    // A user weighting of e^80 overflows f32 in the loss coefficient: the loss becomes infinite.
    let mut config = small("expr", "x");
    config.weighting = WeightingSpec {
        name: "expr".into(),
        params: Default::default(),
        expression: Some("exp(80)".into()),
    };
    let mut trainer = Trainer::new(config, &cpu()).unwrap();
    let err = trainer.train_blocking(20, 5).unwrap_err();
    match err {
        EngineError::Diverged { restored, .. } => assert_eq!(restored, trainer.step_count()),
        other => panic!("expected divergence, got {other}"),
    }
    assert!(trainer.history.iter().all(|p| p.loss.is_finite()));
}

#[test]
fn invalid_settings_are_refused_before_training() {
    let bad = TrainConfig {
        lr: f64::NAN,
        ..small("elbo", "eps")
    };
    assert!(matches!(
        Trainer::new(bad, &cpu()),
        Err(EngineError::InvalidConfig { field: "lr", .. })
    ));
    let bad = TrainConfig {
        dataset: "no-such-data".into(),
        ..small("elbo", "eps")
    };
    assert!(matches!(
        Trainer::new(bad, &cpu()),
        Err(EngineError::Data(_))
    ));
}
