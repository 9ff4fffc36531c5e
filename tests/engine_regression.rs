//! The engine keeps its behaviour across refactors: short CPU runs, with numbers recorded from
//! the engine as it was before it was reshaped (one training state, one step-engine interface),
//! must come out again to 1e-6; a checkpoint written by that version (format 1) still loads and
//! evaluates as it did; and a run resumed from a checkpoint continues the same noise stream.
#![cfg(not(target_arch = "wasm32"))]

use burn::prelude::Device;
use elbo_lab::api::{ScheduleSpec, WeightingSpec};
use elbo_lab::engine::checkpoint::{self, CheckpointError};
use elbo_lab::engine::config::{MlpConfig, ModelConfig, TrainConfig};
use elbo_lab::engine::device::{native_device, NativeBackend};
use elbo_lab::engine::elbo::bits_per_dim;
use elbo_lab::engine::{EngineError, Trainer};

fn cpu() -> Device {
    native_device(NativeBackend::Cpu).unwrap()
}

/// One test at a time: the CPU backend splits its reductions over a thread pool shared by the
/// process, and tests running beside each other change how the work is split, so sums round
/// differently (by ~1e-7, which Adam's first steps amplify). Alone, a run is reproducible.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Two runs that between them touch every part of a step: ε and v targets, a fixed and the
/// adaptive schedule, Adam with clipping, the EMA (through the held-out bits/dim).
fn configs() -> [TrainConfig; 2] {
    let small = TrainConfig {
        steps: 30,
        batch: 64,
        model: ModelConfig::Mlp(MlpConfig {
            depth: 2,
            width: 32,
            ..MlpConfig::default()
        }),
        n_train: 1024,
        n_test: 128,
        seed: 11,
        ..TrainConfig::default()
    };
    [
        TrainConfig {
            dataset: "moons".into(),
            ..small.clone()
        },
        TrainConfig {
            dataset: "8-gaussians".into(),
            weighting: WeightingSpec {
                name: "sigmoid".into(),
                params: [("k".to_string(), 2.0)].into_iter().collect(),
                expression: None,
            },
            schedule: ScheduleSpec {
                name: "adaptive".into(),
                params: Default::default(),
            },
            target: "v".into(),
            lr: 5e-3,
            seed: 5,
            ..small
        },
    ]
}

/// Losses of steps 1, 6, 11, …, and the held-out −ELBO (bits/dim) of the EMA model.
fn fingerprint(trainer: &mut Trainer) -> (Vec<f64>, f64) {
    trainer.train_blocking(30, 10).unwrap();
    let losses = trainer.history.iter().step_by(5).map(|p| p.loss).collect();
    let held_out = trainer.test_points();
    let bpd = pollster::block_on(bits_per_dim(trainer, &held_out, 3)).unwrap();
    (losses, bpd.bpd)
}

fn assert_close(what: &str, got: f64, recorded: f64) {
    assert!(
        (got - recorded).abs() <= 1e-6 * recorded.abs().max(1.0),
        "{what}: {got} now, {recorded} recorded"
    );
}

/// Printed by this test (`ELBO_LAB_RECORD=1 cargo test --test engine_regression -- --nocapture`)
/// on the engine before the reshaping; the format 1 fixture was written by the same run.
const RECORDED_LOSSES: [[f64; 6]; 2] = [
    [
        15.954740887713779,
        20.818705948181584,
        29.03646036509789,
        35.82442502231996,
        15.940843729690153,
        26.638464689700694,
    ],
    [
        1.5689508007907427,
        2.8242871818339252,
        2.6663894833732327,
        3.39507418357266,
        1.9162283937348652,
        2.3011933421062287,
    ],
];
const RECORDED_BPD: [f64; 2] = [10.772240355246822, 3.432574659149322];

#[test]
fn short_cpu_runs_reproduce_the_recorded_numbers() {
    let _alone = alone();
    for (i, config) in configs().into_iter().enumerate() {
        let mut trainer = Trainer::new(config, &cpu()).unwrap();
        let (losses, bpd) = fingerprint(&mut trainer);
        println!("run {i}: losses {losses:?} bpd {bpd:?}");
        if std::env::var("ELBO_LAB_RECORD").is_ok() {
            let bytes = pollster::block_on(checkpoint::save(&mut trainer)).unwrap();
            let path = std::env::temp_dir().join(format!("regression-{i}.elbolab"));
            std::fs::write(path, bytes).unwrap();
            continue;
        }
        for (step, (got, recorded)) in losses.iter().zip(RECORDED_LOSSES[i]).enumerate() {
            assert_close(&format!("run {i}, loss {step}"), *got, recorded);
        }
        assert_close(&format!("run {i}, bpd"), bpd, RECORDED_BPD[i]);
    }
}

/// Run 0's checkpoint as the engine wrote it before the training state had one layout.
const FORMAT_1_CHECKPOINT: &[u8] = include_bytes!("fixtures/moons-format1.elbolab");

#[test]
fn a_format_1_checkpoint_loads_and_evaluates_as_it_did() {
    let _alone = alone();
    let mut trainer = checkpoint::load(FORMAT_1_CHECKPOINT, &cpu()).unwrap();
    assert_eq!(trainer.step_count(), 30);
    assert_eq!(trainer.config, configs()[0]);
    let held_out = trainer.test_points();
    let bpd = pollster::block_on(bits_per_dim(&trainer, &held_out, 3)).unwrap();
    assert_close("format 1, bpd", bpd.bpd, RECORDED_BPD[0]);
    // Saved again, it is format 2, and loads to the same state.
    let again = pollster::block_on(checkpoint::save(&mut trainer)).unwrap();
    assert_eq!(&again[..8], b"ELBOLAB2");
    let mut reloaded = checkpoint::load(&again, &cpu()).unwrap();
    let (a, b) = pollster::block_on(async { (trainer.state().await, reloaded.state().await) });
    assert_eq!(a.unwrap(), b.unwrap());
}

#[test]
fn a_newer_checkpoint_format_is_refused_with_its_version_named() {
    let _alone = alone();
    let mut bytes = FORMAT_1_CHECKPOINT.to_vec();
    bytes[..8].copy_from_slice(b"ELBOLAB9");
    let body = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    match checkpoint::load(&bytes, &cpu()) {
        Err(EngineError::Checkpoint(CheckpointError::NewerFormat(magic))) => {
            assert_eq!(magic, "ELBOLAB9")
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_resumed_run_continues_the_same_noise_stream() {
    let _alone = alone();
    // The second run trains with the adaptive schedule: its per-bin EMAs travel in the checkpoint.
    for config in configs() {
        let mut straight = Trainer::new(config.clone(), &cpu()).unwrap();
        straight.train_blocking(20, 5).unwrap();

        let mut first = Trainer::new(config.clone(), &cpu()).unwrap();
        first.train_blocking(10, 5).unwrap();
        let bytes = pollster::block_on(checkpoint::save(&mut first)).unwrap();
        let mut resumed = checkpoint::load(&bytes, &cpu()).unwrap();
        resumed.train_blocking(10, 5).unwrap();

        let tail: Vec<_> = straight.history[10..].to_vec();
        assert_eq!(
            resumed.history, tail,
            "{}: same batches, noise, weights and λ distribution after the resume",
            config.dataset
        );
    }
}
