//! Weighting functions w(λ) of the weighted loss (Eq. 6): Table 1, the paper's new monotonic
//! weightings (Sec. 5.1, App. I), user expressions, and weightings derived from a prediction
//! target + schedule + loss multiplier (App. D).

use std::collections::BTreeMap;

use super::error::{require_lambda_range, TheoryError};
use super::expr::Expr;
use super::numeric::{
    log_sech, log_sigmoid, logaddexp, normal_log_cdf, normal_log_pdf, normal_pdf_over_cdf, sigmoid,
};
use super::param::Target;
use super::params::{any, non_negative, positive, ParamInfo, ParamReader};
use super::schedule::Schedule;

/// Names accepted by [`Weighting::new`] (`expr` takes the formula in `expression`).
pub const WEIGHTING_NAMES: [&str; 12] = [
    "elbo",
    "iddpm",
    "edm",
    "v-cosine",
    "fm-ot",
    "indi",
    "p2",
    "min-snr",
    "sigmoid",
    "edm-monotonic",
    "low-bit",
    "expr",
];

/// Grid used by [`Weighting::is_monotonic`].
pub const MONOTONIC_GRID_POINTS: usize = 4001;
/// Relative rise between neighbouring grid points still counted as "not increasing" (rounding).
pub const MONOTONIC_REL_TOL: f64 = 1e-9;

/// EDM's λ distribution N(2.4, 2.4²) (Eq. 44) used by its weighting (Eq. 48).
const EDM_MEAN: f64 = 2.4;
const EDM_STD: f64 = 2.4;

/// The kinds of weighting with their parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightingKind {
    /// w = 1.
    Elbo,
    /// sech(λ/2).
    Iddpm,
    /// N(λ; 2.4, 2.4²)(e^{-λ} + 0.5²) (Eq. 48).
    Edm,
    /// e^{-λ/2}.
    VCosine,
    /// e^{-λ/2}.
    FmOt,
    /// e^{-λ} sech²(λ/4).
    Indi,
    /// sech(λ/2)/(k + e^λ)^γ (Eq. 92 with the cosine schedule).
    P2 { gamma: f64, k: f64 },
    /// sech(λ/2)·min(1, γe^{-λ}).
    MinSnr { gamma: f64 },
    /// sigmoid(-λ + k).
    Sigmoid { k: f64 },
    /// EDM, held at its maximum for λ below its argmax `peak`.
    EdmMonotonic { peak: f64 },
    /// Φ(-2(λ - 8.4)) (Eq. 146, "5-bit-like").
    LowBit,
    /// A user formula.
    Expr(Expr),
}

/// A weighting function w(λ) with its derivative.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighting {
    kind: WeightingKind,
}

/// log of EDM's weighting (Eq. 48): log N(λ; 2.4, 2.4²) + log(e^{-λ} + 0.25).
fn edm_log_w(lambda: f64) -> f64 {
    normal_log_pdf((lambda - EDM_MEAN) / EDM_STD) - EDM_STD.ln() + logaddexp(-lambda, 0.25f64.ln())
}

/// d/dλ of [`edm_log_w`]: -(λ - 2.4)/2.4² - e^{-λ}/(e^{-λ} + 0.25).
fn edm_dlog_w(lambda: f64) -> f64 {
    -(lambda - EDM_MEAN) / (EDM_STD * EDM_STD) - sigmoid(4f64.ln() - lambda)
}

/// The argmax of EDM's weighting: the single root of its log-derivative (which is positive
/// below it and negative above it, checked in the tests), found by bisection to full precision.
pub fn edm_peak() -> f64 {
    let (mut lo, mut hi) = (-20.0, EDM_MEAN);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid == lo || mid == hi {
            break;
        }
        if edm_dlog_w(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

impl Weighting {
    /// Builds a weighting from its name, parameters and (for `expr`) its formula.
    pub fn new(
        name: &str,
        params: &BTreeMap<String, f64>,
        expression: Option<&str>,
    ) -> Result<Self, TheoryError> {
        let owner = format!("weighting `{name}`");
        let infos = param_infos(name).ok_or_else(|| TheoryError::UnknownName {
            what: "weighting",
            name: name.to_string(),
            accepted: WEIGHTING_NAMES.join(", "),
        })?;
        let keys: Vec<&'static str> = infos.iter().map(|p| p.0).collect();
        let reader = ParamReader::new(&owner, params, &keys)?;
        if name != "expr" && expression.is_some() {
            return Err(TheoryError::InvalidInput(format!(
                "an expression is only used with the weighting `expr`, not `{name}`"
            )));
        }
        let kind = match name {
            "elbo" => WeightingKind::Elbo,
            "iddpm" => WeightingKind::Iddpm,
            "edm" => WeightingKind::Edm,
            "v-cosine" => WeightingKind::VCosine,
            "fm-ot" => WeightingKind::FmOt,
            "indi" => WeightingKind::Indi,
            "p2" => WeightingKind::P2 {
                gamma: reader.get("gamma", 1.0, non_negative)?,
                k: reader.get("k", 1.0, non_negative)?,
            },
            "min-snr" => WeightingKind::MinSnr {
                gamma: reader.get("gamma", 5.0, positive)?,
            },
            "sigmoid" => WeightingKind::Sigmoid {
                k: reader.get("k", 2.0, any)?,
            },
            "edm-monotonic" => WeightingKind::EdmMonotonic { peak: edm_peak() },
            "low-bit" => WeightingKind::LowBit,
            _ => {
                let source = expression.ok_or_else(|| {
                    TheoryError::Expression(
                        "the weighting `expr` needs an expression, e.g. sigmoid(-lambda + 2)"
                            .into(),
                    )
                })?;
                WeightingKind::Expr(Expr::parse(source)?)
            }
        };
        Ok(Self { kind })
    }

    /// Wraps a kind directly (its parameters are trusted to be in their domain).
    pub fn from_kind(kind: WeightingKind) -> Self {
        Self { kind }
    }

    pub fn kind(&self) -> &WeightingKind {
        &self.kind
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            WeightingKind::Elbo => "elbo",
            WeightingKind::Iddpm => "iddpm",
            WeightingKind::Edm => "edm",
            WeightingKind::VCosine => "v-cosine",
            WeightingKind::FmOt => "fm-ot",
            WeightingKind::Indi => "indi",
            WeightingKind::P2 { .. } => "p2",
            WeightingKind::MinSnr { .. } => "min-snr",
            WeightingKind::Sigmoid { .. } => "sigmoid",
            WeightingKind::EdmMonotonic { .. } => "edm-monotonic",
            WeightingKind::LowBit => "low-bit",
            WeightingKind::Expr(_) => "expr",
        }
    }

    /// log w(λ) (`-inf` where w = 0; NaN where a user expression is negative).
    pub fn log_w(&self, lambda: f64) -> f64 {
        match &self.kind {
            WeightingKind::Elbo => 0.0,
            // Table 1: sech(λ/2).
            WeightingKind::Iddpm => log_sech(0.5 * lambda),
            WeightingKind::Edm => edm_log_w(lambda),
            // Table 1 / Eq. 58 and 87: e^{-λ/2}.
            WeightingKind::VCosine | WeightingKind::FmOt => -0.5 * lambda,
            // Table 1: e^{-λ} sech²(λ/4).
            WeightingKind::Indi => -lambda + 2.0 * log_sech(0.25 * lambda),
            // Table 1 / Eq. 92: sech(λ/2)/(k + e^λ)^γ.
            WeightingKind::P2 { gamma, k } => {
                log_sech(0.5 * lambda) - gamma * log_k_plus_exp(*k, lambda)
            }
            // Table 1: sech(λ/2)·min(1, γe^{-λ}).
            WeightingKind::MinSnr { gamma } => {
                log_sech(0.5 * lambda) + (gamma.ln() - lambda).min(0.0)
            }
            // Sec. 5.1: sigmoid(-λ + k).
            WeightingKind::Sigmoid { k } => log_sigmoid(k - lambda),
            // Sec. 5.1: EDM, constant at its maximum left of the argmax.
            WeightingKind::EdmMonotonic { peak } => edm_log_w(lambda.max(*peak)),
            // Eq. 146: Φ(-2(λ - 8.4)).
            WeightingKind::LowBit => normal_log_cdf(-2.0 * (lambda - 8.4)),
            WeightingKind::Expr(e) => e.eval(lambda).v.ln(),
        }
    }

    /// w(λ).
    pub fn w(&self, lambda: f64) -> f64 {
        match &self.kind {
            WeightingKind::Expr(e) => e.eval(lambda).v,
            _ => self.log_w(lambda).exp(),
        }
    }

    /// d log w/dλ for the built-in kinds (analytic); for expressions w'/w.
    pub fn dlog_w(&self, lambda: f64) -> f64 {
        match &self.kind {
            WeightingKind::Elbo => 0.0,
            WeightingKind::Iddpm => -0.5 * (0.5 * lambda).tanh(),
            WeightingKind::Edm => edm_dlog_w(lambda),
            WeightingKind::VCosine | WeightingKind::FmOt => -0.5,
            WeightingKind::Indi => -1.0 - 0.5 * (0.25 * lambda).tanh(),
            WeightingKind::P2 { gamma, k } => {
                // d/dλ log(k + e^λ) = e^λ/(k + e^λ) = sigmoid(λ - log k).
                let share = if *k == 0.0 {
                    1.0
                } else {
                    sigmoid(lambda - k.ln())
                };
                -0.5 * (0.5 * lambda).tanh() - gamma * share
            }
            WeightingKind::MinSnr { gamma } => {
                -0.5 * (0.5 * lambda).tanh() - if lambda > gamma.ln() { 1.0 } else { 0.0 }
            }
            WeightingKind::Sigmoid { k } => -sigmoid(lambda - k),
            WeightingKind::EdmMonotonic { peak } => {
                if lambda < *peak {
                    0.0
                } else {
                    edm_dlog_w(lambda)
                }
            }
            // d/dλ log Φ(u) with u = -2(λ - 8.4): -2 φ(u)/Φ(u).
            WeightingKind::LowBit => -2.0 * normal_pdf_over_cdf(-2.0 * (lambda - 8.4)),
            WeightingKind::Expr(e) => {
                let d = e.eval(lambda);
                d.d / d.v
            }
        }
    }

    /// dw/dλ.
    pub fn dw(&self, lambda: f64) -> f64 {
        match &self.kind {
            WeightingKind::Expr(e) => e.eval(lambda).d,
            _ => {
                let w = self.w(lambda);
                if w == 0.0 {
                    0.0
                } else {
                    w * self.dlog_w(lambda)
                }
            }
        }
    }

    /// λ where w or w' is not smooth (min-snr's corner, edm-monotonic's join), so quadrature
    /// panels can end there. Expressions with min/max/abs may have corners that are not listed.
    pub fn breakpoints(&self) -> Vec<f64> {
        match &self.kind {
            WeightingKind::MinSnr { gamma } => vec![gamma.ln()],
            WeightingKind::EdmMonotonic { peak } => vec![*peak],
            _ => vec![],
        }
    }

    /// Whether w is monotone non-increasing in λ on [λ_min, λ_max] (increasing in t, the Theorem 1
    /// condition). Decided on [`MONOTONIC_GRID_POINTS`] evenly spaced points, allowing a relative
    /// rise of [`MONOTONIC_REL_TOL`] between neighbours so that rounding in flat parts (ELBO,
    /// the plateau of EDM-monotonic) does not count. Bumps narrower than the grid spacing
    /// ((λ_max - λ_min)/4000) would be missed; the built-in weightings have none.
    pub fn is_monotonic(&self, lambda_min: f64, lambda_max: f64) -> bool {
        let n = MONOTONIC_GRID_POINTS;
        let mut previous = f64::INFINITY;
        for i in 0..n {
            let lambda = lambda_min + (lambda_max - lambda_min) * i as f64 / (n - 1) as f64;
            let w = self.w(lambda);
            if w.is_nan() || w > previous * (1.0 + MONOTONIC_REL_TOL) {
                return false;
            }
            previous = w;
        }
        true
    }

    /// Checks that w and dw/dλ are finite and w ≥ 0 on `points` evenly spaced λ in the range (for
    /// user expressions and extreme parameters). The message names the first offending λ.
    pub fn validate_on(
        &self,
        lambda_min: f64,
        lambda_max: f64,
        points: usize,
    ) -> Result<(), TheoryError> {
        require_lambda_range(lambda_min, lambda_max)?;
        let n = points.max(2);
        for i in 0..n {
            let lambda = lambda_min + (lambda_max - lambda_min) * i as f64 / (n - 1) as f64;
            let (w, dw) = (self.w(lambda), self.dw(lambda));
            let problem = if !w.is_finite() {
                Some(format!("w(λ) = {w} is not finite"))
            } else if w < 0.0 {
                Some(format!("w(λ) = {w} is negative"))
            } else if !dw.is_finite() {
                Some(format!("dw/dλ = {dw} is not finite"))
            } else {
                None
            };
            if let Some(problem) = problem {
                let message = format!(
                    "{problem} at λ = {lambda}; a weighting must be finite and ≥ 0 (with a finite derivative) on [{lambda_min}, {lambda_max}]"
                );
                return Err(match self.kind {
                    WeightingKind::Expr(_) => TheoryError::Expression(message),
                    _ => TheoryError::Numerical(format!("weighting `{}`: {message}", self.name())),
                });
            }
        }
        Ok(())
    }

    /// Eq. 12: p_w(t) = d/dt w(λ_t) = w'(λ)·dλ/dt for the given schedule, normalised so that
    /// w(λ_min) = 1 (then ∫_0^1 p_w dt + [`Self::dirac_mass`] = 1 for a monotone weighting).
    pub fn p_w(&self, schedule: &Schedule, t: f64) -> f64 {
        let lambda = schedule.lambda(t);
        self.dw(lambda) * schedule.dlambda_dt(t) / self.w(schedule.lambda_min())
    }

    /// Eq. 12: the Dirac mass of p_w at t = 0, w(λ_max)/w(λ_min) for the normalised weighting.
    pub fn dirac_mass(&self, lambda_min: f64, lambda_max: f64) -> f64 {
        self.w(lambda_max) / self.w(lambda_min)
    }
}

/// log(k + e^λ) for k ≥ 0.
fn log_k_plus_exp(k: f64, lambda: f64) -> f64 {
    if k == 0.0 {
        lambda
    } else {
        logaddexp(k.ln(), lambda)
    }
}

/// (key, default, description) of the parameters a named weighting takes; `None` if unknown.
fn param_infos(name: &str) -> Option<Vec<(&'static str, f64, &'static str)>> {
    Some(match name {
        "elbo" | "iddpm" | "edm" | "v-cosine" | "fm-ot" | "indi" | "edm-monotonic" | "low-bit"
        | "expr" => vec![],
        "p2" => vec![
            ("gamma", 1.0, "exponent γ (0.5 or 1 in Choi et al.)"),
            ("k", 1.0, "offset k (1 in Choi et al.)"),
        ],
        "min-snr" => vec![("gamma", 5.0, "SNR clip γ")],
        "sigmoid" => vec![("k", 2.0, "shift k of sigmoid(-λ + k)")],
        _ => return None,
    })
}

/// Catalog entry of a weighting for the page and the CLI.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WeightingInfo {
    pub name: String,
    pub label: String,
    /// KaTeX for w(λ).
    pub latex: String,
    /// The loss it comes from (Table 1 / Sec. 5.1 / App. I).
    pub source: String,
    pub params: Vec<ParamInfo>,
    /// Monotone non-increasing on λ ∈ [-20, 20] at the default parameters, computed by
    /// [`Weighting::is_monotonic`] (None for `expr`, which has no default formula).
    pub monotonic: Option<bool>,
}

/// All weightings, with Table 1's monotonic column computed, not copied.
pub fn weighting_catalog() -> Vec<WeightingInfo> {
    let rows: [(&str, &str, &str, &str); 12] = [
        (
            "elbo",
            "ELBO",
            "1",
            "ELBO (Kingma et al. 2021; Song et al. 2021)",
        ),
        (
            "iddpm",
            "IDDPM",
            r"\operatorname{sech}(\lambda/2)",
            "ε-prediction MSE with the cosine schedule (Nichol & Dhariwal 2021)",
        ),
        (
            "edm",
            "EDM",
            r"\mathcal{N}(\lambda; 2.4, 2.4^2)\,(e^{-\lambda} + 0.5^2)",
            "EDM loss with its training schedule (Karras et al. 2022; App. D.1)",
        ),
        (
            "v-cosine",
            "v-prediction, cosine",
            r"e^{-\lambda/2}",
            "v-prediction MSE with the cosine schedule (Salimans & Ho 2022; App. D.2)",
        ),
        (
            "fm-ot",
            "Flow matching (OT)",
            r"e^{-\lambda/2}",
            "conditional flow matching with the OT path (Lipman et al. 2022; App. D.3)",
        ),
        (
            "indi",
            "InDI",
            r"e^{-\lambda}\operatorname{sech}^2(\lambda/4)",
            "x-prediction MSE with the FM-OT schedule (Delbracio & Milanfar 2023; App. D.4)",
        ),
        (
            "p2",
            "P2",
            r"\operatorname{sech}(\lambda/2)/(k + e^{\lambda})^{\gamma}",
            "P2 weighting with the cosine schedule (Choi et al. 2022; App. D.5)",
        ),
        (
            "min-snr",
            "Min-SNR-γ",
            r"\operatorname{sech}(\lambda/2)\,\min(1, \gamma e^{-\lambda})",
            "Min-SNR-γ x-loss with the cosine schedule (Hang et al. 2023; App. D.6)",
        ),
        (
            "sigmoid",
            "Sigmoid",
            r"\operatorname{sigmoid}(-\lambda + k)",
            "VDM++ monotonic weighting (Sec. 5.1)",
        ),
        (
            "edm-monotonic",
            "EDM-monotonic",
            r"\mathcal{N}(\lambda; 2.4, 2.4^2)(e^{-\lambda} + 0.5^2),\ \text{flat left of its peak}",
            "VDM++ monotonic version of EDM (Sec. 5.1)",
        ),
        (
            "low-bit",
            "5-bit-like",
            r"\Phi(-2(\lambda - 8.4))",
            "emulates 5-bit training on 8-bit data (App. I, Eq. 146)",
        ),
        (
            "expr",
            "Custom expression",
            r"w(\lambda)",
            "your own formula",
        ),
    ];
    rows.iter()
        .map(|&(name, label, latex, source)| {
            let params = param_infos(name)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, d, text)| ParamInfo::new(k, d, text))
                .collect();
            let monotonic = Weighting::new(name, &BTreeMap::new(), None)
                .ok()
                .map(|w| w.is_monotonic(-20.0, 20.0));
            WeightingInfo {
                name: name.into(),
                label: label.into(),
                latex: latex.into(),
                source: source.into(),
                params,
                monotonic,
            }
        })
        .collect()
}

/// A per-λ factor that a loss applies on top of the target's MSE (App. D.5, D.6, Eq. 4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossMultiplier {
    /// Plain MSE.
    None,
    /// P2 (Eq. 92): 1/(k + e^λ)^γ on the ε-loss.
    P2 { gamma: f64, k: f64 },
    /// Min-SNR-γ (Eq. 93): min(e^λ, γ) on the x-loss.
    MinSnr { gamma: f64 },
    /// The ELBO's -dλ/dt (Eq. 4) = 1/p̃(λ) of the schedule in use.
    Elbo,
}

/// Names accepted by [`LossMultiplier::from_name`].
pub const MULTIPLIER_NAMES: [&str; 4] = ["none", "p2", "min-snr", "elbo"];

impl LossMultiplier {
    pub fn from_name(name: &str, params: &BTreeMap<String, f64>) -> Result<Self, TheoryError> {
        let owner = format!("loss multiplier `{name}`");
        let keys: &[&'static str] = match name {
            "none" | "elbo" => &[],
            "p2" => &["gamma", "k"],
            "min-snr" => &["gamma"],
            _ => {
                return Err(TheoryError::UnknownName {
                    what: "loss multiplier",
                    name: name.to_string(),
                    accepted: MULTIPLIER_NAMES.join(", "),
                })
            }
        };
        let reader = ParamReader::new(&owner, params, keys)?;
        Ok(match name {
            "none" => Self::None,
            "elbo" => Self::Elbo,
            "p2" => Self::P2 {
                gamma: reader.get("gamma", 1.0, non_negative)?,
                k: reader.get("k", 1.0, non_negative)?,
            },
            _ => Self::MinSnr {
                gamma: reader.get("gamma", 5.0, positive)?,
            },
        })
    }

    /// log m(λ).
    pub fn log_m(&self, lambda: f64, schedule: &Schedule) -> f64 {
        match *self {
            Self::None => 0.0,
            Self::P2 { gamma, k } => -gamma * log_k_plus_exp(k, lambda),
            Self::MinSnr { gamma } => lambda.min(gamma.ln()),
            Self::Elbo => -schedule.log_p_lambda(lambda),
        }
    }
}

/// log of the weighting implied by "MSE on `target` × m(λ), with t ~ U(0, 1) under `schedule`",
/// up to an additive constant (a constant factor on w).
///
/// With t ~ U(0, 1): E_t[m(λ)‖target - target̂‖²] = ∫ p(λ) m(λ) ‖target - target̂‖² dλ
/// = ∫ p(λ) m(λ)/factor(λ) ‖ε - ε̂‖² dλ, so by Eq. 6, w(λ) ∝ p(λ)·m(λ)/factor(λ) with the factors
/// of Eq. 122–126 and 78. Nothing here is looked up from Table 1: the tests recover its rows.
pub fn implied_log_weighting(
    target: &Target,
    schedule: &Schedule,
    multiplier: &LossMultiplier,
    lambda: f64,
) -> f64 {
    if multiplier == &LossMultiplier::Elbo {
        // p·(1/p) = 1 exactly, also where p underflows; outside the range p = 0 and so is w.
        if lambda < schedule.lambda_min() || lambda > schedule.lambda_max() {
            return f64::NEG_INFINITY;
        }
        return -target.log_loss_factor(lambda);
    }
    schedule.log_p_lambda(lambda) + multiplier.log_m(lambda, schedule)
        - target.log_loss_factor(lambda)
}
