//! Training configuration: one serde struct shared by the CLI, the page's URL and checkpoints.

use serde::{Deserialize, Serialize};

use super::data::MNIST;
pub use super::model::{MlpConfig, ModelConfig};
use super::EngineError;
use crate::api::{ScheduleSpec, WeightingSpec};
use crate::theory::{Target, Weighting};

/// The training schedule name that selects the adaptive schedule of App. F instead of Table 4.
pub const ADAPTIVE: &str = "adaptive";

/// How the t (or quantile) of each example in a batch is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TSampling {
    /// Independent uniform draws.
    Iid,
    /// VDM's low-discrepancy sampler: t_i = (u + i/B) mod 1, one shared u (App. H).
    Stratified,
    /// Pairs (t, 1 − t).
    Antithetic,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// A name from `data::Dataset::names()`.
    pub dataset: String,
    /// The mixture for `dataset = "gmm"`, in the theory's JSON format.
    pub gmm: Option<String>,
    /// Points for `dataset = "points"` (drawn or uploaded), in data space.
    pub points: Option<Vec<[f64; 2]>>,
    pub weighting: WeightingSpec,
    /// A Table 4 schedule, or `"adaptive"` (App. F).
    pub schedule: ScheduleSpec,
    /// What the network predicts: eps, x, v or f.
    pub target: String,
    pub lambda_min: f64,
    pub lambda_max: f64,
    pub t_sampling: TSampling,
    pub steps: u64,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    pub model: ModelConfig,
    /// Decay of the weight EMA used for sampling and evaluation.
    pub ema_decay: f64,
    /// Global gradient-norm clip (App. H: 1).
    pub clip_norm: f64,
    pub n_train: usize,
    pub n_test: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            dataset: "moons".into(),
            gmm: None,
            points: None,
            weighting: WeightingSpec {
                name: "elbo".into(),
                params: Default::default(),
                expression: None,
            },
            schedule: ScheduleSpec {
                name: "cosine".into(),
                params: Default::default(),
            },
            target: "eps".into(),
            lambda_min: -12.0,
            lambda_max: 12.0,
            t_sampling: TSampling::Stratified,
            steps: 2000,
            batch: 256,
            lr: 2e-3,
            seed: 0,
            model: ModelConfig::default(),
            ema_decay: 0.995,
            clip_norm: 1.0,
            n_train: 8192,
            n_test: 2048,
        }
    }
}

/// Named starting points for the page and the CLI.
pub fn preset(name: &str) -> Result<TrainConfig, EngineError> {
    let base = TrainConfig::default();
    let weighting = |name: &str, params: &[(&str, f64)]| WeightingSpec {
        name: name.into(),
        params: params.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        expression: None,
    };
    let schedule = |name: &str| ScheduleSpec {
        name: name.into(),
        params: Default::default(),
    };
    Ok(match name {
        // The VDM 2D colab network: 2 × 512, swish, Fourier features, ELBO objective.
        "vdm-colab" => TrainConfig {
            model: ModelConfig::Mlp(MlpConfig {
                depth: 2,
                width: 512,
                ..MlpConfig::default()
            }),
            batch: 1024,
            steps: 20_000,
            lr: 1e-3,
            ema_decay: 0.999,
            ..base
        },
        // Ho et al.: ε-MSE with the cosine schedule, i.e. w = sech(λ/2) (Table 1, IDDPM).
        "ddpm-eps-cosine" => TrainConfig {
            weighting: weighting("iddpm", &[]),
            ..base
        },
        // Salimans & Ho: v-MSE with the cosine schedule, i.e. w = e^{-λ/2}.
        "v-prediction" => TrainConfig {
            weighting: weighting("v-cosine", &[]),
            target: "v".into(),
            ..base
        },
        // The paper's monotone weighting with the adaptive schedule (Sec. 5, App. F).
        "sigmoid-adaptive" => TrainConfig {
            weighting: weighting("sigmoid", &[("k", 2.0)]),
            schedule: schedule(ADAPTIVE),
            ..base
        },
        // MNIST with the `tiny` U-Net: VDM's image λ range (its γ ∈ [−13.3, 5]), where the
        // 8-bit decoder's reconstruction term is ~0.01 bits/dim and the prior's ~0.01; Adam 1e-3,
        // EMA 0.999, batch 128 (the anchor run of the MNIST issue).
        "mnist" => TrainConfig {
            dataset: MNIST.into(),
            model: ModelConfig::unet_preset("tiny")?,
            lambda_min: -5.0,
            lambda_max: 13.3,
            batch: 128,
            steps: 20_000,
            lr: 1e-3,
            ema_decay: 0.999,
            n_train: 60_000,
            n_test: 10_000,
            ..base
        },
        "default" => base,
        _ => {
            return Err(EngineError::InvalidConfig {
                field: "preset",
                message: format!("unknown preset `{name}`; accepted: {}", PRESETS.join(", ")),
            })
        }
    })
}

pub const PRESETS: [&str; 6] = [
    "default",
    "mnist",
    "vdm-colab",
    "ddpm-eps-cosine",
    "v-prediction",
    "sigmoid-adaptive",
];

fn invalid(field: &'static str, message: impl Into<String>) -> EngineError {
    EngineError::InvalidConfig {
        field,
        message: message.into(),
    }
}

impl TrainConfig {
    /// Refuses settings that cannot train, each with a message naming the field.
    pub fn validate(&self) -> Result<(), EngineError> {
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 1.0) {
            return Err(invalid(
                "lr",
                format!(
                    "the learning rate must be a number in (0, 1], got {}",
                    self.lr
                ),
            ));
        }
        if self.batch == 0 || self.batch > 65_536 {
            return Err(invalid(
                "batch",
                format!(
                    "the batch size must be between 1 and 65536, got {}",
                    self.batch
                ),
            ));
        }
        if !(self.lambda_min.is_finite() && self.lambda_max.is_finite())
            || self.lambda_min >= self.lambda_max
        {
            return Err(invalid(
                "lambda",
                format!(
                    "λ_min must be smaller than λ_max (both finite), got [{}, {}]",
                    self.lambda_min, self.lambda_max
                ),
            ));
        }
        if self.lambda_min < -30.0 || self.lambda_max > 30.0 {
            return Err(invalid(
                "lambda",
                "λ must stay within [-30, 30] (f32 precision on the GPU)",
            ));
        }
        if self.steps > 10_000_000 {
            return Err(invalid("steps", "at most 10 000 000 steps"));
        }
        self.model.validate()?;
        if !(0.0..1.0).contains(&self.ema_decay) {
            return Err(invalid(
                "ema_decay",
                format!("the EMA decay must be in [0, 1), got {}", self.ema_decay),
            ));
        }
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return Err(invalid(
                "clip_norm",
                "the gradient clip must be a positive number",
            ));
        }
        if self.n_train < 2 || self.n_test < 2 || self.n_train > 1_000_000 || self.n_test > 100_000
        {
            return Err(invalid(
                "n_train",
                "need 2..=1 000 000 training and 2..=100 000 held-out points",
            ));
        }
        self.weighting_fn()?;
        self.target_fn()?;
        if self.schedule.name != ADAPTIVE {
            self.schedule.build(self.lambda_min, self.lambda_max)?;
        }
        Ok(())
    }

    pub fn weighting_fn(&self) -> Result<Weighting, EngineError> {
        let w = self.weighting.build()?;
        w.validate_on(self.lambda_min, self.lambda_max, 401)?;
        Ok(w)
    }

    pub fn target_fn(&self) -> Result<Target, EngineError> {
        let target = Target::from_name(&self.target, &Default::default())?;
        match target {
            Target::Eps | Target::X | Target::V | Target::F { .. } => Ok(target),
            _ => Err(invalid(
                "target",
                format!("the trainer predicts eps, x, v or f, got `{}`", self.target),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid() {
        for name in PRESETS {
            preset(name)
                .unwrap()
                .validate()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn bad_settings_are_refused_with_the_field_named() {
        let bad = [
            TrainConfig {
                lr: f64::NAN,
                ..TrainConfig::default()
            },
            TrainConfig {
                lr: -1.0,
                ..TrainConfig::default()
            },
            TrainConfig {
                batch: 0,
                ..TrainConfig::default()
            },
            TrainConfig {
                lambda_min: 3.0,
                lambda_max: 3.0,
                ..TrainConfig::default()
            },
            TrainConfig {
                target: "score".into(),
                ..TrainConfig::default()
            },
        ];
        let fields = ["lr", "lr", "batch", "lambda", "target"];
        for (config, field) in bad.iter().zip(fields) {
            let err = config.validate().unwrap_err();
            assert!(
                matches!(&err, EngineError::InvalidConfig { field: f, .. } if *f == field),
                "{err}"
            );
        }
        assert!(preset("nope").is_err());
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = preset("sigmoid-adaptive").unwrap();
        let text = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&text).unwrap(), config);
    }
}
