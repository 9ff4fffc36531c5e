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
