//! Front-end-neutral requests and responses shared by the CLI and the page: serde structs in,
//! serde structs out, every failure a [`TheoryError`] with a message a person can act on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::theory::error::{require_finite, require_lambda_range};
use crate::theory::identity::{self, elbo_closed_form, per_lambda_loss, EpsExpectation};
use crate::theory::lowbit;
use crate::theory::param::Target;
use crate::theory::schedule::{self, Schedule};
use crate::theory::weighting::{self, implied_log_weighting, LossMultiplier, Weighting};
use crate::theory::{Gmm, TheoryError};

pub use crate::theory::identity::{DensityTerms, IdentityTerms};
pub use crate::theory::params::ParamInfo;
pub use crate::theory::schedule::ScheduleInfo;
pub use crate::theory::weighting::WeightingInfo;

/// Most points a curve may have.
pub const MAX_POINTS: usize = 100_001;

/// An evenly spaced λ grid (or, for schedules, the truncation range plus a t grid size).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CurveRange {
    pub lambda_min: f64,
    pub lambda_max: f64,
    pub points: usize,
}

impl Default for CurveRange {
    /// λ ∈ [-20, 20] (the paper's range, App. H) with 401 points (spacing 0.1).
    fn default() -> Self {
        Self {
            lambda_min: -20.0,
            lambda_max: 20.0,
            points: 401,
        }
    }
}

impl CurveRange {
    /// Checks finite λ_min < λ_max and 2 ≤ points ≤ [`MAX_POINTS`].
    pub fn validate(&self) -> Result<(), TheoryError> {
        require_lambda_range(self.lambda_min, self.lambda_max)?;
        if self.points < 2 || self.points > MAX_POINTS {
            return Err(TheoryError::InvalidRange(format!(
                "a curve needs between 2 and {MAX_POINTS} points, got {}",
                self.points
            )));
        }
        Ok(())
    }

    /// The λ grid from λ_min to λ_max inclusive.
    pub fn lambdas(&self) -> Vec<f64> {
        grid(self.lambda_min, self.lambda_max, self.points)
    }
}

fn grid(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if i + 1 == n {
                b
            } else {
                a + (b - a) * i as f64 / (n - 1) as f64
            }
        })
        .collect()
}

/// A weighting by name, with parameters, and the formula for `expr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightingSpec {
    pub name: String,
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    #[serde(default)]
    pub expression: Option<String>,
}

impl WeightingSpec {
    pub fn build(&self) -> Result<Weighting, TheoryError> {
        Weighting::new(&self.name, &self.params, self.expression.as_deref())
    }
}

/// w(λ) on a grid, with Theorem 1's monotonicity on the grid's range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightingCurve {
    pub name: String,
    pub lambda: Vec<f64>,
    pub w: Vec<f64>,
    pub monotonic: bool,
}

/// w(λ) of a weighting on `range` (unnormalised). A user expression that is negative or not
/// finite somewhere on the grid is refused.
pub fn weighting_curve(
    spec: &WeightingSpec,
    range: &CurveRange,
) -> Result<WeightingCurve, TheoryError> {
    range.validate()?;
    let weighting = spec.build()?;
    weighting.validate_on(range.lambda_min, range.lambda_max, range.points)?;
    let lambda = range.lambdas();
    let w = lambda.iter().map(|&l| weighting.w(l)).collect();
    Ok(WeightingCurve {
        name: spec.name.clone(),
        monotonic: weighting.is_monotonic(range.lambda_min, range.lambda_max),
        lambda,
        w,
    })
}

/// A schedule by name with parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    pub name: String,
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
}

impl ScheduleSpec {
    pub fn build(&self, lambda_min: f64, lambda_max: f64) -> Result<Schedule, TheoryError> {
        Schedule::from_name(&self.name, &self.params, lambda_min, lambda_max)
    }
}

/// A truncated schedule sampled on a uniform t grid from 0 to 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleCurve {
    pub name: String,
    pub t: Vec<f64>,
    pub lambda: Vec<f64>,
    pub p_lambda: Vec<f64>,
}

/// λ(t) and p(λ(t)) of the schedule truncated to [range.lambda_min, range.lambda_max], on
/// `range.points` evenly spaced t ∈ [0, 1].
pub fn schedule_curve(
    spec: &ScheduleSpec,
    range: &CurveRange,
) -> Result<ScheduleCurve, TheoryError> {
    range.validate()?;
    let schedule = spec.build(range.lambda_min, range.lambda_max)?;
    let t = grid(0.0, 1.0, range.points);
    let lambda: Vec<f64> = t.iter().map(|&t| schedule.lambda(t)).collect();
    let p_lambda = lambda.iter().map(|&l| schedule.p_lambda(l)).collect();
    Ok(ScheduleCurve {
        name: spec.name.clone(),
        t,
        lambda,
        p_lambda,
    })
}

fn parse_gmm_and_point(gmm_json: &str, x: &[f64]) -> Result<Gmm, TheoryError> {
    let gmm = Gmm::from_json(gmm_json)?;
    gmm.check_point(x)?;
    Ok(gmm)
}

/// Eq. 31's four terms for data point `x` of the mixture, under `w` on [λ_min, λ_max].
pub fn identity_terms(
    gmm_json: &str,
    x: &[f64],
    w: &WeightingSpec,
    lambda_min: f64,
    lambda_max: f64,
) -> Result<IdentityTerms, TheoryError> {
    require_lambda_range(lambda_min, lambda_max)?;
    let gmm = parse_gmm_and_point(gmm_json, x)?;
    let weighting = w.build()?;
    weighting.validate_on(lambda_min, lambda_max, CurveRange::default().points)?;
    let profile =
        identity::elbo_profile(&gmm, x, lambda_min, lambda_max, &weighting.breakpoints())?;
    identity::identity_terms(&profile, &weighting)
}

/// -ELBO(x) with its prior, reconstruction and diffusion terms, and -log q(x).
pub fn density_terms(
    gmm_json: &str,
    x: &[f64],
    lambda_min: f64,
    lambda_max: f64,
) -> Result<DensityTerms, TheoryError> {
    require_lambda_range(lambda_min, lambda_max)?;
    let gmm = parse_gmm_and_point(gmm_json, x)?;
    identity::density_terms(&gmm, x, lambda_min, lambda_max)
}

/// f(λ;x) and L(λ;x) of one data point on a λ grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElboCurve {
    pub lambda: Vec<f64>,
    /// f(λ;x) = E_ε‖ε - ε*(z_λ;λ)‖² (Eq. 6's integrand; dL/dλ = f/2, Eq. 9).
    pub f: Vec<f64>,
    /// L(λ;x) (Eq. 8) with the prior at range.lambda_min, from its closed form (marginal KL
    /// plus prior mismatch), which equals prior + ½∫f to quadrature accuracy.
    pub l: Vec<f64>,
}

/// The ELBO profile of `x` under the exact reverse process of the mixture, on `range`.
pub fn elbo_curve(gmm_json: &str, x: &[f64], range: &CurveRange) -> Result<ElboCurve, TheoryError> {
    range.validate()?;
    let gmm = parse_gmm_and_point(gmm_json, x)?;
    let expectation = EpsExpectation::new(&gmm);
    let lambda = range.lambdas();
    identity::check_budget(&gmm, &lambda, &expectation)?;
    let f = lambda
        .iter()
        .map(|&l| per_lambda_loss(&gmm, x, l, &expectation))
        .collect();
    let l = lambda
        .iter()
        .map(|&l| elbo_closed_form(&gmm, x, l, range.lambda_min, &expectation))
        .collect();
    Ok(ElboCurve { lambda, f, l })
}

/// A training loss described by what it predicts, its schedule and an optional multiplier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpliedSpec {
    /// eps, x, v, f, score or o.
    pub target: String,
    #[serde(default)]
    pub target_params: BTreeMap<String, f64>,
    pub schedule: ScheduleSpec,
    /// none (default), p2, min-snr or elbo.
    #[serde(default)]
    pub multiplier: Option<String>,
    #[serde(default)]
    pub multiplier_params: BTreeMap<String, f64>,
}

/// The weighting implied by a loss (App. D), scaled to a maximum of 1 on the grid (the constant
/// factor is arbitrary, as in Figure 3).
pub fn implied_weighting_curve(
    spec: &ImpliedSpec,
    range: &CurveRange,
) -> Result<WeightingCurve, TheoryError> {
    range.validate()?;
    let target = Target::from_name(&spec.target, &spec.target_params)?;
    let schedule = spec.schedule.build(range.lambda_min, range.lambda_max)?;
    let multiplier_name = spec.multiplier.as_deref().unwrap_or("none");
    let multiplier = LossMultiplier::from_name(multiplier_name, &spec.multiplier_params)?;
    let lambda = range.lambdas();
    let log_w: Vec<f64> = lambda
        .iter()
        .map(|&l| implied_log_weighting(&target, &schedule, &multiplier, l))
        .collect();
    let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return Err(TheoryError::Numerical(
            "the implied weighting is zero or infinite on the whole grid".into(),
        ));
    }
    let w: Vec<f64> = log_w.iter().map(|lw| (lw - top).exp()).collect();
    let monotonic = w
        .windows(2)
        .all(|p| p[1] <= p[0] * (1.0 + weighting::MONOTONIC_REL_TOL));
    Ok(WeightingCurve {
        name: format!("{}+{}+{}", spec.target, spec.schedule.name, multiplier_name),
        lambda,
        w,
        monotonic,
    })
}

/// App. I curves for bit depths 1..=max_bits on a λ grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LowBitCurves {
    pub lambda: Vec<f64>,
    pub bits: Vec<u32>,
    /// `l[n-1][i]` = E_x L(λ_i;x) (nats) for n bits.
    pub l: Vec<Vec<f64>>,
    /// `dl[n-1][i]` = E_x dL/dλ at λ_i for n bits.
    pub dl: Vec<Vec<f64>>,
}

/// E_x[L(λ;x)] and E_x[dL/dλ] for uniform n-bit data, n = 1..=max_bits (at most
/// [`lowbit::MAX_BITS`]).
pub fn low_bit_curves(max_bits: u32, range: &CurveRange) -> Result<LowBitCurves, TheoryError> {
    range.validate()?;
    if max_bits == 0 || max_bits > lowbit::MAX_BITS {
        return Err(TheoryError::InvalidInput(format!(
            "max_bits must be between 1 and {}, got {max_bits}",
            lowbit::MAX_BITS
        )));
    }
    let lambda = range.lambdas();
    let mut out = LowBitCurves {
        lambda: lambda.clone(),
        bits: (1..=max_bits).collect(),
        l: Vec::new(),
        dl: Vec::new(),
    };
    for bits in 1..=max_bits {
        let (l, dl) = lowbit::low_bit_curve(bits, &lambda)?;
        out.l.push(l);
        out.dl.push(dl);
    }
    Ok(out)
}

/// Every weighting with its formula, origin, parameters and (computed) Table 1 monotonicity.
pub fn weighting_catalog() -> Vec<WeightingInfo> {
    weighting::weighting_catalog()
}

/// Every schedule with its formulas and parameters.
pub fn schedule_catalog() -> Vec<ScheduleInfo> {
    schedule::schedule_catalog()
}

/// Parses `KEY=VALUE` (VALUE a finite number).
pub fn parse_param(s: &str) -> Result<(String, f64), TheoryError> {
    let Some((key, value)) = s.split_once('=') else {
        return Err(TheoryError::InvalidInput(format!(
            "parameter `{s}` must look like KEY=VALUE, e.g. gamma=5"
        )));
    };
    let key = key.trim();
    let valid_key = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_key {
        return Err(TheoryError::InvalidInput(format!(
            "parameter `{s}` has no valid key; keys are names like gamma or sigma_data"
        )));
    }
    let value: f64 = value.trim().parse().map_err(|_| {
        TheoryError::InvalidInput(format!(
            "parameter `{s}`: `{}` is not a number",
            value.trim()
        ))
    })?;
    require_finite(&format!("parameter `{key}`"), value)?;
    Ok((key.to_string(), value))
}

/// Collects `KEY=VALUE` strings into a map, refusing a key given twice.
pub fn parse_params<S: AsRef<str>>(items: &[S]) -> Result<BTreeMap<String, f64>, TheoryError> {
    let mut out = BTreeMap::new();
    for item in items {
        let (key, value) = parse_param(item.as_ref())?;
        if out.insert(key.clone(), value).is_some() {
            return Err(TheoryError::InvalidInput(format!(
                "parameter `{key}` is given more than once"
            )));
        }
    }
    Ok(out)
}

/// Parses a point written as comma-separated numbers, e.g. `-1.5,0.3`.
pub fn parse_point(s: &str) -> Result<Vec<f64>, TheoryError> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.iter().all(|p| p.is_empty()) {
        return Err(TheoryError::InvalidInput(
            "the point is empty; write its coordinates separated by commas, e.g. -1.5,0.3".into(),
        ));
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let v: f64 = p.parse().map_err(|_| {
                TheoryError::InvalidInput(format!(
                    "coordinate {} of the point, `{p}`, is not a number; write numbers separated by commas, e.g. -1.5,0.3",
                    i + 1
                ))
            })?;
            require_finite(&format!("coordinate {} of the point", i + 1), v)
        })
        .collect()
}

pub use crate::theory::area::{AreaPicture, Strip};

/// Theorem 1's area picture (Eq. 28–31, App. B) for data point `x` of the mixture under `w` on
/// [λ_min, λ_max], with `strips` Riemann strips evenly spaced in λ; w is scaled to a maximum of 1.
pub fn area_picture(
    gmm_json: &str,
    x: &[f64],
    w: &WeightingSpec,
    lambda_min: f64,
    lambda_max: f64,
    strips: usize,
) -> Result<AreaPicture, TheoryError> {
    require_lambda_range(lambda_min, lambda_max)?;
    let gmm = parse_gmm_and_point(gmm_json, x)?;
    let weighting = w.build()?;
    crate::theory::area::area_picture(&gmm, x, &weighting, lambda_min, lambda_max, strips)
}

pub use crate::theory::losses::LossPreset;

/// The losses the implied-weighting widget offers, each with its Table 1 row.
pub fn loss_presets() -> Vec<LossPreset> {
    crate::theory::losses::loss_presets()
}

/// A loss's implied weighting (App. D) next to its Table 1 closed form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpliedComparison {
    pub loss: LossPreset,
    /// The training schedule used for the derivation (the loss's own unless overridden).
    pub schedule: String,
    pub lambda: Vec<f64>,
    /// Implied w(λ) ∝ p(λ)·m(λ)/factor(λ) (Eq. 6–7 with Eq. 122–126), scaled to max 1.
    pub implied: Vec<f64>,
    /// The Table 1 row's closed form, scaled to max 1.
    pub table: Vec<f64>,
    /// max - min over the grid of log(implied/table): 0 when the two are proportional.
    pub log_ratio_spread: f64,
    pub implied_monotonic: bool,
    pub table_monotonic: bool,
}

/// Derives the weighting implied by loss preset `loss` trained with `schedule` (its own schedule
/// when `None`), with `gamma` the γ of P2 / Min-SNR (default: the preset's), and compares it with
/// the Table 1 row on `range`.
pub fn implied_comparison(
    loss: &str,
    schedule: Option<&str>,
    gamma: Option<f64>,
    range: &CurveRange,
) -> Result<ImpliedComparison, TheoryError> {
    range.validate()?;
    let presets = loss_presets();
    let mut preset = presets
        .iter()
        .find(|p| p.name == loss)
        .cloned()
        .ok_or_else(|| TheoryError::UnknownName {
            what: "loss",
            name: loss.to_string(),
            accepted: presets
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if let Some(gamma) = gamma {
        require_finite("γ", gamma)?;
        if preset.multiplier_params.contains_key("gamma") {
            preset.multiplier_params.insert("gamma".into(), gamma);
        }
    }
    let schedule_name = schedule.unwrap_or(&preset.schedule).to_string();
    let implied_spec = ImpliedSpec {
        target: preset.target.clone(),
        target_params: preset.target_params.clone(),
        schedule: ScheduleSpec {
            name: schedule_name.clone(),
            params: BTreeMap::new(),
        },
        multiplier: Some(preset.multiplier.clone()),
        multiplier_params: preset.multiplier_params.clone(),
    };
    let implied = implied_weighting_curve(&implied_spec, range)?;
    let table_spec = WeightingSpec {
        name: preset.table_weighting.clone(),
        params: preset.multiplier_params.clone(),
        expression: None,
    };
    let table = weighting_curve(&table_spec, range)?;
    let top = table.w.iter().copied().fold(0.0f64, f64::max);
    if !(top > 0.0 && top.is_finite()) {
        return Err(TheoryError::Numerical(format!(
            "the Table 1 weighting `{}` vanishes on the range",
            preset.table_weighting
        )));
    }
    let table_w: Vec<f64> = table.w.iter().map(|w| w / top).collect();
    let (lo, hi) = implied
        .w
        .iter()
        .zip(&table_w)
        .filter(|(a, b)| **a > 1e-250 && **b > 1e-250)
        .map(|(a, b)| a.ln() - b.ln())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        });
    let log_ratio_spread = if hi >= lo { hi - lo } else { f64::INFINITY };
    Ok(ImpliedComparison {
        loss: preset,
        schedule: schedule_name,
        lambda: implied.lambda,
        implied: implied.w,
        table: table_w,
        log_ratio_spread,
        implied_monotonic: implied.monotonic,
        table_monotonic: table.monotonic,
    })
}

pub use crate::theory::estimator::{EstimatorReport, LossMoments, ProposalResult};

/// Sec. 3.2's estimator experiment for data point `x` of the mixture under `w` on [λ_min, λ_max]:
/// every schedule, the adaptive one (App. F) and the optimal one, with exact variances and
/// `samples`-sample Monte Carlo estimates from `seed`.
pub fn estimator_report(
    gmm_json: &str,
    x: &[f64],
    w: &WeightingSpec,
    lambda_min: f64,
    lambda_max: f64,
    samples: usize,
    seed: u64,
) -> Result<EstimatorReport, TheoryError> {
    require_lambda_range(lambda_min, lambda_max)?;
    let gmm = parse_gmm_and_point(gmm_json, x)?;
    let weighting = w.build()?;
    crate::theory::estimator::estimator_report(
        &gmm, x, &weighting, lambda_min, lambda_max, samples, seed,
    )
}

/// The per-λ loss moments behind [`estimator_report`] for data point `x` of the mixture (the
/// costly part, independent of the weighting, sample count and seed).
pub fn loss_moments(
    gmm_json: &str,
    x: &[f64],
    lambda_min: f64,
    lambda_max: f64,
) -> Result<LossMoments, TheoryError> {
    let gmm = parse_gmm_and_point(gmm_json, x)?;
    LossMoments::new(&gmm, x, lambda_min, lambda_max)
}

/// [`estimator_report`] from moments computed by [`loss_moments`].
pub fn estimator_report_from(
    moments: &LossMoments,
    w: &WeightingSpec,
    samples: usize,
    seed: u64,
) -> Result<EstimatorReport, TheoryError> {
    crate::theory::estimator::estimator_report_from(moments, &w.build()?, samples, seed)
}

pub use crate::theory::augment::AugmentationReport;

/// Theorem 1 as data augmentation for data point `x` of the mixture under a monotone `w` on
/// [λ_min, λ_max]: the weighted loss beside the expected negative log-likelihood of augmented
/// data, with `samples` augmented samples from `seed`.
pub fn augmentation_report(
    gmm_json: &str,
    x: &[f64],
    w: &WeightingSpec,
    lambda_min: f64,
    lambda_max: f64,
    samples: usize,
    seed: u64,
) -> Result<AugmentationReport, TheoryError> {
    require_lambda_range(lambda_min, lambda_max)?;
    let gmm = parse_gmm_and_point(gmm_json, x)?;
    let weighting = w.build()?;
    crate::theory::augment::augmentation_report(
        &gmm, x, &weighting, lambda_min, lambda_max, samples, seed,
    )
}

pub use crate::theory::klfisher::KlFisherCurve;

/// App. G, Eq. 138 for data point `x` and the mixture as the model, on [λ_min, λ_max].
pub fn kl_fisher_curve(
    gmm_json: &str,
    x: &[f64],
    lambda_min: f64,
    lambda_max: f64,
) -> Result<KlFisherCurve, TheoryError> {
    require_lambda_range(lambda_min, lambda_max)?;
    let gmm = parse_gmm_and_point(gmm_json, x)?;
    crate::theory::klfisher::kl_fisher_curve(&gmm, x, lambda_min, lambda_max)
}

/// Fig. 5 (App. I) for the explainer: E_x[dL/dλ] of uniform n-bit data for n = 1..=max_bits, where
/// each added bit lives along λ, the information each carries, and the 5-bit-like weighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LowBitPicture {
    pub lambda: Vec<f64>,
    pub bits: Vec<u32>,
    /// `dl[n-1][i]` = E_x dL/dλ (nats per unit λ) at λ_i for n bits.
    pub dl: Vec<Vec<f64>>,
    /// `bit_density[n-1][i]` = (dl_n - dl_{n-1})/ln 2 (bits per unit λ): where bit n lives
    /// (bit 1: dl_1/ln 2).
    pub bit_density: Vec<Vec<f64>>,
    /// ∫ bit_density[n-1] dλ over the range by composite Gauss–Legendre: 1 bit each (App. I).
    pub bit_information: Vec<f64>,
    /// The 5-bit-like weighting Φ(-2(λ - 8.4)) (Eq. 146) on the grid.
    pub low_bit_w: Vec<f64>,
}

/// [`LowBitPicture`] on `range` for 1..=max_bits bits (at most 8).
pub fn low_bit_picture(max_bits: u32, range: &CurveRange) -> Result<LowBitPicture, TheoryError> {
    if max_bits == 0 || max_bits > 8 {
        return Err(TheoryError::InvalidInput(format!(
            "the number of bits must be between 1 and 8, got {max_bits}"
        )));
    }
    let curves = low_bit_curves(max_bits, range)?;
    let rule = crate::theory::quadrature::CompositeRule::new(
        range.lambda_min,
        range.lambda_max,
        &[],
        1.0,
        10,
    )?;
    let mut totals = Vec::new();
    for bits in 1..=max_bits {
        let (_, dl) = lowbit::low_bit_curve(bits, &rule.nodes)?;
        totals.push(rule.integrate_values(&dl));
    }
    let ln2 = std::f64::consts::LN_2;
    let bit_information = (0..totals.len())
        .map(|n| (totals[n] - if n == 0 { 0.0 } else { totals[n - 1] }) / ln2)
        .collect();
    let bit_density = (0..curves.dl.len())
        .map(|n| {
            curves.dl[n]
                .iter()
                .enumerate()
                .map(|(i, v)| (v - if n == 0 { 0.0 } else { curves.dl[n - 1][i] }) / ln2)
                .collect()
        })
        .collect();
    let w = Weighting::new("low-bit", &BTreeMap::new(), None)?;
    let low_bit_w = curves.lambda.iter().map(|&l| w.w(l)).collect();
    Ok(LowBitPicture {
        lambda: curves.lambda,
        bits: curves.bits,
        dl: curves.dl,
        bit_density,
        bit_information,
        low_bit_w,
    })
}

/// A trained model's per-λ loss as the page keeps it for the explainer: the trainer's histogram
/// of f(λ) = E‖ε − ε̂‖² (standardised data space), `None` for bins not yet sampled, and the
/// prior term E_x KL(q(z_λmin|x) ‖ N(0, I)) over the training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedLoss {
    pub lambda_min: f64,
    pub lambda_max: f64,
    pub bins: Vec<Option<f64>>,
    pub prior: f64,
    /// What was trained, for the page's caption.
    pub dataset: String,
    pub weighting: String,
    pub step: u64,
}

impl TrainedLoss {
    /// E_x of the prior KL (Eq. 29) over standardised points: KL is linear in ‖x‖².
    pub fn mean_prior(points: &[[f64; 2]], lambda_min: f64) -> f64 {
        let n = points.len().max(1) as f64;
        points
            .iter()
            .map(|p| crate::theory::identity::prior_kl(p, lambda_min))
            .sum::<f64>()
            / n
    }
}

/// Theorem 1's area picture for a trained model, from its per-λ loss averaged over the data,
/// under `w` on the training range with `strips` Riemann strips.
pub fn area_picture_from_loss(
    loss: &TrainedLoss,
    w: &WeightingSpec,
    strips: usize,
) -> Result<AreaPicture, TheoryError> {
    let bins: Vec<f64> = loss.bins.iter().map(|b| b.unwrap_or(f64::NAN)).collect();
    let table = crate::theory::area::TabulatedLoss::new(
        loss.lambda_min,
        loss.lambda_max,
        &bins,
        loss.prior,
    )?;
    crate::theory::area::area_picture_from_loss(&table, &w.build()?, strips)
}
