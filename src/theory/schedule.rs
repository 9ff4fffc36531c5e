//! Noise schedules λ(t), their inverses t(λ) and densities p(λ) = -dt/dλ (Table 4, App. E.3),
//! truncated to [λ_min, λ_max] by Eq. 127–132.
//!
//! Every kind is stored through its untruncated closed forms. The truncated schedule maps
//! t ∈ [0, 1] to u = t0 + (t1 - t0)·t in the untruncated time, with t0 = f⁻¹(λ_max) and
//! t1 = f⁻¹(λ_min). Where λ_min or λ_max lies outside a kind's natural range (the linear schedule
//! reaches only λ ≈ -10.1 at t = 1; EDM sampling covers [-2 log σ_max, -2 log σ_min]) the closed
//! forms are applied literally beyond [0, 1]: t0 < 0 or t1 > 1 simply extend the same formula,
//! which stays strictly monotone, so the truncated schedule is still a bijection onto the range.
//!
//! Paper typos handled here (checked in `tests/theory_core.rs`):
//! - EDM (training), Table 4: the λ and t columns describe N(-2.4, 2.4²), but p(λ) = N(λ; 2.4, 2.4²)
//!   (EDM samples log σ̃ ~ N(-1.2, 1.2²), so λ = -2 log σ̃ has mean +2.4). We use
//!   t(λ) = Φ((2.4 - λ)/2.4) and λ(t) = 2.4 - 2.4·Φ⁻¹(t), consistent with p.
//! - Shifted cosine, Table 4: the t column reads arctan(e^{-λ/2 - s}); inverting the λ column
//!   λ = -2 log tan(πt/2) + 2s gives arctan(e^{-λ/2 + s}), which is also what p(λ) = sech(λ/2 - s)/(2π)
//!   integrates to. We use the latter.

use std::collections::BTreeMap;
use std::f64::consts::PI;

use super::error::{require_lambda_range, TheoryError};
use super::numeric::{
    log_sech, log_sigmoid, normal_cdf, normal_log_pdf, normal_ppf, sigmoid, softplus,
};
use super::params::{any, positive, ParamInfo, ParamReader};

/// Default image resolution d of the shifted cosine schedule: s = log(64/d). 128 is the
/// ImageNet 128×128 setting of App. H (the smallest resolution the shift was used for).
pub const DEFAULT_RESOLUTION: f64 = 128.0;

/// A noise schedule family with its parameters, before truncation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScheduleKind {
    /// λ = -2 log tan(πt/2) (Nichol & Dhariwal).
    Cosine,
    /// λ = -2 log tan(πt/2) + 2s with s = log(64/resolution) (Hoogeboom et al.).
    ShiftedCosine { resolution: f64 },
    /// Continuous-time VP "linear": log(1 + e^{-λ}) = β_min t + ½(β_max - β_min) t².
    Linear { beta_min: f64, beta_max: f64 },
    /// EDM training: λ ~ N(mean, std²) (Karras et al.: mean 2.4, std 2.4).
    EdmTrain { mean: f64, std: f64 },
    /// EDM sampling: σ̃(t)^{1/ρ} interpolates linearly between σ_min^{1/ρ} (t = 0) and σ_max^{1/ρ}.
    EdmSample {
        rho: f64,
        sigma_min: f64,
        sigma_max: f64,
    },
    /// Flow matching with the optimal-transport path: λ = 2 log((1-t)/t) (App. D.3).
    FmOt,
}

/// Names accepted by [`ScheduleKind::from_name`].
pub const SCHEDULE_NAMES: [&str; 6] = [
    "cosine",
    "shifted-cosine",
    "linear",
    "edm-train",
    "edm-sample",
    "fm-ot",
];

impl ScheduleKind {
    /// Builds a kind from its name and parameters (unknown keys and out-of-domain values are
    /// rejected with the accepted ones).
    pub fn from_name(name: &str, params: &BTreeMap<String, f64>) -> Result<Self, TheoryError> {
        let owner = format!("schedule `{name}`");
        let keys: Vec<&'static str> = Self::param_infos(name)
            .ok_or_else(|| TheoryError::UnknownName {
                what: "schedule",
                name: name.to_string(),
                accepted: SCHEDULE_NAMES.join(", "),
            })?
            .into_iter()
            .map(|(k, _, _)| k)
            .collect();
        let reader = ParamReader::new(&owner, params, &keys)?;
        Ok(match name {
            "cosine" => Self::Cosine,
            "shifted-cosine" => Self::ShiftedCosine {
                resolution: reader.get("resolution", DEFAULT_RESOLUTION, positive)?,
            },
            "linear" => {
                let beta_min =
                    reader.get("beta_min", 0.1, |v| (v < 0.0).then_some("it must be ≥ 0"))?;
                let beta_max = reader.get("beta_max", 20.0, positive)?;
                if beta_max < beta_min {
                    return Err(TheoryError::InvalidParam {
                        owner,
                        key: "beta_max".into(),
                        value: beta_max,
                        reason: format!("it must be ≥ beta_min = {beta_min}"),
                    });
                }
                Self::Linear { beta_min, beta_max }
            }
            "edm-train" => Self::EdmTrain {
                mean: reader.get("mean", 2.4, any)?,
                std: reader.get("std", 2.4, positive)?,
            },
            "edm-sample" => {
                let rho = reader.get("rho", 7.0, positive)?;
                let sigma_min = reader.get("sigma_min", 0.002, positive)?;
                let sigma_max = reader.get("sigma_max", 80.0, positive)?;
                if sigma_max <= sigma_min {
                    return Err(TheoryError::InvalidParam {
                        owner,
                        key: "sigma_max".into(),
                        value: sigma_max,
                        reason: format!("it must be > sigma_min = {sigma_min}"),
                    });
                }
                Self::EdmSample {
                    rho,
                    sigma_min,
                    sigma_max,
                }
            }
            _ => Self::FmOt,
        })
    }

    /// (key, default, description) of the parameters a named schedule takes; `None` for an
    /// unknown name.
    fn param_infos(name: &str) -> Option<Vec<(&'static str, f64, &'static str)>> {
        Some(match name {
            "cosine" | "fm-ot" => vec![],
            "shifted-cosine" => vec![(
                "resolution",
                DEFAULT_RESOLUTION,
                "image resolution d; shift s = log(64/d)",
            )],
            "linear" => vec![
                ("beta_min", 0.1, "β_min of the VP SDE"),
                ("beta_max", 20.0, "β_max of the VP SDE"),
            ],
            "edm-train" => vec![
                ("mean", 2.4, "mean of λ (= -2·P_mean)"),
                ("std", 2.4, "standard deviation of λ (= 2·P_std)"),
            ],
            "edm-sample" => vec![
                ("rho", 7.0, "ρ"),
                ("sigma_min", 0.002, "σ_min (noise at t = 0)"),
                ("sigma_max", 80.0, "σ_max (noise at t = 1)"),
            ],
            _ => return None,
        })
    }

    /// The parameters of a named schedule with their defaults (for catalogs).
    pub fn params_of(name: &str) -> Option<Vec<ParamInfo>> {
        Self::param_infos(name).map(|v| {
            v.into_iter()
                .map(|(k, d, text)| ParamInfo::new(k, d, text))
                .collect()
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::ShiftedCosine { .. } => "shifted-cosine",
            Self::Linear { .. } => "linear",
            Self::EdmTrain { .. } => "edm-train",
            Self::EdmSample { .. } => "edm-sample",
            Self::FmOt => "fm-ot",
        }
    }

    /// Untruncated λ at time u, given both u and uc = 1 - u (each accurate on its own), so that
    /// the tails near u = 0 and u = 1 keep full relative precision.
    pub fn lambda_raw(&self, u: f64, uc: f64) -> f64 {
        match *self {
            // Table 4: λ = -2 log tan(πt/2); near t = 1 use tan(π/2 - x) = 1/tan(x).
            Self::Cosine => cosine_lambda(u, uc),
            Self::ShiftedCosine { resolution } => cosine_lambda(u, uc) + 2.0 * shift(resolution),
            Self::Linear { beta_min, beta_max } => {
                // log(1 + e^{-λ}) = B(t) ⇒ λ = -log(expm1(B)); for large B, -B - log(1 - e^{-B}).
                let b = beta_min * u + 0.5 * (beta_max - beta_min) * u * u;
                if b > 30.0 {
                    -b - (-(-b).exp()).ln_1p()
                } else {
                    -b.exp_m1().ln()
                }
            }
            // λ = mean - std·Φ⁻¹(t) = mean + std·Φ⁻¹(1 - t) (corrected Table 4, see module doc).
            Self::EdmTrain { mean, std } => {
                if u <= uc {
                    mean - std * normal_ppf(u)
                } else {
                    mean + std * normal_ppf(uc)
                }
            }
            // Table 4: λ = -2ρ log(σ_max^{1/ρ} + (1 - t)(σ_min^{1/ρ} - σ_max^{1/ρ})).
            Self::EdmSample {
                rho,
                sigma_min,
                sigma_max,
            } => {
                let (a, b) = edm_sample_ends(rho, sigma_min, sigma_max);
                -2.0 * rho * (a - uc * (a - b)).ln()
            }
            // Eq. 64: λ = 2 log((1 - t)/t).
            Self::FmOt => 2.0 * (uc.ln() - u.ln()),
        }
    }

    /// Untruncated (t, 1 - t) at λ, each computed without cancellation.
    pub fn t_raw(&self, lambda: f64) -> (f64, f64) {
        match *self {
            Self::Cosine => cosine_t(lambda),
            Self::ShiftedCosine { resolution } => cosine_t(lambda - 2.0 * shift(resolution)),
            Self::Linear { beta_min, beta_max } => {
                // Root of ½Δt² + β_min t - softplus(-λ) = 0 in the cancellation-free form.
                let s = softplus(-lambda);
                let delta = beta_max - beta_min;
                let t = 2.0 * s / (beta_min + (beta_min * beta_min + 2.0 * delta * s).sqrt());
                (t, 1.0 - t)
            }
            // t = Φ((mean - λ)/std), 1 - t = Φ((λ - mean)/std).
            Self::EdmTrain { mean, std } => (
                normal_cdf((mean - lambda) / std),
                normal_cdf((lambda - mean) / std),
            ),
            // Table 4: t = 1 - (e^{-λ/(2ρ)} - σ_max^{1/ρ})/(σ_min^{1/ρ} - σ_max^{1/ρ}).
            Self::EdmSample {
                rho,
                sigma_min,
                sigma_max,
            } => {
                let (a, b) = edm_sample_ends(rho, sigma_min, sigma_max);
                let e = (-lambda / (2.0 * rho)).exp();
                ((e - b) / (a - b), (a - e) / (a - b))
            }
            // Eq. 66: t = sigmoid(-λ/2).
            Self::FmOt => (sigmoid(-0.5 * lambda), sigmoid(0.5 * lambda)),
        }
    }

    /// log p(λ) of the untruncated schedule, p(λ) = -dt/dλ (Table 4), extended literally.
    pub fn log_p_raw(&self, lambda: f64) -> f64 {
        match *self {
            // Table 4: sech(λ/2)/(2π).
            Self::Cosine => log_sech(0.5 * lambda) - (2.0 * PI).ln(),
            // Table 4: sech(λ/2 - s)/(2π).
            Self::ShiftedCosine { resolution } => {
                log_sech(0.5 * lambda - shift(resolution)) - (2.0 * PI).ln()
            }
            // d/dλ of the quadratic root: sigmoid(-λ)/sqrt(β_min² + 2Δ softplus(-λ)).
            Self::Linear { beta_min, beta_max } => {
                let delta = beta_max - beta_min;
                log_sigmoid(-lambda)
                    - 0.5 * (beta_min * beta_min + 2.0 * delta * softplus(-lambda)).ln()
            }
            // Eq. 44: N(λ; mean, std²).
            Self::EdmTrain { mean, std } => normal_log_pdf((lambda - mean) / std) - std.ln(),
            // Table 4: e^{-λ/(2ρ)} / (2ρ(σ_max^{1/ρ} - σ_min^{1/ρ})).
            Self::EdmSample {
                rho,
                sigma_min,
                sigma_max,
            } => {
                let (a, b) = edm_sample_ends(rho, sigma_min, sigma_max);
                -lambda / (2.0 * rho) - (2.0 * rho * (a - b)).ln()
            }
            // Eq. 69: sech²(λ/4)/8.
            Self::FmOt => 2.0 * log_sech(0.25 * lambda) - 8f64.ln(),
        }
    }
}

/// s = log(64/d) of the shifted cosine schedule.
fn shift(resolution: f64) -> f64 {
    (64.0 / resolution).ln()
}

/// (σ_max^{1/ρ}, σ_min^{1/ρ}).
fn edm_sample_ends(rho: f64, sigma_min: f64, sigma_max: f64) -> (f64, f64) {
    (sigma_max.powf(1.0 / rho), sigma_min.powf(1.0 / rho))
}

fn cosine_lambda(u: f64, uc: f64) -> f64 {
    if u <= uc {
        -2.0 * (0.5 * PI * u).tan().ln()
    } else {
        2.0 * (0.5 * PI * uc).tan().ln()
    }
}

/// Table 4: t = (2/π) arctan(e^{-λ/2}); 1 - t = (2/π) arctan(e^{λ/2}).
fn cosine_t(lambda: f64) -> (f64, f64) {
    (
        2.0 / PI * (-0.5 * lambda).exp().atan(),
        2.0 / PI * (0.5 * lambda).exp().atan(),
    )
}

/// A schedule truncated to [λ_min, λ_max] (Eq. 127–132): λ(0) = λ_max, λ(1) = λ_min.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    kind: ScheduleKind,
    lambda_min: f64,
    lambda_max: f64,
    /// Eq. 128: t0 = f⁻¹(λ_max), and 1 - t0.
    t0: f64,
    /// Eq. 129: 1 - t1 with t1 = f⁻¹(λ_min).
    t1c: f64,
    /// t1 - t0, computed from whichever side avoids cancellation.
    width: f64,
}

impl Schedule {
    /// Truncates `kind` to [λ_min, λ_max]; fails for an empty or non-finite range, or one so far in
    /// a tail that the schedule's mass there underflows f64.
    pub fn new(kind: ScheduleKind, lambda_min: f64, lambda_max: f64) -> Result<Self, TheoryError> {
        require_lambda_range(lambda_min, lambda_max)?;
        let (t0, t0c) = kind.t_raw(lambda_max);
        let (t1, t1c) = kind.t_raw(lambda_min);
        // Both ends near u = 1 (a range deep in the low-λ tail): subtract the small complements.
        let width = if t0 >= 0.5 { t0c - t1c } else { t1 - t0 };
        let ends_ok = [
            kind.log_p_raw(lambda_min),
            kind.log_p_raw(lambda_max),
            t0,
            t1c,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !(width > 0.0 && width.is_finite() && ends_ok) {
            return Err(TheoryError::InvalidRange(format!(
                "schedule `{}` has (numerically) no mass on [{lambda_min}, {lambda_max}]; choose a range nearer its bulk",
                kind.name()
            )));
        }
        Ok(Self {
            kind,
            lambda_min,
            lambda_max,
            t0,
            t1c,
            width,
        })
    }

    /// Builds a named schedule with parameters and truncates it.
    pub fn from_name(
        name: &str,
        params: &BTreeMap<String, f64>,
        lambda_min: f64,
        lambda_max: f64,
    ) -> Result<Self, TheoryError> {
        Self::new(
            ScheduleKind::from_name(name, params)?,
            lambda_min,
            lambda_max,
        )
    }

    pub fn kind(&self) -> ScheduleKind {
        self.kind
    }

    pub fn lambda_min(&self) -> f64 {
        self.lambda_min
    }

    pub fn lambda_max(&self) -> f64 {
        self.lambda_max
    }

    /// Eq. 128 and 129: (t0, t1) in the untruncated time.
    pub fn truncation_times(&self) -> (f64, f64) {
        (self.t0, 1.0 - self.t1c)
    }

    /// Eq. 127: λ̃(t) = f(t0 + (t1 - t0)t). t is clamped to [0, 1]; the endpoints return λ_max and
    /// λ_min exactly.
    pub fn lambda(&self, t: f64) -> f64 {
        let t = t.clamp(0.0, 1.0);
        if t == 0.0 {
            return self.lambda_max;
        }
        if t == 1.0 {
            return self.lambda_min;
        }
        let u = self.t0 + self.width * t;
        let uc = self.t1c + self.width * (1.0 - t);
        self.kind
            .lambda_raw(u, uc)
            .clamp(self.lambda_min, self.lambda_max)
    }

    /// Eq. 130: t̃(λ) = (f⁻¹(λ) - t0)/(t1 - t0), clamped to [0, 1].
    pub fn t_of_lambda(&self, lambda: f64) -> f64 {
        if lambda >= self.lambda_max {
            return 0.0;
        }
        if lambda <= self.lambda_min {
            return 1.0;
        }
        let (t, tc) = self.kind.t_raw(lambda);
        let value = if t <= tc {
            (t - self.t0) / self.width
        } else {
            1.0 - (tc - self.t1c) / self.width
        };
        value.clamp(0.0, 1.0)
    }

    /// Eq. 131–132: log p̃(λ) = log p(λ) - log(t1 - t0) inside the range, -∞ outside.
    pub fn log_p_lambda(&self, lambda: f64) -> f64 {
        if lambda < self.lambda_min || lambda > self.lambda_max {
            return f64::NEG_INFINITY;
        }
        self.kind.log_p_raw(lambda) - self.width.ln()
    }

    /// Eq. 131–132: the truncated density p̃(λ) = -dt̃/dλ (0 outside [λ_min, λ_max]).
    pub fn p_lambda(&self, lambda: f64) -> f64 {
        self.log_p_lambda(lambda).exp()
    }

    /// dλ̃/dt = -1/p̃(λ̃(t)) (negative: λ decreases with t).
    pub fn dlambda_dt(&self, t: f64) -> f64 {
        -(-self.log_p_lambda(self.lambda(t))).exp()
    }
}

/// Catalog entry of a schedule for the page and the CLI.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScheduleInfo {
    pub name: String,
    pub label: String,
    /// KaTeX for λ(t) (untruncated).
    pub latex_lambda: String,
    /// KaTeX for t(λ).
    pub latex_t: String,
    /// KaTeX for p(λ).
    pub latex_p: String,
    pub params: Vec<ParamInfo>,
}

/// All schedules with their formulas (Table 4, corrected as documented at the top of this module).
pub fn schedule_catalog() -> Vec<ScheduleInfo> {
    let rows: [(&str, &str, &str, &str, &str); 6] = [
        (
            "cosine",
            "Cosine (Nichol & Dhariwal)",
            r"-2\log\tan(\pi t/2)",
            r"\tfrac{2}{\pi}\arctan(e^{-\lambda/2})",
            r"\operatorname{sech}(\lambda/2)/(2\pi)",
        ),
        (
            "shifted-cosine",
            "Shifted cosine (Hoogeboom et al.)",
            r"-2\log\tan(\pi t/2) + 2s,\; s=\log(64/d)",
            r"\tfrac{2}{\pi}\arctan(e^{-\lambda/2+s})",
            r"\operatorname{sech}(\lambda/2-s)/(2\pi)",
        ),
        (
            "linear",
            "Linear VP (Ho et al., continuous time)",
            r"-\log\left(e^{\beta_{\min}t+\frac12(\beta_{\max}-\beta_{\min})t^2}-1\right)",
            r"\frac{2\,\mathrm{softplus}(-\lambda)}{\beta_{\min}+\sqrt{\beta_{\min}^2+2(\beta_{\max}-\beta_{\min})\,\mathrm{softplus}(-\lambda)}}",
            r"\frac{\operatorname{sigmoid}(-\lambda)}{\sqrt{\beta_{\min}^2+2(\beta_{\max}-\beta_{\min})\,\mathrm{softplus}(-\lambda)}}",
        ),
        (
            "edm-train",
            "EDM (training)",
            r"2.4 - 2.4\,\Phi^{-1}(t)",
            r"\Phi\left(\frac{2.4-\lambda}{2.4}\right)",
            r"\mathcal{N}(\lambda; 2.4, 2.4^2)",
        ),
        (
            "edm-sample",
            "EDM (sampling)",
            r"-2\rho\log\left(\sigma_{\max}^{1/\rho}+(1-t)(\sigma_{\min}^{1/\rho}-\sigma_{\max}^{1/\rho})\right)",
            r"1-\frac{e^{-\lambda/(2\rho)}-\sigma_{\max}^{1/\rho}}{\sigma_{\min}^{1/\rho}-\sigma_{\max}^{1/\rho}}",
            r"\frac{e^{-\lambda/(2\rho)}}{2\rho(\sigma_{\max}^{1/\rho}-\sigma_{\min}^{1/\rho})}",
        ),
        (
            "fm-ot",
            "Flow matching, OT path",
            r"2\log\frac{1-t}{t}",
            r"\operatorname{sigmoid}(-\lambda/2)",
            r"\operatorname{sech}^2(\lambda/4)/8",
        ),
    ];
    rows.iter()
        .map(|&(name, label, l, t, p)| ScheduleInfo {
            name: name.into(),
            label: label.into(),
            latex_lambda: l.into(),
            latex_t: t.into(),
            latex_p: p.into(),
            params: ScheduleKind::params_of(name).unwrap_or_default(),
        })
        .collect()
}
